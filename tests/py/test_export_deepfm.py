#!/usr/bin/env python3
"""End to end: train a tiny DeepFM with tzrec, export it, and check the export
with stock PyTorch (torch.jit.load), as a serving system would use it.

Run with /usr/bin/python3 (Debian's python3-torch); TZREC_BINARY names the
tzrec binary. Skipped while tzrec has no train_eval subcommand.
"""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import torch

from tzrec_cli import SMALL_DEEPFM_MODEL, TZREC, load_dcp, random_inputs, run, small_config_head

CONFIG = small_config_head('label', 64, tags_dim=8, data_extra='') + SMALL_DEEPFM_MODEL

SPARSE = {"user_id": 50, "item_id": 40, "tags": 30}
DENSE = ["age", "price"]
USER_FEATURES = {"user_id", "age"}




def make_inputs(batch_size, seed):
    return random_inputs(SPARSE, DENSE, batch_size, seed)



def embedding_bag_batches(model, inputs):
    """The number of bags (offsets) of every embedding bag the model runs."""
    with torch.profiler.profile(record_shapes=True) as prof:
        model(inputs)
    batches = [event.input_shapes[2][0] for event in prof.events()
               if "embedding_bag" in event.name and len(event.input_shapes) > 2
               and len(event.input_shapes[2]) == 1]
    if not batches:
        raise AssertionError("no embedding bag in the profile: "
                             + ", ".join(sorted({e.name for e in prof.events()})))
    return batches

class ExportDeepFMTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        help_text = run(["--help"], check=False).stdout + run(["--help"], check=False).stderr
        if "train_eval" not in help_text:
            raise unittest.SkipTest("tzrec has no train_eval subcommand yet")
        cls.root = tempfile.mkdtemp(prefix="tzrec_export_py_")
        cls.config_path = os.path.join(cls.root, "pipeline.config")
        with open(cls.config_path, "w") as f:
            f.write(CONFIG.format(root=cls.root))
        run(["gen_data", "--pipeline_config_path", cls.config_path,
             "--output_dir", os.path.join(cls.root, "data"), "--num_rows", "1000", "--seed", "3"])
        run(["train_eval", "--pipeline_config_path", cls.config_path])
        cls.exports = {}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def export(self, name, env=None, extra=()):
        if name not in self.exports:
            export_dir = os.path.join(self.root, "export_" + name)
            run(["export", "--pipeline_config_path", self.config_path,
                 "--export_dir", export_dir] + list(extra), env_extra=env)
            self.exports[name] = export_dir
        return self.exports[name]

    def load(self, export_dir):
        model = torch.jit.load(os.path.join(export_dir, "scripted_model.pt"))
        model.eval()
        return model

    def latest_checkpoint(self):
        model_dir = os.path.join(self.root, "model")
        steps = [int(d.split("-")[-1]) for d in os.listdir(model_dir)
                 if d.startswith("model.ckpt-")]
        return os.path.join(model_dir, f"model.ckpt-{max(steps)}")

    def test_fp32_export_runs_in_stock_pytorch(self):
        export_dir = self.export("fp32", {"QUANT_EMB": "0"})
        for name in ["scripted_model.pt", "pipeline.config", "fg.json", "model_acc.json"]:
            self.assertTrue(os.path.isfile(os.path.join(export_dir, name)), name)
        model = self.load(export_dir)
        out = model(make_inputs(16, seed=1))
        self.assertEqual(set(out.keys()), {"logits", "probs"})
        self.assertEqual(tuple(out["logits"].shape), (16,))
        torch.testing.assert_close(out["probs"], torch.sigmoid(out["logits"]))
        # Deterministic: the same request gives the same answer.
        torch.testing.assert_close(model(make_inputs(16, seed=1))["logits"], out["logits"])

    def test_fp32_export_holds_the_checkpoint_tensors(self):
        export_dir = self.export("fp32", {"QUANT_EMB": "0"})
        model = self.load(export_dir)
        params = {"model." + k: v for k, v in model.named_parameters()}
        self.assertTrue(any("embedding_bags" in k for k in params), list(params))
        # A served model is not trained: no gradient bookkeeping at inference.
        self.assertFalse(any(v.requires_grad for v in params.values()))
        ckpt_dir = os.path.join(self.latest_checkpoint(), "model")
        state = load_dcp(ckpt_dir)
        self.assertTrue(state, f"no tensors read from {ckpt_dir}")
        for name, value in params.items():
            self.assertIn(name, state)
            torch.testing.assert_close(value.detach(), state[name], rtol=0, atol=1e-6)

    def test_artifacts_follow_upstream_formats(self):
        export_dir = self.export("fp32", {"QUANT_EMB": "0"})
        with open(os.path.join(export_dir, "model_acc.json")) as f:
            text = f.read()
        self.assertEqual(json.loads(text), {"SPARSE_INT64": "1", "QUANT_EMB": "0"})
        self.assertEqual(text, json.dumps(json.loads(text), indent=4))
        with open(os.path.join(export_dir, "fg.json")) as f:
            fg = json.load(f)
        self.assertEqual([x["feature_name"] for x in fg["features"]],
                         ["user_id", "age", "item_id", "tags", "price"])
        with open(os.path.join(export_dir, "pipeline.config")) as f:
            self.assertIn('feature_name: "tags"', f.read())

    def test_int8_export_is_close_to_fp32(self):
        fp32 = self.load(self.export("fp32", {"QUANT_EMB": "0"}))
        int8_dir = self.export("int8")  # QUANT_EMB unset: INT8
        int8 = self.load(int8_dir)
        self.assertIn("embedding_bag_byte_rowwise_offsets", int8.code + "".join(
            m.code for _, m in int8.named_modules() if hasattr(m, "code")))
        inputs = make_inputs(32, seed=2)
        torch.testing.assert_close(int8(inputs)["probs"], fp32(inputs)["probs"],
                                   rtol=0, atol=2e-2)
        with open(os.path.join(int8_dir, "model_acc.json")) as f:
            self.assertEqual(json.load(f), {"SPARSE_INT64": "1"})

    def test_int4_and_int2_exports_load(self):
        inputs = make_inputs(8, seed=4)
        for dtype in ["INT4", "INT2"]:
            model = self.load(self.export(dtype.lower(), {"QUANT_EMB": dtype}))
            out = model(inputs)
            self.assertEqual(tuple(out["probs"].shape), (8,))
            self.assertTrue(torch.all((out["probs"] >= 0) & (out["probs"] <= 1)))

    def test_input_tile_matches_the_untiled_model(self):
        fp32 = self.load(self.export("fp32", {"QUANT_EMB": "0"}))
        for mode in ["2", "3"]:
            export_dir = self.export("tile" + mode, {"QUANT_EMB": "0", "INPUT_TILE": mode})
            with open(os.path.join(export_dir, "model_acc.json")) as f:
                self.assertEqual(json.load(f)["INPUT_TILE"], mode)
            tiled_model = self.load(export_dir)
            batch = 12
            full = make_inputs(batch, seed=5)
            # One user's features, repeated for every candidate item.
            request = dict(full)
            request["user_id.values"] = full["user_id.values"][:1]
            request["user_id.lengths"] = full["user_id.lengths"][:1]
            request["age.values"] = full["age.values"][:1]
            request["batch_size"] = torch.tensor([batch])
            expected_inputs = dict(full)
            expected_inputs["user_id.values"] = request["user_id.values"].repeat(batch)
            expected_inputs["user_id.lengths"] = request["user_id.lengths"].repeat(batch)
            expected_inputs["age.values"] = request["age.values"].repeat(batch, 1)
            torch.testing.assert_close(tiled_model(request)["probs"],
                                       fp32(expected_inputs)["probs"], rtol=0, atol=1e-6)
            # Mode 3 looks the user up once (bags over one row's offsets);
            # mode 2 looks it up for every candidate.
            self.assertEqual(min(embedding_bag_batches(tiled_model, request)),
                             1 if mode == "3" else batch)

    def test_best_exporter_and_additional_config(self):
        export_dir = self.export(
            "extra", {"QUANT_EMB": "0"},
            ["--additional_export_config", '{"cand_seq_pk": "cand_seq"}',
             "--checkpoint_path", self.latest_checkpoint()])
        with open(os.path.join(export_dir, "model_acc.json")) as f:
            self.assertEqual(json.load(f),
                             {"SPARSE_INT64": "1", "QUANT_EMB": "0", "cand_seq_pk": "cand_seq"})

    def test_killed_export_leaves_no_export_dir(self):
        export_dir = os.path.join(self.root, "killed")
        proc = subprocess.Popen([TZREC, "export", "--pipeline_config_path", self.config_path,
                                 "--export_dir", export_dir],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        staging = []
        deadline = time.time() + 60
        while not staging and proc.poll() is None and time.time() < deadline:
            staging = [n for n in os.listdir(self.root) if n.startswith("killed.tmp-")]
            time.sleep(0.001)
        proc.kill()
        proc.wait()
        self.assertTrue(staging, "the export ended before it was seen writing")
        self.assertFalse(os.path.exists(export_dir))
        # The same export run again completes, with its manifest.
        run(["export", "--pipeline_config_path", self.config_path, "--export_dir", export_dir])
        with open(os.path.join(export_dir, "export_manifest.json")) as f:
            manifest = json.load(f)
        self.assertIn("scripted_model.pt", [entry["path"] for entry in manifest["files"]])

    def test_existing_export_dir_is_refused(self):
        export_dir = self.export("fp32", {"QUANT_EMB": "0"})
        result = run(["export", "--pipeline_config_path", self.config_path,
                      "--export_dir", export_dir], check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(f"directory {export_dir} already exist.", result.stderr)


if __name__ == "__main__":
    unittest.main()
