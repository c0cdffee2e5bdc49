#!/usr/bin/env python3
"""End to end for the Deep & Cross and xDeepFM rank models: train a tiny
model with tzrec, export it in FP32 (QUANT_EMB=0), and check the exported
scripted_model.pt against the model rebuilt here in plain PyTorch.

The reference models below follow upstream TorchEasyRec's definitions
(tzrec/models/dcn.py, dcn_v2.py, xdeepfm.py and the Cross / CrossV2 / CIN
modules of tzrec/modules/interaction.py), written with torch.nn modules named
like upstream's. The checkpoint (model.ckpt-<step>/model/, read with
torch.distributed.checkpoint) is loaded into them with strict=True, so a
missing or extra state-dict name fails the test, and their logits must match
the export's within 1e-5.

Run with tests/py/run_in_venv.sh; TZREC_BINARY names the tzrec binary.
"""
import os
import shutil
import tempfile
import unittest

import torch
from torch import nn

from tzrec_cli import load_dcp, random_inputs, run, small_config_head

SPARSE = {"user_id": 50, "item_id": 40, "tags": 30}
DENSE = ["age", "price"]
# small_config_head's features: (name, kind) with kind "sum" / "mean" for id
# features (their pooling) and "dense" for raw ones.
FEATURES = {"user_id": "sum", "age": "dense", "item_id": "sum", "tags": "mean", "price": "dense"}
ROWS = {"user_id": 50, "item_id": 40, "tags": 30}
DIMS = {"user_id": 8, "item_id": 8, "tags": 8}


# ---- reference modules, named like upstream's ------------------------------

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

    def output_dim(self):
        return self.mlp[-1].perceptron[0].out_features

    def forward(self, x):
        for layer in self.mlp:
            x = layer(x)
        return x


class EmbeddingGroup(nn.Module):
    """Pooled DEEP / WIDE groups: embedding_group.emb_impls.__BASE__.ebc.
    embedding_bags.<feature>_emb[_wide].weight, outputs concatenated in config
    order; mean pooling divides the sum by the bag size (0 for empty bags)."""

    def __init__(self, groups, wide_dim):
        super().__init__()
        self.groups = groups  # name -> (feature names, is_wide)
        tables = {}
        for features, is_wide in groups.values():
            for f in features:
                if FEATURES[f] != "dense":
                    name = f"{f}_emb_wide" if is_wide else f"{f}_emb"
                    tables[name] = nn.EmbeddingBag(ROWS[f], wide_dim if is_wide else DIMS[f],
                                                   mode="sum")
        ebc = nn.Module()
        ebc.embedding_bags = nn.ModuleDict(tables)
        base = nn.Module()
        base.ebc = ebc
        self.emb_impls = nn.ModuleDict({"__BASE__": base})

    def forward(self, data):
        bags = self.emb_impls["__BASE__"].ebc.embedding_bags
        out = {}
        for group, (features, is_wide) in self.groups.items():
            parts = []
            for f in features:
                if FEATURES[f] == "dense":
                    parts.append(data[f"{f}.values"])
                    continue
                lengths = data[f"{f}.lengths"]
                offsets = torch.cumsum(lengths, 0) - lengths
                pooled = bags[f"{f}_emb_wide" if is_wide else f"{f}_emb"](data[f"{f}.values"], offsets)
                if FEATURES[f] == "mean":
                    pooled = pooled / torch.clamp(lengths, min=1).unsqueeze(1).to(pooled.dtype)
                parts.append(pooled)
            out[group] = torch.cat(parts, 1)
        return out


class Cross(nn.Module):
    """DCN v1 cross: x_{l+1} = w_l(x_l) * x_0 + b_l + x_l."""

    def __init__(self, input_dim, cross_num):
        super().__init__()
        self.cross_num = cross_num
        self.w = nn.ModuleList(nn.Linear(input_dim, 1, bias=False) for _ in range(cross_num))
        self.b = nn.ParameterList(nn.Parameter(torch.empty(input_dim)) for _ in range(cross_num))

    def forward(self, x):
        x1 = x
        for i in range(self.cross_num):
            x1 = self.w[i](x1) * x + self.b[i] + x1
        return x1


class CrossV2(nn.Module):
    """DCN v2 low-rank cross: x_{l+1} = x_0 * v_l(u_l(x_l)) + x_l."""

    def __init__(self, input_dim, cross_num, low_rank):
        super().__init__()
        self.u_kernels = nn.ModuleList(
            nn.Linear(input_dim, low_rank, bias=False) for _ in range(cross_num))
        self.v_kernels = nn.ModuleList(
            nn.Linear(low_rank, input_dim, bias=True) for _ in range(cross_num))

    def forward(self, x0):
        x = x0
        for u, v in zip(self.u_kernels, self.v_kernels):
            x = x0 * v(u(x)) + x
        return x


class CIN(nn.Module):
    """Compressed interaction network: each layer takes every product of its
    previous layer's rows with the input rows, 1x1-convolves them to
    cin_layer_size[i] rows, and contributes their sums over the embedding axis."""

    def __init__(self, feature_num, cin_layer_size):
        super().__init__()
        self.cin_layers = nn.ModuleList()
        rows = feature_num
        for size in cin_layer_size:
            self.cin_layers.append(nn.Conv1d(rows * feature_num, size, kernel_size=1))
            rows = size

    def forward(self, x0):
        batch, fields, dim = x0.shape
        x = x0
        sums = []
        for conv in self.cin_layers:
            z = torch.einsum("bhd,bfd->bhfd", x, x0).reshape(batch, -1, dim)
            x = conv(z)
            sums.append(torch.sum(x, dim=2))
        return torch.cat(sums, dim=1)


def group_width(features):
    return sum(1 if FEATURES[f] == "dense" else DIMS[f] for f in features)


ALL = ["user_id", "age", "item_id", "tags", "price"]
WIDE = ["user_id", "item_id", "tags"]


class RefDCNV2(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding_group = EmbeddingGroup({"all": (ALL, False)}, 0)
        self.backbone = MLP(group_width(ALL), [16, 12])
        self.cross = CrossV2(12, 2, 4)
        self.deep = MLP(group_width(ALL), [16, 8])
        self.final = MLP(12 + 8, [8])
        self.output_mlp = nn.Linear(8, 1, bias=False)

    def forward(self, data):
        features = self.embedding_group(data)["all"]
        net = torch.cat([self.cross(self.backbone(features)), self.deep(features)], dim=-1)
        return self.output_mlp(self.final(net)).squeeze(1)


DCN_V2_MODEL = """
model_config {{
  feature_groups {{ group_name: "all" feature_names: "user_id" feature_names: "age" feature_names: "item_id" feature_names: "tags" feature_names: "price" group_type: DEEP }}
  dcn_v2 {{
    backbone {{ hidden_units: [16, 12] }}
    cross {{ cross_num: 2 low_rank: 4 }}
    deep {{ hidden_units: [16, 8] }}
    final {{ hidden_units: [8] }}
  }}
  metrics {{ auc {{}} }}
  losses {{ binary_cross_entropy {{}} }}
}}
"""


class RefDCNV1(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding_group = EmbeddingGroup({"all": (ALL, False)}, 0)
        width = group_width(ALL)
        self.cross = Cross(width, 3)
        self.deep = MLP(width, [16, 8])
        self.final_dnn = MLP(width + 8, [8])
        self.output_linear = nn.Linear(8, 1, bias=False)

    def forward(self, data):
        features = self.embedding_group(data)["all"]
        net = torch.cat([self.cross(features), self.deep(features)], dim=-1)
        return self.output_linear(self.final_dnn(net)).squeeze(1)


DCN_V1_MODEL = """
model_config {{
  feature_groups {{ group_name: "all" feature_names: "user_id" feature_names: "age" feature_names: "item_id" feature_names: "tags" feature_names: "price" group_type: DEEP }}
  dcn_v1 {{
    cross {{ cross_num: 3 }}
    deep {{ hidden_units: [16, 8] }}
    final {{ hidden_units: [8] }}
  }}
  metrics {{ auc {{}} }}
  losses {{ binary_cross_entropy {{}} }}
}}
"""


class RefXDeepFM(nn.Module):
    WIDE_DIM = 16  # xDeepFM's wide_embedding_dim default

    def __init__(self):
        super().__init__()
        self.embedding_group = EmbeddingGroup(
            {"wide": (WIDE, True), "deep": (ALL, False)}, self.WIDE_DIM)
        self.deep = MLP(group_width(ALL), [16, 8])
        self.cin = CIN(len(WIDE), [5, 3])
        self.final = MLP(8 + 5 + 3, [8])
        self.output_mlp = nn.Linear(8, 1)

    def forward(self, data):
        grouped = self.embedding_group(data)
        wide = grouped["wide"].reshape(-1, len(WIDE), self.WIDE_DIM)
        net = torch.cat([self.cin(wide), self.deep(grouped["deep"])], dim=1)
        return self.output_mlp(self.final(net)).squeeze(1)


XDEEPFM_MODEL = """
model_config {{
  feature_groups {{ group_name: "wide" feature_names: "user_id" feature_names: "item_id" feature_names: "tags" group_type: WIDE }}
  feature_groups {{ group_name: "deep" feature_names: "user_id" feature_names: "age" feature_names: "item_id" feature_names: "tags" feature_names: "price" group_type: DEEP }}
  xdeepfm {{
    cin {{ cin_layer_size: [5, 3] }}
    deep {{ hidden_units: [16, 8] }}
    final {{ hidden_units: [8] }}
  }}
  metrics {{ auc {{}} }}
  losses {{ binary_cross_entropy {{}} }}
}}
"""


class _ExportedModelCheck:
    """Trains MODEL (a model_config block) with tzrec, exports it in FP32 and
    compares the export with REFERENCE() loaded from the last checkpoint."""

    MODEL = ""
    REFERENCE = None

    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="tzrec_model_dcn_xdeepfm_")
        config_path = os.path.join(cls.root, "pipeline.config")
        with open(config_path, "w") as f:
            f.write((small_config_head("label", 64, tags_dim=8) + cls.MODEL).format(root=cls.root))
        run(["gen_data", "--pipeline_config_path", config_path,
             "--output_dir", os.path.join(cls.root, "data"), "--num_rows", "500", "--seed", "7"])
        run(["train_eval", "--pipeline_config_path", config_path])
        cls.export_dir = os.path.join(cls.root, "export")
        run(["export", "--pipeline_config_path", config_path, "--export_dir", cls.export_dir],
            env_extra={"QUANT_EMB": "0"})

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def checkpoint_state(self):
        model_dir = os.path.join(self.root, "model")
        steps = [int(d.split("-")[-1]) for d in os.listdir(model_dir)
                 if d.startswith("model.ckpt-")]
        state = load_dcp(os.path.join(model_dir, f"model.ckpt-{max(steps)}", "model"))
        return {k[len("model."):]: v for k, v in state.items() if k.startswith("model.")}

    def reference(self):
        ref = self.REFERENCE()
        # strict: the checkpoint has exactly upstream's state-dict names and shapes.
        ref.load_state_dict(self.checkpoint_state(), strict=True)
        return ref.eval()

    def test_export_matches_upstream_definition(self):
        exported = torch.jit.load(os.path.join(self.export_dir, "scripted_model.pt")).eval()
        ref = self.reference()
        self.assertEqual(set(dict(exported.named_parameters())),
                         set(dict(ref.named_parameters())))
        for seed in (1, 2):
            data = random_inputs(SPARSE, DENSE, 32, seed)
            with torch.no_grad():
                out = exported(data)
                expected = ref(data)
            self.assertEqual(set(out), {"logits", "probs"})
            self.assertEqual(out["logits"].dtype, torch.float32)
            torch.testing.assert_close(out["logits"], expected, rtol=0, atol=1e-5)
            torch.testing.assert_close(out["probs"], torch.sigmoid(expected), rtol=0, atol=1e-5)
            # A trained model, not a constant: the rows differ.
            self.assertGreater(float(out["logits"].std()), 0.0)


class DCNV2Test(_ExportedModelCheck, unittest.TestCase):
    MODEL = DCN_V2_MODEL
    REFERENCE = RefDCNV2


class DCNV1Test(_ExportedModelCheck, unittest.TestCase):
    MODEL = DCN_V1_MODEL
    REFERENCE = RefDCNV1

    def test_cross_biases_were_trained(self):
        # Upstream starts them at zero; a zero bias would make the check blind to b.
        state = self.checkpoint_state()
        self.assertGreater(float(state["cross.b.0"].abs().max()), 0.0)


class XDeepFMTest(_ExportedModelCheck, unittest.TestCase):
    MODEL = XDEEPFM_MODEL
    REFERENCE = RefXDeepFM


if __name__ == "__main__":
    unittest.main()
