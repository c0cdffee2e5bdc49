#!/usr/bin/env python3
"""Match models beyond DSSM, end to end: a tiny model trained with tzrec
(gen_data -> train_eval -> export with QUANT_EMB=0), then the exported user
and item towers checked in stock PyTorch against a forward pass recomputed
here from the checkpoint's tensors (read by torch.distributed.checkpoint),
written from upstream TorchEasyRec's definition of each model.

- DSSMV2: both towers read one shared embedding group (model.embedding_group,
  a table used by both groups stored once); tower = [L2-normalise](output(
  MLP(group tensor))).
- MIND: the user tower turns the history into up to max_k interests by
  capsule routing (tzrec.modules.capsule.CapsuleLayer) and exports them,
  [B, max_k, D]; the item tower is DSSM's. The routing starts from logits
  drawn with torch.randn on every call, as upstream does in inference too:
  seeding torch before the exported tower and before the recomputation makes
  both draw the same logits.
- DAT: DSSM whose towers also read an augment_input group (the augmented
  vector) beside their input; in training the Adaptive-Mimic Mechanism losses
  amm_loss_u / amm_loss_i pull each normalised augmented vector towards the
  other tower's detached embedding. Checked with and without sample weights,
  the logged losses recomputed from a checkpoint as upstream's DAT.loss does.

TZREC_BINARY names the tzrec binary.
"""
import json
import os
import re
import shutil
import tempfile
import unittest

import torch
import torch.nn.functional as F

from tzrec_cli import load_dcp, random_inputs, read_csv, run, small_config_head

BAGS = "model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags."


def pooled(state, prefix, name, data, mean=False):
    """Sum (or mean) pooled embeddings of feature `name` from its table."""
    table = state[prefix + f"{name}_emb.weight"]
    lengths = data[f"{name}.lengths"]
    offsets = torch.cumsum(lengths, 0) - lengths
    out = F.embedding_bag(data[f"{name}.values"], table, offsets, mode="sum")
    if mean:
        out = out / torch.clamp(lengths, min=1).unsqueeze(1).to(out.dtype)
    return out


def mlp(state, prefix, x, activation=torch.relu):
    """Upstream's MLP without batch norm: Linear (+bias) -> activation per layer."""
    i = 0
    while f"{prefix}mlp.{i}.perceptron.0.weight" in state:
        p = f"{prefix}mlp.{i}.perceptron.0."
        x = activation(F.linear(x, state[p + "weight"], state.get(p + "bias")))
        i += 1
    return x


class TrainedModel:
    """Trains `config` (a str.format template over {root}) once in a temp dir
    and exports it with FP32 tables."""

    def __init__(self, prefix, config):
        self.root = tempfile.mkdtemp(prefix=prefix)
        self.config_path = os.path.join(self.root, "pipeline.config")
        with open(self.config_path, "w") as f:
            f.write(config.format(root=self.root))
        run(["gen_data", "--pipeline_config_path", self.config_path,
             "--output_dir", os.path.join(self.root, "data"), "--num_rows", "400", "--seed", "5"])
        run(["train_eval", "--pipeline_config_path", self.config_path])
        self.export_dir = os.path.join(self.root, "export")
        run(["export", "--pipeline_config_path", self.config_path, "--export_dir", self.export_dir],
            env_extra={"QUANT_EMB": "0"})

    def state(self):
        model_dir = os.path.join(self.root, "model")
        steps = [int(d.split("-")[-1]) for d in os.listdir(model_dir) if d.startswith("model.ckpt-")]
        return load_dcp(os.path.join(model_dir, f"model.ckpt-{max(steps)}", "model"))

    def tower(self, name):
        model = torch.jit.load(os.path.join(self.export_dir, name, "scripted_model.pt"))
        model.eval()
        return model

    def close(self):
        shutil.rmtree(self.root, ignore_errors=True)


DSSM_V2_CONFIG = small_config_head("clk", 32, tags_dim=4) + """
model_config {{
  feature_groups {{ group_name: "user" feature_names: "user_id" feature_names: "age" feature_names: "tags" group_type: DEEP }}
  feature_groups {{ group_name: "item" feature_names: "item_id" feature_names: "tags" feature_names: "price" group_type: DEEP }}
  dssm_v2 {{
    user_tower {{ input: "user" mlp {{ hidden_units: [16, 8] }} }}
    item_tower {{ input: "item" mlp {{ hidden_units: [16] }} }}
    output_dim: 6
    similarity: COSINE
    temperature: 0.2
    in_batch_negative: true
  }}
  metrics {{ recall_at_k {{ top_k: 1 }} }}
  losses {{ softmax_cross_entropy {{}} }}
}}
"""


class DSSMV2Test(unittest.TestCase):
    GROUPS = {"user": [("user_id", "sum"), ("age", "dense"), ("tags", "mean")],
              "item": [("item_id", "sum"), ("tags", "mean"), ("price", "dense")]}

    @classmethod
    def setUpClass(cls):
        cls.model = TrainedModel("tzrec_dssm_v2_", DSSM_V2_CONFIG)
        cls.state = cls.model.state()

    @classmethod
    def tearDownClass(cls):
        cls.model.close()

    def reference_tower(self, tower, data):
        # DSSMV2's shared EmbeddingGroup gives the group tensor; the tower is
        # MLP -> output Linear -> F.normalize (COSINE).
        parts = []
        for name, kind in self.GROUPS[tower]:
            if kind == "dense":
                parts.append(data[f"{name}.values"])
            else:
                parts.append(pooled(self.state, BAGS, name, data, mean=kind == "mean"))
        prefix = f"model.{tower}_tower."
        x = mlp(self.state, prefix + "mlp.", torch.cat(parts, 1))
        x = F.linear(x, self.state[prefix + "output.weight"], self.state[prefix + "output.bias"])
        return F.normalize(x, p=2.0, dim=1)

    def test_checkpoint_has_upstream_names(self):
        names = {k for k in self.state if k.startswith("model.")}
        expected = {BAGS + f"{f}_emb.weight" for f in ("user_id", "item_id", "tags")}
        for tower, layers in (("user", 2), ("item", 1)):
            for i in range(layers):
                expected |= {f"model.{tower}_tower.mlp.mlp.{i}.perceptron.0.{p}" for p in ("weight", "bias")}
            expected |= {f"model.{tower}_tower.output.{p}" for p in ("weight", "bias")}
        self.assertEqual(names, expected)

    def test_towers_match_the_recomputed_forward(self):
        data = random_inputs({"user_id": 50, "item_id": 40, "tags": 30}, ["age", "price"], 24, seed=11)
        with torch.no_grad():
            for tower in ("user", "item"):
                out = self.model.tower(tower)(data)[f"{tower}_tower_emb"]
                self.assertEqual(tuple(out.shape), (24, 6))
                torch.testing.assert_close(out, self.reference_tower(tower, data), rtol=1e-5, atol=1e-5)
        # The exported tower holds its own group's tables under the model's names.
        params = dict(self.model.tower("user").named_parameters())
        self.assertIn("embedding_group.emb_impls.__BASE__.ebc.embedding_bags.tags_emb.weight", params)
        self.assertNotIn("embedding_group.emb_impls.__BASE__.ebc.embedding_bags.item_id_emb.weight", params)


MIND_CONFIG = small_config_head("clk", 32, tags_dim=4) + """
feature_configs {{ sequence_id_feature {{ feature_name: "hist_item" expression: "user:hist_item" sequence_length: 5
                                         sequence_delim: "|" hash_bucket_size: 40 embedding_dim: 8 }} }}
model_config {{
  feature_groups {{ group_name: "user" feature_names: "user_id" feature_names: "age" group_type: DEEP }}
  feature_groups {{ group_name: "item" feature_names: "item_id" feature_names: "tags" feature_names: "price" group_type: DEEP }}
  feature_groups {{ group_name: "hist" feature_names: "hist_item" group_type: SEQUENCE }}
  mind {{
    user_tower {{
      input: "user"
      history_input: "hist"
      user_mlp {{ hidden_units: [16, 8] dropout_ratio: 0.1 }}
      hist_seq_mlp {{ hidden_units: [16, 12] use_bn: true }}
      capsule_config {{ max_k: 3 max_seq_len: 4 high_dim: 10 num_iters: 3 squash_pow: 0.2
                        routing_logits_scale: 20 routing_logits_stddev: 1 }}
      concat_mlp {{ hidden_units: [16, 8] bias: false }}
    }}
    item_tower {{ input: "item" mlp {{ hidden_units: [16] }} }}
    output_dim: 6
    simi_pow: 20
    similarity: COSINE
    temperature: 0.2
    in_batch_negative: true
  }}
  metrics {{ recall_at_k {{ top_k: 1 }} }}
  losses {{ softmax_cross_entropy {{}} }}
}}
"""


class MINDTest(unittest.TestCase):
    MAX_K, MAX_SEQ_LEN = 3, 4
    USER_BAGS = "model.user_tower.embedding_group.emb_impls.__BASE__.ebc.embedding_bags."
    USER_SEQ = "model.user_tower.embedding_group.seq_emb_impls.__BASE__.ec_dict.8.embeddings."
    ITEM_BAGS = "model.item_tower.embedding_group.emb_impls.__BASE__.ebc.embedding_bags."

    @classmethod
    def setUpClass(cls):
        cls.model = TrainedModel("tzrec_mind_", MIND_CONFIG)
        cls.state = cls.model.state()

    @classmethod
    def tearDownClass(cls):
        cls.model.close()

    def inputs(self, batch_size, seed):
        data = random_inputs({"user_id": 50, "item_id": 40, "tags": 30}, ["age", "price"], batch_size, seed)
        gen = torch.Generator().manual_seed(seed + 100)
        # 0..5 history items: empty rows, and rows longer than max_seq_len.
        lengths = torch.randint(0, 6, (batch_size,), generator=gen)
        lengths[0] = 5
        data["hist_item.lengths"] = lengths
        data["hist_item.values"] = torch.randint(0, 40, (int(lengths.sum()),), generator=gen)
        return data

    def batch_norm(self, x, prefix):
        # nn.BatchNorm1d in eval mode over the feature axis.
        return F.batch_norm(x, self.state[prefix + "running_mean"], self.state[prefix + "running_var"],
                            self.state[prefix + "weight"], self.state[prefix + "bias"], False, 0.0, 1e-5)

    def capsules(self, x, seq_len):
        """Upstream's CapsuleLayer.forward; the logits come first from torch.randn."""
        b, s, _ = x.shape
        logits = torch.randn(b, self.MAX_SEQ_LEN, self.MAX_K)
        x = torch.cat([x[:, :self.MAX_SEQ_LEN], torch.zeros(b, self.MAX_SEQ_LEN, x.size(2))[:, s:]], 1)
        seq_mask = torch.arange(self.MAX_SEQ_LEN).unsqueeze(0) < seq_len.unsqueeze(1)
        x = x * seq_mask.unsqueeze(-1).float()
        n = torch.maximum(torch.tensor([1.0]), torch.minimum(torch.tensor([float(self.MAX_K)]),
                                                             torch.log2(seq_len.float())))
        cap_mask = torch.arange(self.MAX_K).unsqueeze(0) < n.unsqueeze(1)
        thresh = (cap_mask.unsqueeze(1).float() * 2 - 1) * float("inf")
        low = torch.einsum("bsl,lh->bsh", x, self.state["model.user_tower._capsule_layer.bilinear_matrix"])
        low_norm = F.normalize(low, p=2.0, dim=-1)
        for it in range(3):
            logits = F.softmax(torch.minimum(logits, thresh) * 20, dim=2) * seq_mask.unsqueeze(2).float()
            high = torch.einsum("bsh,bsk->bkh", low, logits)
            if it < 2:
                logits = logits + torch.einsum("bkh,bsh->bsk", high, low_norm)
        norm = torch.max(torch.linalg.norm(high, dim=-1, keepdim=True), torch.tensor(1e-7))
        high = torch.pow(norm.square() / (1 + norm.square()), 0.2) / norm * high
        return high * cap_mask.unsqueeze(-1).float(), cap_mask

    def reference_user(self, data):
        st, p = self.state, "model.user_tower."
        user = torch.cat([pooled(st, self.USER_BAGS, "user_id", data), data["age.values"]], 1)
        user = torch.relu(F.linear(user, st[p + "user_mlp.mlp.0.perceptron.0.weight"],
                                   st[p + "user_mlp.mlp.0.perceptron.0.bias"]))
        user = F.linear(user, st[p + "user_mlp_out.weight"], st[p + "user_mlp_out.bias"])
        # The history as the padded [B, L, 8] sequence (L: the batch's longest).
        lengths = data["hist_item.lengths"]
        rows = F.embedding(data["hist_item.values"], st[self.USER_SEQ + "hist_item_emb.weight"])
        hist = torch.zeros(len(lengths), int(lengths.max()), 8)
        for r, chunk in enumerate(torch.split(rows, lengths.tolist())):
            hist[r, :len(chunk)] = chunk
        # _hist_seq_mlp: Linear (no bias: use_bn) -> Transpose -> BatchNorm1d -> Transpose -> ReLU.
        q = p + "_hist_seq_mlp.mlp.0.perceptron."
        hist = F.linear(hist, st[q + "0.weight"])
        hist = torch.relu(self.batch_norm(hist.transpose(1, 2), q + "2.").transpose(1, 2))
        hist = F.linear(hist, st[p + "_hist_seq_mlp_out.weight"])
        caps, mask = self.capsules(hist, lengths)
        weight = mask.unsqueeze(-1).float()
        x = torch.cat([user.unsqueeze(1).tile(1, self.MAX_K, 1), caps], -1) * weight
        for i in range(2):
            x = torch.relu(F.linear(x, st[p + f"_concat_mlp.mlp.{i}.perceptron.0.weight"]))
        x = F.linear(x * weight, st[p + "output.weight"])
        return F.normalize(x, p=2.0, dim=-1), mask

    def reference_item(self, data):
        st, p = self.state, "model.item_tower."
        x = torch.cat([pooled(st, self.ITEM_BAGS, "item_id", data),
                       pooled(st, self.ITEM_BAGS, "tags", data, mean=True), data["price.values"]], 1)
        x = mlp(st, p + "mlp.", x)
        return F.normalize(F.linear(x, st[p + "output.weight"], st[p + "output.bias"]), p=2.0, dim=1)

    def test_checkpoint_has_upstream_names(self):
        names = {k for k in self.state if k.startswith("model.")}
        p = "model.user_tower."
        bn = p + "_hist_seq_mlp.mlp.0.perceptron.2."
        expected = {self.USER_BAGS + "user_id_emb.weight", self.USER_SEQ + "hist_item_emb.weight",
                    p + "user_mlp.mlp.0.perceptron.0.weight", p + "user_mlp.mlp.0.perceptron.0.bias",
                    p + "user_mlp_out.weight", p + "user_mlp_out.bias",
                    p + "_hist_seq_mlp.mlp.0.perceptron.0.weight", bn + "weight", bn + "bias",
                    bn + "running_mean", bn + "running_var", bn + "num_batches_tracked",
                    p + "_hist_seq_mlp_out.weight", p + "_capsule_layer.bilinear_matrix",
                    p + "_concat_mlp.mlp.0.perceptron.0.weight", p + "_concat_mlp.mlp.1.perceptron.0.weight",
                    p + "output.weight",
                    self.ITEM_BAGS + "item_id_emb.weight", self.ITEM_BAGS + "tags_emb.weight",
                    "model.item_tower.mlp.mlp.0.perceptron.0.weight", "model.item_tower.mlp.mlp.0.perceptron.0.bias",
                    "model.item_tower.output.weight", "model.item_tower.output.bias"}
        self.assertEqual(names, expected)

    def test_towers_match_the_recomputed_forward(self):
        data = self.inputs(24, seed=11)
        user, item = self.model.tower("user"), self.model.tower("item")
        with torch.no_grad():
            torch.manual_seed(123)
            interests = user(data)["user_tower_emb"]
            torch.manual_seed(123)
            ref_interests, mask = self.reference_user(data)
            self.assertEqual(tuple(interests.shape), (24, self.MAX_K, 6))
            torch.testing.assert_close(interests, ref_interests, rtol=1e-5, atol=1e-5)
            # Interests per row: j < max(1, min(3, log2(length))) (the length before
            # the cut to max_seq_len); the others are zero.
            counts = {0: 1, 1: 1, 2: 1, 3: 2, 4: 2, 5: 3}
            self.assertEqual(mask.sum(1).tolist(), [counts[n] for n in data["hist_item.lengths"].tolist()])
            self.assertEqual(float(interests[~mask].abs().sum()), 0.0)
            item_emb = item(data)["item_tower_emb"]
            torch.testing.assert_close(item_emb, self.reference_item(data), rtol=1e-5, atol=1e-5)
            # Another draw of the routing logits moves the interests.
            torch.manual_seed(7)
            self.assertFalse(torch.allclose(user(data)["user_tower_emb"], interests))


DAT_MODEL = """
model_config {{
  feature_groups {{ group_name: "user" feature_names: "user_id" feature_names: "age" group_type: DEEP }}
  feature_groups {{ group_name: "item" feature_names: "item_id" feature_names: "tags" feature_names: "price" group_type: DEEP }}
  feature_groups {{ group_name: "user_augment" feature_names: "user_id" group_type: DEEP }}
  feature_groups {{ group_name: "item_augment" feature_names: "item_id" group_type: DEEP }}
  dat {{
    user_tower {{ input: "user" augment_input: "user_augment" mlp {{ hidden_units: [16, 12] }} }}
    item_tower {{ input: "item" augment_input: "item_augment" mlp {{ hidden_units: [16] }} }}
    output_dim: 8
    amm_u_weight: 0.5
    amm_i_weight: 0.25
    similarity: COSINE
    temperature: 0.2
    in_batch_negative: true
  }}
  metrics {{ recall_at_k {{ top_k: 1 }} }}
  losses {{ softmax_cross_entropy {{}} }}
}}
"""


class _DATCheck:
    """Trains DAT with tzrec (one reader worker: batch k is rows 64k.. of
    train.csv; every step logged), exports it in FP32 and checks the towers
    and the training log against upstream's definition."""

    WEIGHT = None  # data_config.sample_weight_fields[0], when set
    AMM_U, AMM_I, TEMPERATURE = 0.5, 0.25, 0.2
    # As upstream's example: user_id / item_id feed both their tower's input
    # and augment groups (one table each); the augment width (8) is output_dim.
    GROUPS = {"user": [("user_id", "sum"), ("age", "dense")],
              "item": [("item_id", "sum"), ("tags", "mean"), ("price", "dense")]}
    AUGMENT = {"user": "user_id", "item": "item_id"}
    SPARSE = {"user_id": 50, "item_id": 40, "tags": 30}
    DENSE = ["age", "price"]

    @classmethod
    def setUpClass(cls):
        extra = "num_workers: 1"
        if cls.WEIGHT:
            extra += f' sample_weight_fields: "{cls.WEIGHT}"'
        head = small_config_head("clk", 64, data_extra=extra)
        head = head.replace("num_steps: 6", "num_steps: 6\n  log_step_count_steps: 1")
        cls.root = tempfile.mkdtemp(prefix="tzrec_dat_")
        config_path = os.path.join(cls.root, "pipeline.config")
        with open(config_path, "w") as f:
            f.write((head + DAT_MODEL).format(root=cls.root))
        run(["gen_data", "--pipeline_config_path", config_path,
             "--output_dir", os.path.join(cls.root, "data"), "--num_rows", "500", "--seed", "7"])
        cls.train_log = run(["train_eval", "--pipeline_config_path", config_path]).stderr
        cls.export_dir = os.path.join(cls.root, "export")
        run(["export", "--pipeline_config_path", config_path, "--export_dir", cls.export_dir],
            env_extra={"QUANT_EMB": "0"})

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def state(self, step=None):
        model_dir = os.path.join(self.root, "model")
        if step is None:
            step = max(int(d.split("-")[-1]) for d in os.listdir(model_dir) if d.startswith("model.ckpt-"))
        return load_dcp(os.path.join(model_dir, f"model.ckpt-{step}", "model"))

    @staticmethod
    def bags(tower):
        return f"model.{tower}_tower.embedding_group.emb_impls.__BASE__.ebc.embedding_bags."

    def reference_tower(self, state, tower, data):
        """Upstream's DATTower: (tower output, augmented vector), where the
        output is F.normalize(output(MLP(cat([input group, augment group]))))."""
        parts = []
        for name, kind in self.GROUPS[tower]:
            if kind == "dense":
                parts.append(data[f"{name}.values"])
            else:
                parts.append(pooled(state, self.bags(tower), name, data, mean=kind == "mean"))
        augment = pooled(state, self.bags(tower), self.AUGMENT[tower], data)
        prefix = f"model.{tower}_tower."
        x = mlp(state, prefix + "mlp.", torch.cat(parts + [augment], 1))
        x = F.linear(x, state[prefix + "output.weight"], state[prefix + "output.bias"])
        return F.normalize(x, p=2.0, dim=1), augment

    def test_checkpoint_has_upstream_names(self):
        names = {k for k in self.state() if k.startswith("model.")}
        expected = {self.bags("user") + "user_id_emb.weight",
                    self.bags("item") + "item_id_emb.weight", self.bags("item") + "tags_emb.weight"}
        for tower, layers in (("user", 2), ("item", 1)):
            for i in range(layers):
                expected |= {f"model.{tower}_tower.mlp.mlp.{i}.perceptron.0.{p}" for p in ("weight", "bias")}
            expected |= {f"model.{tower}_tower.output.{p}" for p in ("weight", "bias")}
        self.assertEqual(names, expected)

    def test_towers_match_the_recomputed_forward(self):
        state = self.state()
        data = random_inputs(self.SPARSE, self.DENSE, 24, seed=11)
        with torch.no_grad():
            for tower in ("user", "item"):
                model = torch.jit.load(os.path.join(self.export_dir, tower, "scripted_model.pt")).eval()
                out = model(data)
                self.assertEqual(set(out), {f"{tower}_tower_emb"})
                emb = out[f"{tower}_tower_emb"]
                self.assertEqual(emb.dtype, torch.float32)
                self.assertEqual(tuple(emb.shape), (24, 8))
                ref, _ = self.reference_tower(state, tower, data)
                torch.testing.assert_close(emb, ref, rtol=1e-5, atol=1e-5)
                self.assertGreater(float(emb.std(0).sum()), 0.0)
                # The tower holds its own tables only, under the model's names
                # (upstream's TowerWrapper keeps the <tower>_tower attribute).
                params = {n for n, _ in model.named_parameters() if "embedding_bags" in n}
                own = {n[len("model."):] for n in state if n.startswith(self.bags(tower))}
                self.assertEqual(params, own)

    def logged_losses(self, step):
        line = [line for line in self.train_log.splitlines() if re.search(rf"\bstep {step} epoch", line)]
        self.assertTrue(line, self.train_log[-2000:])
        losses = {name: float(value) for name, value in
                  re.findall(r" ([a-z0-9_]+):(-?[0-9.]+)(?=\s|$)", line[0])}
        losses.pop("sparse", None)
        losses.pop("dense", None)
        total = float(re.search(r"total_loss: (-?[0-9.]+)", line[0]).group(1))
        return losses, total

    def expected_losses(self, state, rows, header):
        """Upstream's DAT.predict (training mode) and DAT.loss on `rows`."""
        col = {name: i for i, name in enumerate(header)}
        data = {}
        for name in self.SPARSE:
            cells = [row[col[name]] for row in rows]
            values = [[int(v) for v in cell.split("\x03")] if cell else [] for cell in cells]
            data[f"{name}.values"] = torch.tensor([v for vs in values for v in vs], dtype=torch.int64)
            data[f"{name}.lengths"] = torch.tensor([len(vs) for vs in values], dtype=torch.int64)
        for name in self.DENSE:
            data[f"{name}.values"] = torch.tensor([[float(row[col[name]])] for row in rows])
        user_emb, user_augment = self.reference_tower(state, "user", data)
        item_emb, item_augment = self.reference_tower(state, "item", data)
        sim = user_emb @ item_emb.t() / self.TEMPERATURE
        batch = sim.size(0)
        weighted = self.WEIGHT is not None
        dims = 1 if weighted else (0, 1)
        losses = {
            "softmax_cross_entropy": F.cross_entropy(sim, torch.arange(batch),
                                                     reduction="none" if weighted else "mean"),
            "amm_loss_u": self.AMM_U * torch.sum(torch.square(
                F.normalize(user_augment, p=2.0, dim=1) - item_emb[:batch]), dim=dims),
            "amm_loss_i": self.AMM_I * torch.sum(torch.square(
                F.normalize(item_augment[:batch], p=2.0, dim=1) - user_emb), dim=dims),
        }
        if weighted:
            w = torch.tensor([float(row[col[self.WEIGHT]]) for row in rows])
            # div_no_nan(mean(loss * w), mean(w))
            losses = {k: torch.mean(v * w) / torch.mean(w) for k, v in losses.items()}
        return {k: float(v) for k, v in losses.items()}

    def test_training_losses_match_upstream_definition(self):
        # Step 4 trains on rows 256..319 with the parameters model.ckpt-3 holds.
        header, rows = read_csv(os.path.join(self.root, "data", "train.csv"))
        with torch.no_grad():
            expected = self.expected_losses(self.state(3), rows[256:320], header)
        logged, total = self.logged_losses(4)
        self.assertEqual(set(logged), {"softmax_cross_entropy", "amm_loss_u", "amm_loss_i"})
        for name, value in expected.items():
            # The log prints 5 decimals; the amm sums run over 64 x 8 values.
            self.assertAlmostEqual(logged[name], value, delta=2e-5 + 2e-6 * abs(value), msg=name)
        self.assertGreater(logged["amm_loss_u"], 0.0)
        # Upstream optimises the plain sum of the losses.
        self.assertAlmostEqual(total, sum(logged.values()), delta=4e-5)

    def test_eval_has_no_mimic_losses(self):
        with open(os.path.join(self.root, "model", "train_eval_result_v2.txt")) as f:
            last = json.loads(f.read().splitlines()[-1])
        self.assertIn("softmax_cross_entropy", last)
        self.assertFalse([k for k in last if "amm" in k], last)


class DATTest(_DATCheck, unittest.TestCase):
    pass


class DATSampleWeightTest(_DATCheck, unittest.TestCase):
    WEIGHT = "w"


if __name__ == "__main__":
    unittest.main()
