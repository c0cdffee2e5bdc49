#!/usr/bin/env python3
"""End to end on upstream's mmoe_taobao example: gen_data, train_eval and
export with tzrec, then check the multi-task export with stock PyTorch.

Run with /usr/bin/python3 (Debian's python3-torch); TZREC_BINARY names the
tzrec binary, TZREC_SHARED_DIR the fixtures folder.
"""
import json
import os
import shutil
import tempfile
import unittest

import torch

from tzrec_cli import run
SHARED = os.environ.get("TZREC_SHARED_DIR", "../shared")




def small_config(root):
    """mmoe_taobao with local CSV data, small batches and a few steps."""
    with open(os.path.join(SHARED, "upstream", "mmoe_taobao", "pipeline.config")) as f:
        text = f.read()
    replacements = [
        ("odps://{PROJECT}/tables/taobao_multitask_sample_v1_train", f"{root}/data/train.csv"),
        ("odps://{PROJECT}/tables/taobao_multitask_sample_v1/ds=20170513", f"{root}/data/eval.csv"),
        ("experiments/mmoe_taobao", f"{root}/model"),
        ("num_epochs: 1", "num_steps: 8"),
        ("batch_size: 8192", "batch_size: 64"),
        ("dataset_type: OdpsDataset", "dataset_type: CsvDataset\n    with_header: true"),
        ("eval_config {\n}", "eval_config {\n    num_steps: 2\n}"),
    ]
    for old, new in replacements:
        if old not in text:
            raise AssertionError(f"mmoe_taobao config no longer contains {old!r}")
        text = text.replace(old, new)
    return text


class ExportMMoETest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="tzrec_mmoe_py_")
        cls.config_path = os.path.join(cls.root, "pipeline.config")
        with open(cls.config_path, "w") as f:
            f.write(small_config(cls.root))
        run(["gen_data", "--pipeline_config_path", cls.config_path,
             "--output_dir", os.path.join(cls.root, "data"), "--num_rows", "600"])
        run(["train_eval", "--pipeline_config_path", cls.config_path])
        cls.export_dir = os.path.join(cls.root, "export")
        run(["export", "--pipeline_config_path", cls.config_path,
             "--export_dir", cls.export_dir], {"QUANT_EMB": "0"})
        cls.model = torch.jit.load(os.path.join(cls.export_dir, "scripted_model.pt"))
        cls.model.eval()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def inputs(self, batch_size, seed):
        with open(os.path.join(self.export_dir, "fg.json")) as f:
            features = json.load(f)["features"]
        gen = torch.Generator().manual_seed(seed)
        data = {}
        for feature in features:
            name = feature["feature_name"]
            if "boundaries" in feature:
                buckets = len(feature["boundaries"]) + 1
            else:
                buckets = feature.get("num_buckets") or feature["hash_bucket_size"]
            data[f"{name}.values"] = torch.randint(0, buckets, (batch_size,), generator=gen)
            data[f"{name}.lengths"] = torch.ones(batch_size, dtype=torch.long)
        return data

    def test_eval_log_has_per_tower_metrics(self):
        with open(os.path.join(self.root, "model", "train_eval_result_v2.txt")) as f:
            lines = f.read().splitlines()
        result = json.loads(lines[-1])
        self.assertEqual(result["global_step"], 7)
        for key in ["auc_ctr", "auc_cvr", "binary_cross_entropy_ctr", "binary_cross_entropy_cvr"]:
            self.assertIn(key, result)

    def test_export_predicts_every_tower(self):
        out = self.model(self.inputs(16, seed=1))
        self.assertEqual(set(out.keys()), {"logits_ctr", "probs_ctr", "logits_cvr", "probs_cvr"})
        for tower in ["ctr", "cvr"]:
            self.assertEqual(tuple(out["logits_" + tower].shape), (16,))
            torch.testing.assert_close(out["probs_" + tower], torch.sigmoid(out["logits_" + tower]))
        self.assertFalse(torch.equal(out["logits_ctr"], out["logits_cvr"]))

    def test_export_has_upstream_parameter_names(self):
        names = {"model." + k for k, _ in self.model.named_parameters()}
        for name in ["model.mmoe.expert_mlps.2.mlp.0.perceptron.0.weight",
                     "model.mmoe.gate_finals.1.weight",
                     "model._task_tower.1.tower_mlp.mlp.2.perceptron.0.bias",
                     "model._task_tower.0.linear.weight"]:
            self.assertIn(name, names)


if __name__ == "__main__":
    unittest.main()
