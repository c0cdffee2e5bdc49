#!/usr/bin/env python3
"""DCP checkpoints between torch/torchrec and tzrec, both ways, with the real
torch 2.12, torchrec 1.7 and fbgemm (run with scripts/venv.sh's python; CTest
does, with TZREC_BINARY set and the repository root as cwd).

- torch -> tzrec: tests/dcp/torchrec_checkpoint.py trains TorchEasyRec's
  models (tests/dcp/<model>.config) sharded over 1-4 gloo processes and saves
  model/ and optimizer/ as TorchEasyRec does. `tzrec export` (QUANT_EMB=0)
  reads each checkpoint: every embedding table of the scripted model equals
  torch's full table bit for bit, and the scripted outputs equal torch's
  forward on the same checkpoint within 1e-6.
- resume: `tzrec train_eval --continue_train` from a torch-written checkpoint
  (model.ckpt-2, one process, fused Adagrad tables, dense Adam) takes the
  next step on the batch torch took it on (a one-batch CSV): the model and
  optimizer state of tzrec's model.ckpt-3 equal torch's after that step
  within 1e-6, so the optimizer state was restored (a control run with
  --ignore_restore_optimizer must differ).
- tzrec -> torch: `tzrec train_eval` writes a checkpoint; it has exactly the
  Python model's keys and shapes, tzrec's export computes the Python forward
  within 1e-6, and torchrec dcp.loads model and optimizer into the sharded
  model in 1 and in 2 processes with the same values.

The torch side runs in this process: torchrec_checkpoint's workers are forked
from it (torch is imported once; OMP_NUM_THREADS=1 keeps the fork safe).
"""
import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import warnings

# One OpenMP thread, before torch loads: the parent forks torchrec workers
# after running torch ops, which is only safe without a started thread pool.
os.environ["OMP_NUM_THREADS"] = "1"

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DCP_DIR = os.path.join(REPO, "tests", "dcp")
sys.path.insert(0, DCP_DIR)

import torchrec_checkpoint as tc  # noqa: E402  (imports torch, torchrec, fbgemm quietly)
import torch  # noqa: E402

TZREC = os.environ.get("TZREC_BINARY", os.path.join(REPO, "build", "tzrec"))

STEPS = 3   # torch trains 3 steps and saves model.ckpt-2

# torch -> tzrec: (model, world_size, sharding, extra torchrec_checkpoint args).
# deepfm covers every sharding in 1-4 processes; table_row_wise runs on two
# simulated hosts of two ranks, so each table's row blocks stay on one host.
# The first case also records step 3 for the resume test.
RESUME_CASE = ("deepfm", 1, "table_wise", ("--record_next_step",))
TORCH_CASES = [
    RESUME_CASE,
    ("deepfm", 2, "row_wise", ()),
    ("deepfm", 3, "column_wise", ()),
    ("deepfm", 2, "data_parallel", ()),
    ("deepfm", 4, "table_row_wise", ("--local_world_size", "2")),
    ("mmoe", 2, "column_wise", ()),     # BatchNorm experts; 8-wide tags table cut in 2
    ("mmoe", 3, "row_wise", ()),
    ("dssm", 2, "row_wise", ()),        # fused rowwise Adagrad (1-D momentum1)
    ("dssm", 2, "data_parallel", ()),   # tables replicated, updated by the dense Adam
]

# tzrec -> torch: the sharded layouts torchrec loads tzrec's checkpoint into,
# in 1 and in 2 processes.
TZREC_LOADS = {
    "deepfm": [(1, "table_wise"), (2, "row_wise")],
    "mmoe": [(1, "row_wise"), (2, "column_wise")],
    "dssm": [(1, "column_wise"), (2, "table_wise")],
}


def run(cmd, env_extra=None):
    env = dict(os.environ)
    env.update(env_extra or {})
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n"
                             f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def torch_main(*argv):
    """torchrec_checkpoint's command line, in this process (stdout kept quiet)."""
    with contextlib.redirect_stdout(io.StringIO()):
        tc.main([str(a) for a in argv])


def write_config(model, path, model_dir, train_input, eval_input=None, num_steps=None,
                 batch_size=None):
    """tests/dcp/<model>.config with its paths (and optionally the train
    step budget and batch size) set."""
    with open(os.path.join(DCP_DIR, f"{model}.config")) as f:
        text = f.read()
    text = text.replace("ROOT_DIR/model", model_dir)
    text = text.replace("ROOT_DIR/data/train.csv", train_input)
    text = text.replace("ROOT_DIR/data/eval.csv", eval_input or train_input)
    assert not re.search(r"^[^#]*ROOT_DIR", text, flags=re.M)
    if num_steps is not None:  # train_config's, the only indented num_steps line
        text, n = re.subn(r"^(\s+num_steps: )\d+", rf"\g<1>{num_steps}", text, count=1, flags=re.M)
        assert n == 1
    if batch_size is not None:
        text, n = re.subn(r"batch_size: \d+", f"batch_size: {batch_size}", text)
        assert n == 1
    with open(path, "w") as f:
        f.write(text)
    return path


def export(config, export_dir):
    run([TZREC, "export", "--pipeline_config_path", config, "--export_dir", export_dir],
        {"QUANT_EMB": "0"})


def scripted_models(model, export_dir):
    """(scripted module, prefix of its parameter names in the state dict)."""
    if model == "dssm":
        return [(torch.jit.load(os.path.join(export_dir, t, "scripted_model.pt")), "model.")
                for t in ("user", "item")]
    return [(torch.jit.load(os.path.join(export_dir, "scripted_model.pt")), "model.")]


def max_diff(a, b):
    return float((a.double() - b.double()).abs().max()) if a.numel() else 0.0


class TorchrecCheckpointsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # dcp.load without a process group says so once per call.
        warnings.filterwarnings("ignore", message=r"torch\.distributed is disabled")
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.load` is deprecated")
        torch.set_num_threads(1)
        cls.root = tempfile.mkdtemp(prefix="tzrec_torchrec_ckpt_")
        cls.data = {}
        cls.torch_ckpts = {}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def data_dir(self, model):
        """gen_data for `model`'s config, once (train_eval and export read it)."""
        if model not in self.data:
            root = os.path.join(self.root, f"data_{model}")
            os.makedirs(root)
            config = write_config(model, os.path.join(root, "gen.config"),
                                  os.path.join(root, "unused"), os.path.join(root, "train.csv"))
            run([TZREC, "gen_data", "--pipeline_config_path", config, "--output_dir", root,
                 "--num_rows", "100"])
            self.data[model] = root
        return self.data[model]

    def torch_checkpoint(self, case):
        """torchrec_checkpoint.py's model_dir for `case` (written once)."""
        if case not in self.torch_ckpts:
            model, world_size, sharding, extra = case
            out = os.path.join(self.root, f"torch_{model}_{sharding}_{world_size}")
            torch_main("--model", model, "--world_size", world_size, "--sharding", sharding,
                       "--steps", STEPS, "--out", out, *extra)
            self.torch_ckpts[case] = out
        return self.torch_ckpts[case]

    # ------------------------------------------------------------ torch -> tzrec
    def test_tzrec_exports_torch_checkpoints(self):
        for case in TORCH_CASES:
            model, world_size, sharding, _ = case
            with self.subTest(model=model, world_size=world_size, sharding=sharding):
                out = self.torch_checkpoint(case)
                ref = torch.load(os.path.join(out, "reference.pt"), weights_only=False)
                root = os.path.join(self.root, f"export_{model}_{sharding}_{world_size}")
                os.makedirs(root)
                data = self.data_dir(model)
                config = write_config(model, os.path.join(root, "pipeline.config"), out,
                                      os.path.join(data, "train.csv"),
                                      os.path.join(data, "eval.csv"))
                export_dir = os.path.join(root, "export")
                export(config, export_dir)

                # The FP32 export's tables are torch's, bit for bit.
                exported = {}
                got = {}
                for m, prefix in scripted_models(model, export_dir):
                    for name, p in m.named_parameters():
                        exported[prefix + name] = p.detach()
                    m.eval()
                    with torch.no_grad():
                        got.update(m(ref["inputs"]))
                self.assertEqual(sorted(k for k in exported if ".embedding_bags." in k),
                                 sorted(ref["tables"]))
                for key, table in ref["tables"].items():
                    torch.testing.assert_close(exported[key], table, rtol=0, atol=0,
                                               msg=lambda m, k=key: f"{k}: {m}")
                # ...and so are the dense weights (the export keeps fp32).
                for key, value in exported.items():
                    torch.testing.assert_close(value, ref["state"][key], rtol=0, atol=0,
                                               msg=lambda m, k=key: f"{k}: {m}")
                # Its outputs are torch's forward on the same checkpoint (dssm's
                # towers export their embeddings, not the similarity).
                self.assertTrue(got)
                self.assertLessEqual(set(got), set(ref["outputs"]))
                for key, value in got.items():
                    torch.testing.assert_close(value, ref["outputs"][key], rtol=0, atol=1e-6,
                                               msg=lambda m, k=key: f"{k}: {m}")

    # ------------------------------------------------------------------ resume
    def test_tzrec_resumes_torch_checkpoint(self):
        out = self.torch_checkpoint(RESUME_CASE)
        ref = torch.load(os.path.join(out, "reference.pt"), weights_only=False)
        after = ref["after_step"]
        csv = os.path.join(out, after["csv"])
        ckpt = f"model.ckpt-{STEPS - 1}"

        def resume(name, *flags):
            """train_eval --continue_train from a copy of torch's model.ckpt-2,
            one step (step 3) on the recorded batch; tzrec's model.ckpt-3."""
            root = os.path.join(self.root, name)
            model_dir = os.path.join(root, "model")
            shutil.copytree(os.path.join(out, ckpt), os.path.join(model_dir, ckpt))
            config = write_config("deepfm", os.path.join(root, "pipeline.config"), model_dir,
                                  csv, csv, num_steps=STEPS + 1, batch_size=after["rows"])
            result = run([TZREC, "train_eval", "--pipeline_config_path", config,
                          "--continue_train", *flags])
            log = result.stdout + result.stderr
            self.assertIn(f"continuing from {os.path.join(model_dir, ckpt)} at step {STEPS}", log)
            loss = re.search(rf"training finished at step {STEPS} \(loss ([-0-9.]+)\)", log)
            self.assertIsNotNone(loss, log[-2000:])
            saved = os.path.join(model_dir, f"model.ckpt-{STEPS}")
            return (float(loss.group(1)), tc.read_dcp_full(os.path.join(saved, "model")),
                    tc.read_dcp_full(os.path.join(saved, "optimizer")))

        loss, state, optimizer = resume("resume")
        # The step's loss (logged with 5 decimals) is torch's.
        self.assertAlmostEqual(loss, after["loss"], delta=1e-5)
        self.assertEqual(sorted(state), sorted(after["state"]))
        for key, value in after["state"].items():
            # The step moved every tensor (the check is not vacuous)...
            self.assertGreater(max_diff(value, ref["state"][key]), 1e-3, key)
            # ...and tzrec moved it the same way.
            torch.testing.assert_close(state[key], value, rtol=0, atol=1e-6,
                                       msg=lambda m, k=key: f"{k}: {m}")
        # The optimizer states after the step: Adam's step counts exactly;
        # moments and accumulators (1e-13..1e-2) within 1e-4 of each tensor's
        # largest value (float rounding of the gradients; measured <= 1e-5).
        # A state that was not restored is off by its whole history.
        self.assertEqual(sorted(optimizer), sorted(after["optimizer"]))
        for key, value in after["optimizer"].items():
            if key.endswith(".step"):
                self.assertTrue(torch.equal(optimizer[key], value), key)
                continue
            scale = float(value.abs().max())
            self.assertGreater(scale, 0, key)
            self.assertLessEqual(max_diff(optimizer[key], value), 1e-4 * scale, key)

        # Control: without the optimizer state the same step lands elsewhere.
        _, fresh, _ = resume("resume_fresh_optimizer", "--ignore_restore_optimizer")
        for key, value in after["state"].items():
            self.assertGreater(max_diff(fresh[key], value), 1e-3, key)  # measured >= 0.013

    # ------------------------------------------------------------ tzrec -> torch
    def test_torch_reads_tzrec_checkpoints(self):
        for model, loads in TZREC_LOADS.items():
            with self.subTest(model=model):
                root = os.path.join(self.root, "tzrec_" + model)
                os.makedirs(root)
                data = self.data_dir(model)
                model_dir = os.path.join(root, "model")
                config = write_config(model, os.path.join(root, "pipeline.config"), model_dir,
                                      os.path.join(data, "train.csv"),
                                      os.path.join(data, "eval.csv"))
                run([TZREC, "train_eval", "--pipeline_config_path", config])
                export_dir = os.path.join(root, "export")
                export(config, export_dir)
                ckpt = os.path.join(model_dir, f"model.ckpt-{STEPS - 1}")
                ok, report = tc.compare_tzrec(model, os.path.join(ckpt, "model"), export_dir)
                self.assertTrue(ok, "\n".join(report))

                saved = tc.read_dcp_full(os.path.join(ckpt, "model"))
                saved_optim = tc.read_dcp_full(os.path.join(ckpt, "optimizer"))
                plain = tc.forward_outputs(
                    tc.load_unsharded(model, os.path.join(ckpt, "model")), model, 1)
                for world_size, sharding in loads:
                    with self.subTest(world_size=world_size, sharding=sharding):
                        dump = os.path.join(root, f"loaded_{sharding}_{world_size}.pt")
                        torch_main("--model", model, "--load", ckpt, "--world_size", world_size,
                                   "--sharding", sharding, "--dump", dump)
                        loaded = torch.load(dump, weights_only=False)
                        for module_plan in loaded["plan"].values():
                            for table, ps in module_plan.items():
                                self.assertEqual(ps["sharding_type"], sharding, table)
                        self.assertEqual(sorted(saved), sorted(loaded["model"]))
                        for key, value in saved.items():
                            self.assertTrue(torch.equal(value, loaded["model"][key]), key)
                        self.assertEqual(loaded["optimizer_skipped"], [])
                        self.assertTrue(loaded["optimizer"])
                        for key, value in loaded["optimizer"].items():
                            self.assertTrue(torch.equal(value, saved_optim[key]), key)
                        for key, value in plain.items():
                            torch.testing.assert_close(loaded["outputs"][key], value,
                                                       rtol=1e-5, atol=1e-6)


if __name__ == "__main__":
    unittest.main()
