#!/usr/bin/env python3
"""End to end for tzrec's multi-task rank models beyond MMoE / DBMTL / PLE:
train a tiny model with tzrec (gen_data -> train_eval -> export, FP32 tables),
then recompute its forward pass here in plain PyTorch from the checkpoint's
tensors (torch.distributed.checkpoint), following upstream TorchEasyRec's
definitions, and compare with the exported scripted_model.pt.

- SimpleMultiTask: upstream declares only its config; EasyRec's model, which
  the config carries over: per tower MLP + Linear over the first group.
- PEPNet: tzrec/models/pepnet.py with tzrec/modules/personalized_net.py
  (EPNet over the "domain" group, PPNet over the "uia" group, one tower per
  task and domain).
- DC2VR: tzrec/models/dc2vr.py with tzrec/modules/intervention.py; the
  intervention is PyTorch's own orthogonal parametrization, loaded strictly
  from the checkpoint.

Run with tests/py/run_in_venv.sh; TZREC_BINARY names the tzrec binary.
"""
import json
import os
import shutil
import tempfile
import unittest

import torch
import torch.nn.functional as F

from tzrec_cli import load_dcp, random_inputs, run, small_config_head

HEAD = small_config_head("clk", 64, tags_dim=8, data_extra='label_fields: "buy"')
SPARSE = {"user_id": 50, "item_id": 40, "tags": 30}
DENSE = ["age", "price"]
BAGS = "model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags."
# How each feature pools into a group (small_config_head's features).
POOLING = {"user_id": "sum", "age": "dense", "item_id": "sum", "tags": "mean", "price": "dense"}


def group_features(state, data, names):
    """A DEEP group's concatenated pooled embeddings and raw values."""
    parts = []
    for name in names:
        if POOLING[name] == "dense":
            parts.append(data[f"{name}.values"])
            continue
        lengths = data[f"{name}.lengths"]
        offsets = torch.cumsum(lengths, 0) - lengths
        parts.append(F.embedding_bag(data[f"{name}.values"], state[BAGS + f"{name}_emb.weight"],
                                     offsets, mode=POOLING[name]))
    return torch.cat(parts, 1)


def linear(state, prefix, x):
    return F.linear(x, state[prefix + ".weight"], state[prefix + ".bias"])


def relu_mlp(state, prefix, x):
    """tzrec.modules.mlp.MLP with its defaults: Linear + ReLU per layer."""
    i = 0
    while f"{prefix}.mlp.{i}.perceptron.0.weight" in state:
        x = torch.relu(linear(state, f"{prefix}.mlp.{i}.perceptron.0", x))
        i += 1
    return x


def task_tower(state, prefix, x):
    """tzrec.modules.task_tower.TaskTower: optional tower_mlp, then linear."""
    if f"{prefix}.tower_mlp.mlp.0.perceptron.0.weight" in state:
        x = relu_mlp(state, prefix + ".tower_mlp", x)
    return linear(state, prefix + ".linear", x)


class MultiTaskCase(unittest.TestCase):
    """Trains and exports CONFIG once per class; `state` is the last
    checkpoint's tensors, `model` the FP32 export."""
    CONFIG = None

    @classmethod
    def setUpClass(cls):
        if cls.CONFIG is None:
            raise unittest.SkipTest("base class")
        cls.root = tempfile.mkdtemp(prefix=f"tzrec_{cls.__name__.lower()}_")
        cls.config_path = os.path.join(cls.root, "pipeline.config")
        with open(cls.config_path, "w") as f:
            f.write(cls.CONFIG.format(root=cls.root))
        run(["gen_data", "--pipeline_config_path", cls.config_path,
             "--output_dir", os.path.join(cls.root, "data"), "--num_rows", "600", "--seed", "3"])
        run(["train_eval", "--pipeline_config_path", cls.config_path])
        export_dir = os.path.join(cls.root, "export")
        run(["export", "--pipeline_config_path", cls.config_path, "--export_dir", export_dir],
            {"QUANT_EMB": "0"})
        cls.model = torch.jit.load(os.path.join(export_dir, "scripted_model.pt"))
        cls.model.eval()
        model_dir = os.path.join(cls.root, "model")
        steps = [int(d.split("-")[-1]) for d in os.listdir(model_dir) if d.startswith("model.ckpt-")]
        cls.state = load_dcp(os.path.join(model_dir, f"model.ckpt-{max(steps)}", "model"))

    @classmethod
    def tearDownClass(cls):
        if hasattr(cls, "root"):
            shutil.rmtree(cls.root, ignore_errors=True)

    def check_outputs(self, data, expected_logits):
        """The export's logits_/probs_<name> equal the recomputed logits."""
        with torch.no_grad():
            out = self.model(data)
        self.assertEqual(set(out), {f"{kind}_{name}" for name in expected_logits
                                    for kind in ("logits", "probs")})
        for name, logits in expected_logits.items():
            torch.testing.assert_close(out["logits_" + name], logits.squeeze(1), rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(out["probs_" + name], torch.sigmoid(logits.squeeze(1)),
                                       rtol=1e-5, atol=1e-5)


class SimpleMultiTaskTest(MultiTaskCase):
    CONFIG = HEAD + """
model_config {{
  feature_groups {{ group_name: "all" feature_names: "user_id" feature_names: "age" feature_names: "item_id" feature_names: "tags" feature_names: "price" group_type: DEEP }}
  simple_multi_task {{
    task_towers {{ tower_name: "ctr" label_name: "clk" mlp {{ hidden_units: [16, 8] }}
                  metrics {{ auc {{}} }} losses {{ binary_cross_entropy {{}} }} }}
    task_towers {{ tower_name: "cvr" label_name: "buy"
                  metrics {{ auc {{}} }} losses {{ binary_cross_entropy {{}} }} }}
  }}
}}
"""

    def test_export_matches_recomputation(self):
        data = random_inputs(SPARSE, DENSE, 24, seed=7)
        x = group_features(self.state, data, ["user_id", "age", "item_id", "tags", "price"])
        self.check_outputs(data, {
            "ctr": task_tower(self.state, "model._task_tower.0", x),
            "cvr": task_tower(self.state, "model._task_tower.1", x),
        })

    def test_checkpoint_names(self):
        dense = sorted(k for k in self.state if not k.startswith(BAGS))
        self.assertEqual(dense, sorted([
            "model._task_tower.0.tower_mlp.mlp.0.perceptron.0.weight",
            "model._task_tower.0.tower_mlp.mlp.0.perceptron.0.bias",
            "model._task_tower.0.tower_mlp.mlp.1.perceptron.0.weight",
            "model._task_tower.0.tower_mlp.mlp.1.perceptron.0.bias",
            "model._task_tower.0.linear.weight", "model._task_tower.0.linear.bias",
            "model._task_tower.1.linear.weight", "model._task_tower.1.linear.bias"]))


PEP_HEAD = small_config_head("clk", 64, tags_dim=8, data_extra='label_fields: "buy" label_fields: "dom"')
GAMMA = 2.0


def gate_nu(state, prefix, x):
    """personalized_net.GateNU: gamma * sigmoid(Linear(relu(Linear(x))))."""
    h = torch.relu(linear(state, prefix + ".dense_layers.0", x))
    return GAMMA * torch.sigmoid(linear(state, prefix + ".dense_layers.2", h))


class PEPNetTest(MultiTaskCase):
    """All three parts: EPNet ("domain" group), PPNet ("uia" group, two layers
    per task) and two towers per task (domain_input_name "dom")."""
    CONFIG = PEP_HEAD + """
model_config {{
  feature_groups {{ group_name: "all" feature_names: "user_id" feature_names: "age" feature_names: "item_id" feature_names: "tags" feature_names: "price" group_type: DEEP }}
  feature_groups {{ group_name: "domain" feature_names: "item_id" group_type: DEEP }}
  feature_groups {{ group_name: "uia" feature_names: "user_id" feature_names: "age" group_type: DEEP }}
  pepnet {{
    epnet_hidden_unit: 12
    ppnet_hidden_units: [16, 8]
    ppnet_dropout_ratio: 0.1
    domain_input_name: "dom"
    task_domain_num: 2
    task_towers {{ tower_name: "ctr" label_name: "clk" mlp {{ hidden_units: [8] }}
                  metrics {{ auc {{}} }} losses {{ binary_cross_entropy {{}} }} }}
    task_towers {{ tower_name: "cvr" label_name: "buy"
                  metrics {{ auc {{}} }} losses {{ binary_cross_entropy {{}} }} }}
  }}
}}
"""

    def reference(self, data):
        """Per tower and domain, upstream's PEPNet.predict logits."""
        s = self.state
        main = group_features(s, data, ["user_id", "age", "item_id", "tags", "price"])
        domain = group_features(s, data, ["item_id"])
        uia = group_features(s, data, ["user_id", "age"])
        main = gate_nu(s, "model.epnet.gate_nu", torch.cat([domain, main], -1)) * main
        gate_input = torch.cat([uia, main], -1)
        logits = {}
        for task, tower in enumerate(["ctr", "cvr"]):
            x = main
            for layer in range(2):
                k = task * 2 + layer
                x = torch.relu(linear(s, f"model.ppnet.linears.{k}", x))
                x = x * gate_nu(s, f"model.ppnet.gate_nus.{k}", gate_input)
            for d in range(2):
                logits[f"{tower}_{d}"] = task_tower(s, f"model._task_tower.{task * 2 + d}", x)
        return logits

    def test_export_matches_recomputation(self):
        data = random_inputs(SPARSE, DENSE, 24, seed=9)
        self.check_outputs(data, self.reference(data))

    def test_domain_label_picks_each_rows_tower(self):
        """What training and evaluation score: upstream's
        _select_domain_task_output, a gather by the domain label."""
        data = random_inputs(SPARSE, DENSE, 24, seed=5)
        data["dom"] = torch.randint(0, 2, (24,), generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            out = self.model(data)
        reference = self.reference(data)
        for tower in ["ctr", "cvr"]:
            stacked = torch.stack([reference[f"{tower}_{d}"].squeeze(1) for d in range(2)], 1)
            picked = torch.gather(stacked, 1, data["dom"].unsqueeze(1)).squeeze(1)
            torch.testing.assert_close(out["logits_" + tower], picked, rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(out["probs_" + tower], torch.sigmoid(picked), rtol=1e-5, atol=1e-5)

    def test_eval_log_scores_each_task(self):
        with open(os.path.join(self.root, "model", "train_eval_result_v2.txt")) as f:
            last = json.loads(f.read().splitlines()[-1])
        for key in ["auc_ctr", "auc_cvr", "binary_cross_entropy_ctr", "binary_cross_entropy_cvr"]:
            self.assertIn(key, last)


class RotateLayer(torch.nn.Module):
    """tzrec.modules.intervention.RotateLayer: x @ W, W [dim, low_rank]."""

    def __init__(self, dim, low_rank):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.empty(dim, low_rank))
        torch.nn.init.orthogonal_(self.weight)

    def forward(self, x):
        return torch.matmul(x, self.weight)


class Intervention(torch.nn.Module):
    """tzrec.modules.intervention.Intervention (eval: no dropout), with
    PyTorch's own orthogonal parametrization, so that loading the checkpoint
    into it (strict) proves the state-dict names and buffer layout."""

    def __init__(self, base_dim, source_dim, low_rank):
        super().__init__()
        orthogonal = torch.nn.utils.parametrizations.orthogonal
        self.base_rotate_layer = orthogonal(RotateLayer(base_dim, low_rank))
        self.source_rotate_layer = orthogonal(RotateLayer(source_dim, low_rank))

    def forward(self, base, source):
        rotated_base = self.base_rotate_layer(base)
        rotated_source = self.source_rotate_layer(source.detach())
        return torch.matmul(rotated_base - rotated_source, self.base_rotate_layer.weight.T) + base


class DC2VRTest(MultiTaskCase):
    """bottom_mlp -> MMoE -> task mlps; cvr intervened on by ctr."""
    CONFIG = HEAD + """
model_config {{
  feature_groups {{ group_name: "all" feature_names: "user_id" feature_names: "age" feature_names: "item_id" feature_names: "tags" feature_names: "price" group_type: DEEP }}
  dc2vr {{
    bottom_mlp {{ hidden_units: [16] }}
    expert_mlp {{ hidden_units: [12] }}
    num_expert: 2
    task_towers {{ tower_name: "ctr" label_name: "clk" mlp {{ hidden_units: [8] }}
                  metrics {{ auc {{}} }} losses {{ binary_cross_entropy {{}} }} }}
    task_towers {{ tower_name: "cvr" label_name: "buy" mlp {{ hidden_units: [8] }}
                  intervention_tower_names: "ctr" low_rank_dim: 4
                  metrics {{ auc {{}} }} losses {{ binary_cross_entropy {{}} }} }}
  }}
}}
"""

    def test_export_matches_recomputation(self):
        s = self.state
        data = random_inputs(SPARSE, DENSE, 24, seed=3)
        net = relu_mlp(s, "model.bottom_mlp",
                       group_features(s, data, ["user_id", "age", "item_id", "tags", "price"]))
        experts = torch.stack([relu_mlp(s, f"model.mmoe.expert_mlps.{e}", net) for e in range(2)], 1)
        task_net = {}
        for t, tower in enumerate(["ctr", "cvr"]):
            gate = torch.softmax(linear(s, f"model.mmoe.gate_finals.{t}", net), 1)
            mixed = torch.sum(gate.unsqueeze(2) * experts, 1)
            task_net[tower] = relu_mlp(s, f"model.task_mlps.{tower}", mixed)
        intervention = Intervention(8, 8, 4)
        prefix = "model.intervention.cvr."
        intervention.load_state_dict(
            {k[len(prefix):]: v for k, v in s.items() if k.startswith(prefix)}, strict=True)
        with torch.no_grad():
            cvr_net = intervention(task_net["cvr"], task_net["ctr"])
        self.check_outputs(data, {
            "ctr": linear(s, "model.task_outputs.0", task_net["ctr"]),
            "cvr": linear(s, "model.task_outputs.1", cvr_net),
        })

    def test_rotations_stay_orthonormal(self):
        intervention = Intervention(8, 8, 4)
        prefix = "model.intervention.cvr."
        intervention.load_state_dict(
            {k[len(prefix):]: v for k, v in self.state.items() if k.startswith(prefix)})
        with torch.no_grad():
            for layer in (intervention.base_rotate_layer, intervention.source_rotate_layer):
                w = layer.weight
                torch.testing.assert_close(w.T @ w, torch.eye(4), rtol=1e-5, atol=1e-5)
        # Trained: the householder parameters moved away from -I.
        original = self.state[prefix + "base_rotate_layer.parametrizations.weight.original"]
        self.assertFalse(torch.equal(original, -torch.eye(8, 4)))


if __name__ == "__main__":
    unittest.main()
