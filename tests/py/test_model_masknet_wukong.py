#!/usr/bin/env python3
"""End to end for MaskNet and WuKong: train a tiny model of each with tzrec,
export it (FP32 tables), and check in stock PyTorch that

- the checkpoint holds exactly upstream's state-dict names: a reference
  network written here with torch.nn after upstream TorchEasyRec's
  definitions (tzrec/modules/masknet.py, tzrec/modules/interaction.py) loads
  the checkpoint's dense tensors with strict=True;
- that reference, fed the pooled embeddings recomputed from the checkpoint's
  tables, predicts what the exported scripted_model.pt predicts (1e-5).

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
BAGS = "model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags."
# Pooling of each feature as the configs below declare it (small_config_head).
POOLING = {"user_id": "sum", "item_id": "sum", "tags": "mean"}


def group_input(state, names, data):
    """A DEEP group's tensor: the members' pooled embeddings (raw features as
    their values), concatenated in the group's order."""
    parts = []
    for name in names:
        if name in DENSE:
            parts.append(data[f"{name}.values"])
            continue
        lengths = data[f"{name}.lengths"]
        offsets = torch.cumsum(lengths, 0) - lengths
        pooled = nn.functional.embedding_bag(
            data[f"{name}.values"], state[BAGS + f"{name}_emb.weight"], offsets, mode="sum")
        if POOLING[name] == "mean":
            pooled = pooled / torch.clamp(lengths, min=1).unsqueeze(1).to(pooled.dtype)
        parts.append(pooled)
    return torch.cat(parts, 1)


class ReferenceMLP(nn.Module):
    """Upstream's MLP with default options: mlp.<i>.perceptron = [Linear, ReLU]."""

    def __init__(self, in_features, hidden_units):
        super().__init__()
        layers = []
        for units in hidden_units:
            perceptron = nn.Module()
            perceptron.perceptron = nn.Sequential(nn.Linear(in_features, units), nn.ReLU())
            layers.append(perceptron)
            in_features = units
        self.mlp = nn.ModuleList(layers)

    def forward(self, x):
        for layer in self.mlp:
            x = layer.perceptron(x)
        return x


class TinyModelTest:
    """Mixin: trains CONFIG's model once per class; subclasses give the group
    layout (GROUPS), the reference network (reference()) and the expected
    checkpoint tables (TABLES)."""

    MODEL = ""
    GROUPS = {}
    TABLES = ()

    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="tzrec_model_test_")
        cls.config_path = os.path.join(cls.root, "pipeline.config")
        with open(cls.config_path, "w") as f:
            f.write((small_config_head("label", 32, tags_dim=8) + cls.MODEL).format(root=cls.root))
        run(["gen_data", "--pipeline_config_path", cls.config_path,
             "--output_dir", os.path.join(cls.root, "data"), "--num_rows", "300", "--seed", "7"])
        run(["train_eval", "--pipeline_config_path", cls.config_path])
        cls.export_dir = os.path.join(cls.root, "export")
        run(["export", "--pipeline_config_path", cls.config_path, "--export_dir", cls.export_dir],
            env_extra={"QUANT_EMB": "0"})
        model_dir = os.path.join(cls.root, "model")
        step = max(int(d.split("-")[-1]) for d in os.listdir(model_dir)
                   if d.startswith("model.ckpt-"))
        cls.state = load_dcp(os.path.join(model_dir, f"model.ckpt-{step}", "model"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def reference(self):
        raise NotImplementedError

    def loaded_reference(self):
        """The reference network holding the checkpoint's dense tensors; every
        name must match upstream's (strict)."""
        ref = self.reference()
        dense = {k[len("model."):]: v for k, v in self.state.items() if ".embedding_bags." not in k}
        ref.load_state_dict(dense, strict=True)
        return ref.eval()

    def test_checkpoint_names_are_upstreams(self):
        tables = sorted(k for k in self.state if ".embedding_bags." in k)
        self.assertEqual(tables, sorted(BAGS + t for t in self.TABLES))
        self.assertTrue(all(k.startswith("model.") for k in self.state), list(self.state))
        self.loaded_reference()

    def test_export_matches_the_reference(self):
        model = torch.jit.load(os.path.join(self.export_dir, "scripted_model.pt")).eval()
        ref = self.loaded_reference()
        data = random_inputs(SPARSE, DENSE, 40, seed=13)
        grouped = {g: group_input(self.state, names, data) for g, names in self.GROUPS.items()}
        with torch.no_grad():
            out = model(data)
            y = ref(grouped)
        self.assertEqual(set(out.keys()), {"logits", "probs"})
        self.assertEqual(tuple(out["logits"].shape), (40,))
        torch.testing.assert_close(out["logits"], y.squeeze(1), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(out["probs"], torch.sigmoid(y.squeeze(1)), rtol=1e-5, atol=1e-5)


# ---- MaskNet -----------------------------------------------------------------

class ReferenceMaskBlock(nn.Module):
    def __init__(self, input_dim, mask_input_dim, hidden_dim, aggregation_dim):
        super().__init__()
        self.mask_generator = nn.Sequential(
            nn.Linear(mask_input_dim, aggregation_dim), nn.ReLU(),
            nn.Linear(aggregation_dim, input_dim))
        self.ffn = nn.Sequential(nn.Linear(input_dim, hidden_dim), nn.LayerNorm(hidden_dim), nn.ReLU())

    def forward(self, feature_input, mask_input):
        return self.ffn(feature_input * self.mask_generator(mask_input))


class ReferenceMaskNet(nn.Module):
    """model.mask_net_layer (ln_emb, mask_blocks, top_mlp) + model.output_linear."""

    def __init__(self, feature_dim, n_blocks, hidden_dim, reduction_ratio, top_units, parallel):
        super().__init__()
        layer = nn.Module()
        layer.ln_emb = nn.LayerNorm(feature_dim)
        blocks, input_dim = [], feature_dim
        for _ in range(n_blocks):
            # Upstream's aggregation width: int(block input width * ratio).
            blocks.append(ReferenceMaskBlock(input_dim, feature_dim, hidden_dim,
                                             int(input_dim * reduction_ratio)))
            if not parallel:
                input_dim = hidden_dim
        layer.mask_blocks = nn.ModuleList(blocks)
        out_dim = hidden_dim * n_blocks if parallel else hidden_dim
        layer.top_mlp = ReferenceMLP(out_dim, top_units)
        self.mask_net_layer = layer
        self.output_linear = nn.Linear(top_units[-1], 1, bias=False)
        self.parallel = parallel

    def forward(self, grouped):
        x = grouped["all"]
        layer = self.mask_net_layer
        ln = layer.ln_emb(x)
        if self.parallel:
            hidden = torch.cat([block(ln, x) for block in layer.mask_blocks], -1)
        else:
            hidden = ln
            for block in layer.mask_blocks:
                hidden = block(hidden, x)
        return self.output_linear(layer.top_mlp(hidden))


MASKNET_MODEL = """
model_config {{
  feature_groups {{ group_name: "all" feature_names: "user_id" feature_names: "age" feature_names: "item_id" feature_names: "tags" feature_names: "price" group_type: DEEP }}
  mask_net {{ mask_net_module {{
    n_mask_blocks: 2
    mask_block {{ reduction_ratio: 0.7 hidden_dim: 8 }}
    top_mlp {{ hidden_units: [8, 4] }}
    use_parallel: %s
  }} }}
  metrics {{ auc {{}} }}
  losses {{ binary_cross_entropy {{}} }}
}}
"""
ALL = ["user_id", "age", "item_id", "tags", "price"]  # width 8 + 1 + 8 + 8 + 1 = 26


class MaskNetParallelTest(TinyModelTest, unittest.TestCase):
    MODEL = MASKNET_MODEL % "true"
    GROUPS = {"all": ALL}
    TABLES = ("user_id_emb.weight", "item_id_emb.weight", "tags_emb.weight")
    PARALLEL = True

    def reference(self):
        # reduction_ratio 0.7: upstream reads the float field as 0.7.
        return ReferenceMaskNet(26, 2, 8, 0.7, [8, 4], self.PARALLEL)

    def test_aggregation_width(self):
        # int(26 * 0.7) = 18 (the float32 value 0.699999988 would give 18 too;
        # the serial second block, int(8 * 0.7) = 5, is checked by strict loading).
        self.assertEqual(
            tuple(self.state["model.mask_net_layer.mask_blocks.0.mask_generator.0.weight"].shape),
            (18, 26))


class MaskNetSerialTest(MaskNetParallelTest):
    MODEL = MASKNET_MODEL % "false"
    PARALLEL = False


# ---- WuKong ------------------------------------------------------------------

class ReferenceLinearCompress(nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_in, n_out))

    def forward(self, x):  # [B, n_in, D] -> [B, n_out, D]
        return torch.einsum("bnd,nm->bmd", x, self.weight)


class ReferenceFMBlock(nn.Module):
    def __init__(self, dim, n_in, n_out, compressed, mlp_units):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_in, compressed))
        self.norm = nn.LayerNorm(n_in * compressed)
        self.mlp = ReferenceMLP(n_in * compressed, mlp_units)
        self.feature_out_liner = nn.Linear(mlp_units[-1], n_out * dim)
        self.n_out, self.dim = n_out, dim

    def forward(self, x):
        # Each feature's dot product with each compressed feature (sum_n x w).
        compressed = torch.einsum("bnd,nc->bdc", x, self.weight)
        fm = torch.einsum("bnd,bdc->bnc", x, compressed).flatten(1)
        out = self.feature_out_liner(self.mlp(self.norm(fm)))
        return out.reshape(-1, self.n_out, self.dim)


class ReferenceWuKongLayer(nn.Module):
    def __init__(self, dim, n_in, lcb, fmb, compressed, mlp_units):
        super().__init__()
        self.lcb = ReferenceLinearCompress(n_in, lcb)
        self.fmb = ReferenceFMBlock(dim, n_in, fmb, compressed, mlp_units)
        self.norm = nn.LayerNorm(dim)
        self.residual_projection = (ReferenceLinearCompress(n_in, lcb + fmb)
                                    if n_in != lcb + fmb else nn.Identity())

    def forward(self, x):
        return self.norm(torch.cat([self.fmb(x), self.lcb(x)], 1) + self.residual_projection(x))


class ReferenceWuKong(nn.Module):
    """dense_mlp, _wukong_layers, final_mlp, output_mlp over groups sparse
    (3 ids of width 8) and dense (age, price)."""

    def __init__(self):
        super().__init__()
        self.dense_mlp = ReferenceMLP(2, [8])
        self._wukong_layers = nn.ModuleList([
            ReferenceWuKongLayer(8, 4, 2, 3, 2, [6]),   # 4 -> 5 features: projected residual
            ReferenceWuKongLayer(8, 5, 2, 3, 3, [6, 4]),  # 5 -> 5: identity residual
        ])
        self.final_mlp = ReferenceMLP(5 * 8, [8])
        self.output_mlp = nn.Linear(8, 1)

    def forward(self, grouped):
        feat = grouped["sparse"].reshape(-1, 3, 8)
        feat = torch.cat([self.dense_mlp(grouped["dense"]).unsqueeze(1), feat], 1)
        for layer in self._wukong_layers:
            feat = layer(feat)
        return self.output_mlp(self.final_mlp(feat.flatten(1)))


WUKONG_MODEL = """
model_config {{
  feature_groups {{ group_name: "dense" feature_names: "age" feature_names: "price" group_type: DEEP }}
  feature_groups {{ group_name: "sparse" feature_names: "user_id" feature_names: "item_id" feature_names: "tags" group_type: DEEP }}
  wukong {{
    dense_mlp {{ hidden_units: [8] }}
    wukong_layers {{ lcb_feature_num: 2 fmb_feature_num: 3 compressed_feature_num: 2 feature_num_mlp {{ hidden_units: [6] }} }}
    wukong_layers {{ lcb_feature_num: 2 fmb_feature_num: 3 compressed_feature_num: 3 feature_num_mlp {{ hidden_units: [6, 4] }} }}
    final {{ hidden_units: [8] }}
  }}
  metrics {{ auc {{}} }}
  losses {{ binary_cross_entropy {{}} }}
}}
"""


class WuKongTest(TinyModelTest, unittest.TestCase):
    MODEL = WUKONG_MODEL
    GROUPS = {"dense": ["age", "price"], "sparse": ["user_id", "item_id", "tags"]}
    TABLES = ("user_id_emb.weight", "item_id_emb.weight", "tags_emb.weight")

    def reference(self):
        return ReferenceWuKong()


if __name__ == "__main__":
    unittest.main()
