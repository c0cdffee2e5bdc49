#!/usr/bin/env python3
"""End to end for Rocket Launching: train a tiny model with tzrec (booster and
light nets together, with the distillation losses), export it in FP32
(QUANT_EMB=0), and check the exported scripted_model.pt against the model
rebuilt here in plain PyTorch.

The reference follows upstream TorchEasyRec's tzrec/models/rocket_launching.py
in eval mode: the light net alone, light_linear(light_mlp(share)), with
share = share_mlp(group) (the first group itself without share_mlp), and its
outputs suffixed "_light". Its modules are named like upstream's, booster
included, and the checkpoint (model.ckpt-<step>/model/, read with
torch.distributed.checkpoint) is loaded into it with strict=True, so a missing
or extra state-dict name fails the test; the export's outputs must match within
1e-5.

Run with tests/py/run_in_venv.sh; TZREC_BINARY names the tzrec binary.
"""
import json
import os
import re
import shutil
import tempfile
import unittest

import torch
import torch.nn.functional as F
from torch import nn

from tzrec_cli import load_dcp, random_inputs, read_csv, run, small_config_head

SPARSE = {"user_id": 50, "item_id": 40, "tags": 30}
DENSE = ["age", "price"]
# small_config_head's features in the group's order: kind "sum" / "mean" (the
# id feature's pooling) or "dense" (raw, width 1); id features have dim 8.
FEATURES = [("user_id", "sum"), ("age", "dense"), ("item_id", "sum"), ("tags", "mean"),
            ("price", "dense")]
ROWS = {"user_id": 50, "item_id": 40, "tags": 30}
DIM = 8
GROUP_WIDTH = 3 * DIM + 2


class Perceptron(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.perceptron = nn.Sequential(nn.Linear(in_features, out_features), nn.ReLU())

    def forward(self, x):
        return self.perceptron(x)


class MLP(nn.Module):
    """tzrec.modules.mlp.MLP with default options (bias, ReLU, no norm)."""

    def __init__(self, in_features, hidden_units):
        super().__init__()
        dims = [in_features] + list(hidden_units)
        self.mlp = nn.ModuleList(Perceptron(i, o) for i, o in zip(dims[:-1], dims[1:]))

    def forward(self, x):
        for layer in self.mlp:
            x = layer(x)
        return x


class EmbeddingGroup(nn.Module):
    """One DEEP group of every feature: embedding_group.emb_impls.__BASE__.ebc.
    embedding_bags.<feature>_emb.weight, outputs concatenated in config order;
    mean pooling divides the sum by the bag size (0 for empty bags)."""

    def __init__(self):
        super().__init__()
        ebc = nn.Module()
        ebc.embedding_bags = nn.ModuleDict(
            {f"{f}_emb": nn.EmbeddingBag(ROWS[f], DIM, mode="sum")
             for f, kind in FEATURES if kind != "dense"})
        base = nn.Module()
        base.ebc = ebc
        self.emb_impls = nn.ModuleDict({"__BASE__": base})

    def forward(self, data):
        bags = self.emb_impls["__BASE__"].ebc.embedding_bags
        parts = []
        for f, kind in FEATURES:
            if kind == "dense":
                parts.append(data[f"{f}.values"])
                continue
            lengths = data[f"{f}.lengths"]
            offsets = torch.cumsum(lengths, 0) - lengths
            pooled = bags[f"{f}_emb"](data[f"{f}.values"], offsets)
            if kind == "mean":
                pooled = pooled / torch.clamp(lengths, min=1).unsqueeze(1).to(pooled.dtype)
            parts.append(pooled)
        return torch.cat(parts, 1)


class RefRocketLaunching(nn.Module):
    """Upstream's RocketLaunching, eval mode (the light net's outputs only)."""

    def __init__(self, share_units, booster_units, light_units, num_class):
        super().__init__()
        self.embedding_group = EmbeddingGroup()
        width = GROUP_WIDTH
        self.share_mlp = None
        if share_units:
            self.share_mlp = MLP(width, share_units)
            width = share_units[-1]
        self.booster_mlp = MLP(width, booster_units)
        self.booster_linear = nn.Linear(booster_units[-1], num_class)
        self.light_mlp = MLP(width, light_units)
        self.light_linear = nn.Linear(light_units[-1], num_class)

    def forward(self, data):
        net = self.embedding_group(data)
        if self.share_mlp is not None:
            net = self.share_mlp(net)
        return self.light_linear(self.light_mlp(net.detach()))

    def training_losses(self, data, label, loss, distillation_function):
        """Upstream's training-mode predict + loss (feature_based_distillation
        on, no sample weights): each net's classifier loss, the hidden-layer
        similarity of each light layer with the first booster layer of its
        width, and the hint loss between the logits."""
        net = self.embedding_group(data)
        share = self.share_mlp(net) if self.share_mlp is not None else net

        def hidden(mlp, x):
            layers = []
            for layer in mlp.mlp:
                x = layer(x)
                layers.append(x)
            return layers

        light_hidden = hidden(self.light_mlp, share.detach())
        booster_hidden = hidden(self.booster_mlp, share)
        logits = {"light": self.light_linear(light_hidden[-1]),
                  "booster": self.booster_linear(booster_hidden[-1])}
        losses = {}
        for net_name, y in logits.items():
            if loss == "binary_cross_entropy":
                logits[net_name] = y = y.squeeze(1)
                losses[f"{loss}_{net_name}"] = F.binary_cross_entropy_with_logits(y, label.float())
            else:
                losses[f"{loss}_{net_name}"] = F.cross_entropy(y, label.long())
        light_units = [layer.perceptron[0].out_features for layer in self.light_mlp.mlp]
        booster_units = [layer.perceptron[0].out_features for layer in self.booster_mlp.mlp]
        for i, unit in enumerate(light_units):
            if unit not in booster_units:
                continue
            j = booster_units.index(unit)
            light, booster = light_hidden[i], booster_hidden[j].detach()
            if distillation_function == "COSINE":
                sim = -0.1 * torch.mean(torch.sum(
                    F.normalize(booster, p=2, dim=1) * F.normalize(light, p=2, dim=1), dim=1))
            else:
                sim = torch.sqrt(torch.sum(torch.square(booster - light)))
            losses[f"similarity_{i}_{j}"] = sim
        losses["hint_l2_loss"] = F.mse_loss(logits["light"], logits["booster"].detach())
        return losses


def model_block(rocket, num_class, loss):
    return """
model_config {{
  feature_groups {{ group_name: "all" feature_names: "user_id" feature_names: "age" feature_names: "item_id" feature_names: "tags" feature_names: "price" group_type: DEEP }}
  rocket_launching {{ %s }}
  num_class: %d
  metrics {{ auc {{}} }}
  losses {{ %s {{}} }}
}}
""" % (rocket, num_class, loss)


class _RocketLaunchingCheck:
    """Trains MODEL with tzrec, exports it in FP32 and compares the export with
    the reference loaded from the last checkpoint."""

    SHARE, BOOSTER, LIGHT = [], [], []
    NUM_CLASS = 1
    LOSS = ""
    EXTRA = ""
    FUNCTION = "COSINE"
    # Loss names the training log must show (step 0 is always logged).
    TRAIN_LOSSES = []

    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="tzrec_model_rocket_launching_")
        config_path = os.path.join(cls.root, "pipeline.config")
        units = lambda u: "[" + ", ".join(map(str, u)) + "]"
        rocket = ""
        if cls.SHARE:
            rocket += "share_mlp {{ hidden_units: %s }} " % units(cls.SHARE)
        rocket += "booster_mlp {{ hidden_units: %s }} light_mlp {{ hidden_units: %s }} %s" % (
            units(cls.BOOSTER), units(cls.LIGHT), cls.EXTRA)
        # One reader worker: batch k is rows 64k.. of train.csv; every step logged.
        head = small_config_head("label", 64, tags_dim=DIM, data_extra="num_workers: 1")
        head = head.replace("num_steps: 6", "num_steps: 6\n  log_step_count_steps: 1")
        with open(config_path, "w") as f:
            f.write((head + model_block(rocket, cls.NUM_CLASS, cls.LOSS)).format(root=cls.root))
        run(["gen_data", "--pipeline_config_path", config_path,
             "--output_dir", os.path.join(cls.root, "data"), "--num_rows", "500", "--seed", "7"])
        cls.train_log = run(["train_eval", "--pipeline_config_path", config_path]).stderr
        cls.export_dir = os.path.join(cls.root, "export")
        run(["export", "--pipeline_config_path", config_path, "--export_dir", cls.export_dir],
            env_extra={"QUANT_EMB": "0"})
        # Batch prediction from the checkpoint (eval mode) and from the export.
        cls.predict_input = os.path.join(cls.root, "data", "eval.csv")
        cls.ckpt_out = os.path.join(cls.root, "out", "ckpt.csv")
        run(["predict", "--pipeline_config_path", config_path, "--predict_input_path", cls.predict_input,
             "--predict_output_path", cls.ckpt_out, "--reserved_columns", "label"])
        cls.export_out = os.path.join(cls.root, "out", "export.csv")
        run(["predict", "--scripted_model_path", cls.export_dir, "--predict_input_path", cls.predict_input,
             "--predict_output_path", cls.export_out, "--reserved_columns", "label"])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def checkpoint_state(self, step=None):
        model_dir = os.path.join(self.root, "model")
        if step is None:
            step = max(int(d.split("-")[-1]) for d in os.listdir(model_dir)
                       if d.startswith("model.ckpt-"))
        state = load_dcp(os.path.join(model_dir, f"model.ckpt-{step}", "model"))
        return {k[len("model."):]: v for k, v in state.items() if k.startswith("model.")}

    def test_export_matches_upstream_light_net(self):
        exported = torch.jit.load(os.path.join(self.export_dir, "scripted_model.pt")).eval()
        ref = RefRocketLaunching(self.SHARE, self.BOOSTER, self.LIGHT, self.NUM_CLASS)
        # strict: the checkpoint has exactly upstream's state-dict names and shapes.
        ref.load_state_dict(self.checkpoint_state(), strict=True)
        ref.eval()
        for seed in (1, 2):
            data = random_inputs(SPARSE, DENSE, 32, seed)
            with torch.no_grad():
                out = exported(data)
                logits = ref(data)
            if self.NUM_CLASS == 1:
                logits = logits.squeeze(1)
                self.assertEqual(set(out), {"logits_light", "probs_light"})
                torch.testing.assert_close(out["probs_light"], torch.sigmoid(logits), rtol=0, atol=1e-5)
            else:
                self.assertEqual(set(out), {"logits_light", "probs_light", "probs1_light"})
                probs = torch.softmax(logits, 1)
                torch.testing.assert_close(out["probs_light"], probs, rtol=0, atol=1e-5)
                torch.testing.assert_close(out["probs1_light"], probs[:, 1], rtol=0, atol=1e-5)
            self.assertEqual(out["logits_light"].dtype, torch.float32)
            torch.testing.assert_close(out["logits_light"], logits, rtol=0, atol=1e-5)
            # A trained model, not a constant: the rows differ.
            self.assertGreater(float(out["logits_light"].std()), 0.0)

    def test_predict_serves_the_light_net(self):
        _, in_rows = read_csv(self.predict_input)
        ckpt_header, ckpt = read_csv(self.ckpt_out)
        export_header, export = read_csv(self.export_out)
        self.assertEqual(ckpt_header, export_header)
        self.assertEqual(ckpt_header[0], "logits_light")
        self.assertEqual(ckpt_header[-1], "label")
        self.assertEqual(len(ckpt), len(in_rows))
        self.assertFalse([c for c in ckpt_header if "booster" in c])
        for column in range(len(ckpt_header) - 1):
            a = [float(v) for r in ckpt for v in r[column].strip("[]").split(",")]
            b = [float(v) for r in export for v in r[column].strip("[]").split(",")]
            torch.testing.assert_close(torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64),
                                       rtol=0, atol=1e-6)

    def logged_losses(self, step):
        line = [line for line in self.train_log.splitlines() if re.search(rf"\bstep {step} epoch", line)]
        self.assertTrue(line, self.train_log[-2000:])
        losses = {name: float(value) for name, value in
                  re.findall(r" ([a-z0-9_]+):(-?[0-9.]+)(?=\s|$)", line[0])}
        losses.pop("sparse", None)
        losses.pop("dense", None)
        return losses

    def test_training_losses_match_upstream_definition(self):
        # Step 4 trains on rows 256..319 with the parameters model.ckpt-3 holds.
        ref = RefRocketLaunching(self.SHARE, self.BOOSTER, self.LIGHT, self.NUM_CLASS)
        ref.load_state_dict(self.checkpoint_state(3), strict=True)
        ref.train()
        header, rows = read_csv(os.path.join(self.root, "data", "train.csv"))
        rows = rows[256:320]
        col = {name: i for i, name in enumerate(header)}
        data = {}
        for name in SPARSE:
            cells = [row[col[name]] for row in rows]
            values = [[int(v) for v in cell.split("\x03")] if cell else [] for cell in cells]
            data[f"{name}.values"] = torch.tensor([v for vs in values for v in vs], dtype=torch.int64)
            data[f"{name}.lengths"] = torch.tensor([len(vs) for vs in values], dtype=torch.int64)
        for name in DENSE:
            data[f"{name}.values"] = torch.tensor([[float(row[col[name]])] for row in rows])
        label = torch.tensor([float(row[col["label"]]) for row in rows])
        with torch.no_grad():
            expected = ref.training_losses(data, label, self.LOSS, self.FUNCTION)
        logged = self.logged_losses(4)
        self.assertEqual(set(logged), set(expected))
        for name, value in expected.items():
            # The log prints 5 decimals.
            self.assertAlmostEqual(logged[name], float(value), delta=2e-5, msg=name)

    def test_training_logs_both_nets_and_distillation_losses(self):
        step0 = [line for line in self.train_log.splitlines() if re.search(r"\bstep 0 epoch", line)]
        losses = self.logged_losses(0)
        self.assertEqual(set(losses), set(self.TRAIN_LOSSES), step0[0])
        # Upstream optimises the plain sum of every loss (5 decimals logged).
        total = float(re.search(r"total_loss: (-?[0-9.]+)", step0[0]).group(1))
        self.assertAlmostEqual(total, sum(losses.values()), delta=1e-5 * (len(losses) + 1))

    def test_eval_log_scores_the_light_net(self):
        with open(os.path.join(self.root, "model", "train_eval_result_v2.txt")) as f:
            last = json.loads(f.read().splitlines()[-1])
        self.assertEqual(set(last), {"global_step", "auc_light", self.LOSS + "_light"})


class SoftmaxCosineTest(_RocketLaunchingCheck, unittest.TestCase):
    # As upstream's criteo example: softmax over 2 classes, cosine distillation.
    SHARE, BOOSTER, LIGHT = [16], [16, 12, 8], [12, 8]
    NUM_CLASS = 2
    LOSS = "softmax_cross_entropy"
    FUNCTION = "COSINE"
    EXTRA = "feature_based_distillation: true"
    TRAIN_LOSSES = ["softmax_cross_entropy_booster", "softmax_cross_entropy_light", "hint_l2_loss",
                    "similarity_0_1", "similarity_1_2"]


class BinaryEuclidWithoutShareMlpTest(_RocketLaunchingCheck, unittest.TestCase):
    SHARE, BOOSTER, LIGHT = [], [16, 8], [8]
    NUM_CLASS = 1
    LOSS = "binary_cross_entropy"
    FUNCTION = "EUCLID"
    EXTRA = "feature_based_distillation: true feature_distillation_function: EUCLID"
    TRAIN_LOSSES = ["binary_cross_entropy_booster", "binary_cross_entropy_light", "hint_l2_loss",
                    "similarity_0_1"]


if __name__ == "__main__":
    unittest.main()
