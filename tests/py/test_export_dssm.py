#!/usr/bin/env python3
"""End to end for a match model: train a tiny DSSM with tzrec (in-batch
negatives), export it, and check with stock PyTorch that the exported user
and item towers reproduce the full model's similarity.

The full model's similarity is recomputed here from the checkpoint tensors
(model.ckpt-<step>/model/, read by torch.distributed.checkpoint) by DSSM's definition:
tower = [L2-normalise](output(MLP(concat of pooled embeddings and dense
values))), similarity = user . item^T / temperature.

Run with /usr/bin/python3 (Debian's python3-torch); TZREC_BINARY names the
tzrec binary.
"""
import json
import os
import shutil
import tempfile
import unittest

import torch

from tzrec_cli import load_dcp, random_inputs, run, small_config_head
TEMPERATURE = 0.2

CONFIG = small_config_head('clk', 32, tags_dim=4, data_extra='') + """
model_config {{
  feature_groups {{ group_name: "user" feature_names: "user_id" feature_names: "age" group_type: DEEP }}
  feature_groups {{ group_name: "item" feature_names: "item_id" feature_names: "tags" feature_names: "price" group_type: DEEP }}
  dssm {{
    user_tower {{ input: "user" mlp {{ hidden_units: [16, 8] }} }}
    item_tower {{ input: "item" mlp {{ hidden_units: [16] }} }}
    output_dim: 6
    similarity: COSINE
    temperature: {temperature}
    in_batch_negative: true
  }}
  metrics {{ recall_at_k {{ top_k: 1 }} }}
  metrics {{ recall_at_k {{ top_k: 5 }} }}
  losses {{ softmax_cross_entropy {{}} }}
}}
"""

SPARSE = {"user_id": 50, "item_id": 40, "tags": 30}
DENSE = ["age", "price"]
TOWERS = {
    "user": [("user_id", "sparse"), ("age", "dense")],
    "item": [("item_id", "sparse"), ("tags", "mean"), ("price", "dense")],
}
BAGS = "embedding_group.emb_impls.__BASE__.ebc.embedding_bags."




def make_inputs(batch_size, seed):
    return random_inputs(SPARSE, DENSE, batch_size, seed)


def reference_tower(state, tower, data):
    """DSSM tower from checkpoint tensors, written out in plain PyTorch."""
    prefix = f"model.{tower}_tower."
    parts = []
    for name, kind in TOWERS[tower]:
        if kind == "dense":
            parts.append(data[f"{name}.values"])
            continue
        table = state[prefix + BAGS + f"{name}_emb.weight"]
        lengths = data[f"{name}.lengths"]
        offsets = torch.cumsum(lengths, 0) - lengths
        pooled = torch.nn.functional.embedding_bag(
            data[f"{name}.values"], table, offsets, mode="sum")
        if kind == "mean":
            pooled = pooled / torch.clamp(lengths, min=1).unsqueeze(1).to(pooled.dtype)
        parts.append(pooled)
    x = torch.cat(parts, 1)
    i = 0
    while f"{prefix}mlp.mlp.{i}.perceptron.0.weight" in state:
        p = f"{prefix}mlp.mlp.{i}.perceptron.0."
        x = torch.relu(torch.nn.functional.linear(x, state[p + "weight"], state[p + "bias"]))
        i += 1
    x = torch.nn.functional.linear(x, state[prefix + "output.weight"], state[prefix + "output.bias"])
    return torch.nn.functional.normalize(x, p=2.0, dim=1)


class ExportDSSMTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="tzrec_export_dssm_")
        cls.config_path = os.path.join(cls.root, "pipeline.config")
        with open(cls.config_path, "w") as f:
            f.write(CONFIG.format(root=cls.root, temperature=TEMPERATURE))
        run(["gen_data", "--pipeline_config_path", cls.config_path,
             "--output_dir", os.path.join(cls.root, "data"), "--num_rows", "500", "--seed", "5"])
        run(["train_eval", "--pipeline_config_path", cls.config_path])
        cls.exports = {}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def export(self, name, env=None):
        if name not in self.exports:
            export_dir = os.path.join(self.root, "export_" + name)
            run(["export", "--pipeline_config_path", self.config_path,
                 "--export_dir", export_dir], env_extra=env)
            self.exports[name] = export_dir
        return self.exports[name]

    def checkpoint_state(self):
        model_dir = os.path.join(self.root, "model")
        steps = [int(d.split("-")[-1]) for d in os.listdir(model_dir)
                 if d.startswith("model.ckpt-")]
        return load_dcp(os.path.join(model_dir, f"model.ckpt-{max(steps)}", "model"))

    def load(self, export_dir, tower):
        model = torch.jit.load(os.path.join(export_dir, tower, "scripted_model.pt"))
        model.eval()
        return model

    def test_eval_log_has_match_metrics(self):
        with open(os.path.join(self.root, "model", "train_eval_result_v2.txt")) as f:
            lines = [json.loads(line) for line in f if line.strip()]
        self.assertTrue(lines)
        for entry in lines:
            self.assertEqual(list(entry)[0], "global_step")
            for key in ("recall@1", "recall@5", "softmax_cross_entropy"):
                self.assertIn(key, entry)
            self.assertGreaterEqual(entry["recall@5"], entry["recall@1"])
            self.assertLessEqual(entry["recall@5"], 1.0)

    def test_towers_reproduce_the_full_model_similarity(self):
        export_dir = self.export("fp32", {"QUANT_EMB": "0"})
        user, item = self.load(export_dir, "user"), self.load(export_dir, "item")
        data = make_inputs(24, seed=11)
        with torch.no_grad():
            u = user(data)["user_tower_emb"]
            i = item(data)["item_tower_emb"]
        self.assertEqual(tuple(u.shape), (24, 6))
        self.assertEqual(tuple(i.shape), (24, 6))
        state = self.checkpoint_state()
        ref_u = reference_tower(state, "user", data)
        ref_i = reference_tower(state, "item", data)
        similarity = torch.mm(ref_u, ref_i.t()) / TEMPERATURE
        torch.testing.assert_close(torch.mm(u, i.t()) / TEMPERATURE, similarity,
                                   rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(u, ref_u, rtol=1e-5, atol=1e-6)

    def test_towers_need_only_their_features(self):
        export_dir = self.export("fp32", {"QUANT_EMB": "0"})
        data = make_inputs(5, seed=2)
        for tower, features in TOWERS.items():
            names = {name for name, _ in features}
            only = {k: v for k, v in data.items() if k.split(".")[0] in names}
            with torch.no_grad():
                out = self.load(export_dir, tower)(only)
            self.assertEqual(list(out.keys()), [f"{tower}_tower_emb"])
            with open(os.path.join(export_dir, tower, "fg.json")) as f:
                fg = json.load(f)
            self.assertEqual(sorted(x["feature_name"] for x in fg["features"]), sorted(names))
            for artifact in ("pipeline.config", "model_acc.json"):
                self.assertTrue(os.path.isfile(os.path.join(export_dir, tower, artifact)))
            params = dict(self.load(export_dir, tower).named_parameters())
            for name in params:
                self.assertTrue(name.startswith(f"{tower}_tower."), name)
        self.assertFalse(os.path.exists(os.path.join(export_dir, "scripted_model.pt")))

    def test_int8_towers_are_close(self):
        fp32 = self.export("fp32", {"QUANT_EMB": "0"})
        int8 = self.export("int8")
        data = make_inputs(16, seed=4)
        with torch.no_grad():
            for tower in TOWERS:
                a = self.load(fp32, tower)(data)[f"{tower}_tower_emb"]
                b = self.load(int8, tower)(data)[f"{tower}_tower_emb"]
                self.assertLess(float((a - b).abs().max()), 0.05)


if __name__ == "__main__":
    unittest.main()
