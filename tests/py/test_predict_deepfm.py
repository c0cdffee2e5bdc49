#!/usr/bin/env python3
"""`tzrec predict` end to end, judged by stock PyTorch.

Trains a tiny DeepFM with tzrec (FG_NONE input from `tzrec gen_data`), exports
it in FP32, predicts from the checkpoint and from the export, and checks:
the two agree within 1e-6 (upstream's parity acceptance), rows keep the input
order, columns are the sorted outputs followed by the reserved columns, and
torch.jit.load of the exported scripted_model.pt on the same rows gives the
same probabilities. Also the error cases a user meets first.

Run with /usr/bin/python3 (Debian's python3-torch); TZREC_BINARY names the
tzrec binary. Skipped while tzrec has no train_eval subcommand.
"""
import os
import shutil
import tempfile
import unittest

import torch

from tzrec_cli import SMALL_DEEPFM_MODEL, read_csv, run, small_config_head

CONFIG = small_config_head('label', 64, tags_dim=8, data_extra='num_workers: 2') + SMALL_DEEPFM_MODEL

SPARSE = ["user_id", "item_id", "tags"]
DENSE = ["age", "price"]
ENCODED_SEP = "\x03"




def model_inputs(header, rows):
    """The scripted model's input dict for FG_NONE rows, built independently of tzrec."""
    col = {name: i for i, name in enumerate(header)}
    data = {}
    for name in SPARSE:
        ids, lengths = [], []
        for row in rows:
            cell = row[col[name]]
            values = [int(v) for v in cell.split(ENCODED_SEP)] if cell else []
            ids.extend(values)
            lengths.append(len(values))
        data[f"{name}.values"] = torch.tensor(ids, dtype=torch.int64)
        data[f"{name}.lengths"] = torch.tensor(lengths, dtype=torch.int64)
    for name in DENSE:
        data[f"{name}.values"] = torch.tensor(
            [[float(row[col[name]])] for row in rows], dtype=torch.float32)
    return data


class PredictDeepFMTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        help_text = run(["--help"], check=False).stdout + run(["--help"], check=False).stderr
        if "train_eval" not in help_text or "predict" not in help_text:
            raise unittest.SkipTest("tzrec has no train_eval / predict subcommand yet")
        cls.root = tempfile.mkdtemp(prefix="tzrec_predict_py_")
        cls.config_path = os.path.join(cls.root, "pipeline.config")
        with open(cls.config_path, "w") as f:
            f.write(CONFIG.format(root=cls.root))
        run(["gen_data", "--pipeline_config_path", cls.config_path,
             "--output_dir", os.path.join(cls.root, "data"), "--num_rows", "1500", "--seed", "5"])
        run(["train_eval", "--pipeline_config_path", cls.config_path])
        cls.export_dir = os.path.join(cls.root, "export")
        run(["export", "--pipeline_config_path", cls.config_path, "--export_dir", cls.export_dir],
            env_extra={"QUANT_EMB": "FP32"})
        cls.input_path = os.path.join(cls.root, "data", "eval.csv")
        cls.ckpt_out = os.path.join(cls.root, "out", "ckpt.csv")
        run(["predict", "--pipeline_config_path", cls.config_path,
             "--predict_input_path", cls.input_path, "--predict_output_path", cls.ckpt_out,
             "--reserved_columns", "label,user_id", "--batch_size", "23"])
        cls.export_out = os.path.join(cls.root, "out", "export.csv")
        run(["predict", "--scripted_model_path", cls.export_dir,
             "--predict_input_path", cls.input_path, "--predict_output_path", cls.export_out,
             "--reserved_columns", "label,user_id", "--predict_threads", "3"])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def test_columns_and_row_order(self):
        in_header, in_rows = read_csv(self.input_path)
        for path in [self.ckpt_out, self.export_out]:
            header, rows = read_csv(path)
            self.assertEqual(header, ["logits", "probs", "label", "user_id"])
            self.assertEqual(len(rows), len(in_rows))
            label, user = in_header.index("label"), in_header.index("user_id")
            self.assertEqual([r[2:] for r in rows], [[r[label], r[user]] for r in in_rows])

    def test_fp32_export_predicts_like_the_checkpoint(self):
        _, ckpt = read_csv(self.ckpt_out)
        _, export = read_csv(self.export_out)
        a = torch.tensor([[float(r[0]), float(r[1])] for r in ckpt], dtype=torch.float64)
        b = torch.tensor([[float(r[0]), float(r[1])] for r in export], dtype=torch.float64)
        self.assertLessEqual((a - b).abs().max().item(), 1e-6)
        self.assertGreater(len(set(r[1] for r in ckpt)), 10)  # trained, not constant

    def test_stock_pytorch_agrees_on_the_same_rows(self):
        in_header, in_rows = read_csv(self.input_path)
        model = torch.jit.load(os.path.join(self.export_dir, "scripted_model.pt"))
        model.eval()
        with torch.no_grad():
            out = model(model_inputs(in_header, in_rows))
        _, rows = read_csv(self.export_out)
        ours = torch.tensor([float(r[1]) for r in rows])
        # Our CSV holds the shortest text of each float32: it reads back exactly.
        torch.testing.assert_close(ours, out["probs"], rtol=0, atol=1e-6)
        torch.testing.assert_close(torch.tensor([float(r[0]) for r in rows]), out["logits"],
                                   rtol=0, atol=1e-6)

    def test_errors_are_one_line_and_leave_no_output(self):
        out_dir = os.path.join(self.root, "out")
        cases = [
            (["--scripted_model_path", self.export_dir,
              "--predict_output_path", self.export_out], "already exists"),
            (["--scripted_model_path", self.root,
              "--predict_output_path", os.path.join(out_dir, "e1.csv")], "has no scripted_model.pt"),
            (["--scripted_model_path", self.export_dir, "--reserved_columns", "nope",
              "--predict_output_path", os.path.join(out_dir, "e2.csv")],
             "reserved column 'nope' is missing"),
        ]
        before = sorted(os.listdir(out_dir))
        for args, message in cases:
            result = run(["predict", "--predict_input_path", self.input_path] + args, check=False)
            self.assertEqual(result.returncode, 1, result.stderr)
            last = result.stderr.rstrip("\n").split("\n")[-1]
            self.assertTrue(last.startswith("tzrec: error: "), result.stderr)
            self.assertIn(message, last)
        self.assertEqual(sorted(os.listdir(out_dir)), before)


if __name__ == "__main__":
    unittest.main()
