#!/usr/bin/env python3
"""Writes (and reads back) TorchEasyRec-style checkpoints with the real torch,
torchrec and fbgemm, so tzrec's C++ DCP reader and writer can be tested against
bytes torch itself wrote and reads.

Run it with the test virtual environment (scripts/venv.sh prints its python).

Write mode:
  python tests/dcp/torchrec_checkpoint.py --model {deepfm,mmoe,dssm} \
      --world_size N --sharding {table_wise,row_wise,column_wise,data_parallel,
      table_row_wise} --steps S --out DIR [--seed K] [--local_world_size L]
      [--sparse_optimizer {adagrad,adam,rowwise_adagrad}] [--param_groups]
      [--record_next_step]
writes, as TorchEasyRec's train loop and save_model do:
  DIR/model.ckpt-<S-1>/model/       dcp.save(model.state_dict())
  DIR/model.ckpt-<S-1>/optimizer/   dcp.save(optimizer.state_dict())
  DIR/model.ckpt-<S-1>/plan         the sharding plan JSON (rank 0)
  DIR/reference.pt                  see below
N forked CPU processes on gloo build the model of tests/dcp/<model>.config
(TorchEasyRec's module names and forward math, which tzrec's C++ models
share), wrap it in a TrainWrapper (attribute `model`, so every key starts with
`model.`), apply the fused sparse optimizer with apply_optimizer_in_backward,
shard it with DistributedModelParallel under a planner whose constraints allow
only --sharding for every table, wrap the dense parameters' Adam in a
KeyedOptimizerWrapper and combine both with CombinedOptimizer (wrapped like
TZRecOptimizer), train S steps on deterministic per-rank random batches and
save. CPU limits (torchrec 1.7 / fbgemm-gpu-cpu 1.7):
  - torchrec's sharder offers row_wise / table_row_wise only on CUDA; the
    CPU sharder here adds them (same ShardedTensors, same DCP entries).
  - fbgemm's CPU kernels implement (rowwise) Adagrad and SGD only: fused
    Adam (dssm's sparse optimizer) runs on GPU only, so dssm uses rowwise
    Adagrad unless --sharding data_parallel (whose tables torch's Adam, the
    dense optimizer, updates: data-parallel tables are not "in backward").
  - table_row_wise: with --local_world_size < world_size (several simulated
    hosts) each table's row blocks live on one host's ranks; on one host it
    is laid out like row_wise.

reference.pt (torch.save of a dict):
  inputs     Dict[str, Tensor]: 16 rows in the scripted-model input convention
             (<id>.values int64 ids, <id>.lengths int64 [B]; <raw>.values
             float [B, 1])
  outputs    Dict[str, Tensor]: the eval-mode forward on `inputs` of a plain
             (unsharded) model dcp.load-ed single-process from the checkpoint:
             deepfm logits, probs [B]; mmoe logits_<tower>, probs_<tower>;
             dssm user_tower_emb, item_tower_emb [B, 6], similarity [B, B]
  tables     Dict[str, Tensor]: every full embedding table, by state-dict key
  state      Dict[str, Tensor]: the full model state dict
  optimizer  Dict[str, Tensor]: every entry of optimizer/.metadata, by its
             flattened key, as a full tensor
  sharded_outputs: the same forward run by the sharded model (checked equal
             to `outputs` within 1e-5)
  meta       model, world_size, sharding, steps, seed, sparse_optimizer, plan
  after_step (--record_next_step, world_size 1 only) the training step S that
             follows the checkpoint, taken by the same torch process right after
             saving (the live model and optimizer are what the checkpoint holds):
               csv        "next_step.csv", the step's batch in tests/dcp/<model>
                          .config's input format (written to DIR/next_step.csv)
               rows       its row count (the step's batch size)
               loss       the step's loss
               state      the full model state dict after the step
               optimizer  every optimizer state after the step, by flattened
                          key (the keys of optimizer/.metadata)
             so `tzrec train_eval --continue_train` from model.ckpt-<S-1> with
             that CSV as its only batch must produce the same model.ckpt-<S>.

Read mode (checkpoints tzrec writes):
  ... --model M --load CKPT_DIR --dump FILE [--world_size N] [--sharding S]
builds M sharded over N processes (0: plain modules, no process group) and
dcp.loads CKPT_DIR/model and CKPT_DIR/optimizer (states the checkpoint lacks
are skipped, as tzrec's PartialLoadPlanner does), then torch.saves
{"model": full tensors, "optimizer": full tensors by flattened key,
"optimizer_skipped": live keys absent from the checkpoint,
"optimizer_unused": checkpoint keys the live optimizer has no place for,
"outputs": forward on the reference batch of --seed, "plan"} to FILE.

Check mode (the Python model against tzrec's):
  ... --model M --tzrec_state CKPT_DIR/model [--tzrec_export EXPORT_DIR]
the checkpoint's keys and shapes must be exactly the Python model's, and the
export (QUANT_EMB=0) must compute the Python forward within 1e-6.
"""
import argparse
import contextlib
import io
import json
import logging
import os
import shutil
import socket
import sys
import tempfile
import warnings
from collections import OrderedDict

os.environ.setdefault("OMP_NUM_THREADS", "1")


def _quiet():
    """Keeps torch/torchrec/fbgemm chatter off the terminal."""
    warnings.filterwarnings("ignore")
    os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "ERROR")
    os.environ.setdefault("TQDM_DISABLE", "1")
    logging.disable(logging.WARNING)


_quiet()

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
import torch.distributed.checkpoint as dcp  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

with contextlib.redirect_stderr(io.StringIO()):
    import torchrec  # noqa: E402,F401  (fbgemm's import-time warnings)
    from torchrec.distributed.model_parallel import DistributedModelParallel  # noqa: E402
    from torchrec.distributed.planner import (  # noqa: E402
        EmbeddingShardingPlanner,
        ParameterConstraints,
        Topology,
    )
    from torchrec.distributed.embeddingbag import EmbeddingBagCollectionSharder  # noqa: E402
    from torchrec.modules.embedding_configs import EmbeddingBagConfig, PoolingType  # noqa: E402
    from torchrec.modules.embedding_modules import EmbeddingBagCollection  # noqa: E402
    from torchrec.optim import optimizers as fused_optimizers  # noqa: E402
    from torchrec.optim import rowwise_adagrad  # noqa: E402
    from torchrec.optim.apply_optimizer_in_backward import apply_optimizer_in_backward  # noqa: E402
    from torchrec.optim.keyed import (  # noqa: E402
        CombinedOptimizer,
        KeyedOptimizerWrapper,
        OptimizerWrapper,
    )
    from torchrec.optim.optimizers import in_backward_optimizer_filter  # noqa: E402
    from torchrec.sparse.jagged_tensor import KeyedJaggedTensor  # noqa: E402
    from torch.distributed.checkpoint._nested_dict import flatten_state_dict  # noqa: E402
    from torch.distributed.checkpoint.default_planner import DefaultLoadPlanner  # noqa: E402
    from fbgemm_gpu.split_table_batched_embeddings_ops_training import WeightDecayMode  # noqa: E402

SHARDINGS = ["table_wise", "row_wise", "column_wise", "data_parallel", "table_row_wise"]
MODELS = ["deepfm", "mmoe", "dssm"]
BATCH_SIZE = 16      # training rows per rank and step, and the reference batch

# --------------------------------------------------------------------------
# Model specs: these must match tests/dcp/<model>.config exactly (features,
# tables, groups in config order, MLPs, towers, losses).
# --------------------------------------------------------------------------
# Row counts are primes, so a row-wise split over 2, 3 or 4 ranks leaves a
# shorter last block; dims are multiples of 4 so column-wise sharding with
# min_partition 4 cuts 16-wide tables into 4 and 8-wide ones into 2 shards.
# kind: "id" (one id per row), "multi" (0-3 ids per row), "raw" (one float).
def _features(tags_dim):
    return OrderedDict([
        ("user_id", dict(kind="id", buckets=53, dim=16, pooling="sum")),
        ("age", dict(kind="raw")),
        ("item_id", dict(kind="id", buckets=47, dim=16, pooling="sum")),
        ("tags", dict(kind="multi", buckets=31, dim=tags_dim, pooling="mean")),
        ("price", dict(kind="raw")),
    ])


FEATURES = {"deepfm": _features(16), "mmoe": _features(8), "dssm": _features(8)}

MODEL_SPECS = {
    "deepfm": dict(
        groups=[("wide", "WIDE", ["user_id", "item_id", "tags"]),
                ("fm", "DEEP", ["user_id", "item_id", "tags"]),
                ("deep", "DEEP", ["user_id", "age", "item_id", "tags", "price"])],
        wide_embedding_dim=4,
        deep=dict(hidden_units=[16, 8]),
        final=dict(hidden_units=[8]),
        labels=["clk"],
        sparse_optimizer=("adagrad", dict(lr=0.05)),
        dense_optimizer=dict(lr=0.01),
    ),
    "mmoe": dict(
        groups=[("all", "DEEP", ["user_id", "age", "item_id", "tags", "price"])],
        expert_mlp=dict(hidden_units=[16, 8], use_bn=True),
        gate_mlp=dict(hidden_units=[8]),
        num_expert=3,
        towers=[("ctr", "clk", dict(hidden_units=[8])),
                ("cvr", "buy", dict(hidden_units=[8]))],
        labels=["clk", "buy"],
        sparse_optimizer=("adagrad", dict(lr=0.05)),
        dense_optimizer=dict(lr=0.01),
    ),
    "dssm": dict(
        groups=[("user", "DEEP", ["user_id", "age"]),
                ("item", "DEEP", ["item_id", "tags", "price"])],
        user_tower=dict(input="user", mlp=dict(hidden_units=[16, 8])),
        item_tower=dict(input="item", mlp=dict(hidden_units=[16])),
        output_dim=6,
        cosine=True,
        temperature=0.2,
        labels=["clk"],
        sparse_optimizer=("adam", dict(lr=0.01)),
        dense_optimizer=dict(lr=0.01),
    ),
}


# --------------------------------------------------------------------------
# Modules, named as in TorchEasyRec (tzrec/modules/*.py, tzrec/models/*.py).
# --------------------------------------------------------------------------
class EmbeddingGroupImpl(nn.Module):
    """tzrec.modules.embedding.EmbeddingGroupImpl for DEEP/WIDE groups: one
    EmbeddingBagCollection (`ebc`) over every table of the groups, tables in
    order of first use; each group is the concatenation, in config order, of
    its features' pooled embeddings and raw values."""

    def __init__(self, features, groups, wide_embedding_dim=4, device=None):
        super().__init__()
        tables = OrderedDict()
        self._groups = OrderedDict()   # group -> [(feature, kt key or None)]
        feature_tables = OrderedDict()  # feature -> [table names]
        for group_name, group_type, names in groups:
            for name in names:
                f = features[name]
                if f["kind"] == "raw":
                    continue
                table = name + "_emb" + ("_wide" if group_type == "WIDE" else "")
                if table not in tables:
                    tables[table] = EmbeddingBagConfig(
                        num_embeddings=f["buckets"],
                        embedding_dim=wide_embedding_dim if group_type == "WIDE" else f["dim"],
                        name=table,
                        feature_names=[name],
                        pooling=PoolingType.MEAN if f["pooling"] == "mean" else PoolingType.SUM,
                    )
                    feature_tables.setdefault(name, []).append(table)
        for group_name, group_type, names in groups:
            members = []
            for name in names:
                f = features[name]
                if f["kind"] == "raw":
                    members.append((name, None))
                    continue
                table = name + "_emb" + ("_wide" if group_type == "WIDE" else "")
                shared = len(feature_tables[name]) > 1
                members.append((name, f"{name}@{table}" if shared else name))
            self._groups[group_name] = members
        self._sparse = list(feature_tables.keys())
        self.ebc = EmbeddingBagCollection(list(tables.values()), device=device)

    def forward(self, data):
        kjt = KeyedJaggedTensor(
            keys=self._sparse,
            values=torch.cat([data[f"{n}.values"] for n in self._sparse]),
            lengths=torch.cat([data[f"{n}.lengths"] for n in self._sparse]),
        )
        pooled = self.ebc(kjt).to_dict()
        out = {}
        for group, members in self._groups.items():
            parts = [data[f"{n}.values"] if key is None else pooled[key] for n, key in members]
            out[group] = torch.cat(parts, dim=1)
        return out


class EmbeddingGroup(nn.Module):
    """tzrec.modules.embedding.EmbeddingGroup: emb_impls.__BASE__."""

    def __init__(self, features, groups, wide_embedding_dim=4, device=None):
        super().__init__()
        self.emb_impls = nn.ModuleDict(
            {"__BASE__": EmbeddingGroupImpl(features, groups, wide_embedding_dim, device)})
        self.seq_emb_impls = nn.ModuleDict()

    def forward(self, data):
        return self.emb_impls["__BASE__"](data)


class Perceptron(nn.Module):
    def __init__(self, in_features, out_features, activation="nn.ReLU", use_bn=False,
                 bias=True):
        super().__init__()
        self.perceptron = nn.Sequential(
            nn.Linear(in_features, out_features, bias=False if use_bn else bias))
        if use_bn:
            self.perceptron.append(nn.BatchNorm1d(out_features))
        if activation:
            assert activation == "nn.ReLU", activation
            self.perceptron.append(nn.ReLU())

    def forward(self, x):
        return self.perceptron(x)


class MLP(nn.Module):
    def __init__(self, in_features, hidden_units, activation="nn.ReLU", use_bn=False,
                 bias=True):
        super().__init__()
        self.hidden_units = list(hidden_units)
        self.mlp = nn.ModuleList()
        for i, out in enumerate(hidden_units):
            self.mlp.append(Perceptron(in_features if i == 0 else hidden_units[i - 1], out,
                                       activation, use_bn, bias))

    def output_dim(self):
        return self.hidden_units[-1]

    def forward(self, x):
        for m in self.mlp:
            x = m(x)
        return x


class FactorizationMachine(nn.Module):
    def forward(self, x):
        sum_of_input = torch.sum(x, dim=1)
        sum_of_square = torch.sum(x * x, dim=1)
        return 0.5 * (sum_of_input * sum_of_input - sum_of_square)


def _bce_outputs(y, suffix=""):
    y = torch.squeeze(y, dim=1)
    return {"logits" + suffix: y, "probs" + suffix: torch.sigmoid(y)}


class DeepFM(nn.Module):
    def __init__(self, features, spec, device=None):
        super().__init__()
        self.embedding_group = EmbeddingGroup(features, spec["groups"],
                                              spec["wide_embedding_dim"], device)
        dims = {g: [self._dim(features, n, t, spec) for n in names]
                for g, t, names in spec["groups"]}
        self._fm_dims = dims["fm"] if "fm" in dims else dims["deep"]
        assert len(set(self._fm_dims)) == 1
        self._has_fm_group = "fm" in dims
        self.fm = FactorizationMachine()
        self.deep_mlp = MLP(sum(dims["deep"]), **spec["deep"])
        final_dim = self.deep_mlp.output_dim()
        self._has_final = "final" in spec
        if self._has_final:
            self.final_mlp = MLP(1 + self._fm_dims[0] + final_dim, **spec["final"])
            final_dim = self.final_mlp.output_dim()
        self.output_mlp = nn.Linear(final_dim, 1)

    @staticmethod
    def _dim(features, name, group_type, spec):
        f = features[name]
        if f["kind"] == "raw":
            return 1
        return spec["wide_embedding_dim"] if group_type == "WIDE" else f["dim"]

    def forward(self, data):
        grouped = self.embedding_group(data)
        y_wide = torch.sum(grouped["wide"], dim=1, keepdim=True)
        deep_feat = grouped["deep"]
        y_deep = self.deep_mlp(deep_feat)
        fm_feat = grouped["fm"] if self._has_fm_group else deep_feat
        fm_feat = torch.reshape(fm_feat, (-1, len(self._fm_dims), self._fm_dims[0]))
        y_fm = self.fm(fm_feat)
        if self._has_final:
            y = self.output_mlp(self.final_mlp(torch.cat([y_wide, y_fm, y_deep], dim=1)))
        else:
            y = y_wide + torch.sum(y_fm, dim=1, keepdim=True) + self.output_mlp(y_deep)
        return _bce_outputs(y)

    def loss(self, predictions, data):
        return F.binary_cross_entropy_with_logits(predictions["logits"], data["clk"])


class MMoEModule(nn.Module):
    """tzrec.modules.mmoe.MMoE."""

    def __init__(self, in_features, expert_mlp, num_expert, num_task, gate_mlp=None):
        super().__init__()
        self.num_expert = num_expert
        self.num_task = num_task
        self.expert_mlps = nn.ModuleList([MLP(in_features, **expert_mlp)
                                          for _ in range(num_expert)])
        gate_final_in = in_features
        self.has_gate_mlp = gate_mlp is not None
        if self.has_gate_mlp:
            self.gate_mlps = nn.ModuleList([MLP(in_features, **gate_mlp)
                                            for _ in range(num_task)])
            gate_final_in = self.gate_mlps[0].output_dim()
        self.gate_finals = nn.ModuleList([nn.Linear(gate_final_in, num_expert)
                                          for _ in range(num_task)])

    def output_dim(self):
        return self.expert_mlps[0].output_dim()

    def forward(self, x):
        experts = torch.stack([m(x) for m in self.expert_mlps], dim=1)
        result = []
        for i in range(self.num_task):
            gate = self.gate_mlps[i](x) if self.has_gate_mlp else x
            gate = F.softmax(self.gate_finals[i](gate), dim=1).unsqueeze(1)
            result.append(torch.matmul(gate, experts).squeeze(1))
        return result


class TaskTower(nn.Module):
    def __init__(self, in_features, num_class, mlp=None):
        super().__init__()
        self.tower_mlp = None
        linear_in = in_features
        if mlp is not None:
            self.tower_mlp = MLP(in_features, **mlp)
            linear_in = self.tower_mlp.output_dim()
        self.linear = nn.Linear(linear_in, num_class)

    def forward(self, x):
        if self.tower_mlp is not None:
            x = self.tower_mlp(x)
        return self.linear(x)


class MMoE(nn.Module):
    def __init__(self, features, spec, device=None):
        super().__init__()
        self.embedding_group = EmbeddingGroup(features, spec["groups"], 4, device)
        self.group_name = spec["groups"][0][0]
        feature_in = sum(1 if features[n]["kind"] == "raw" else features[n]["dim"]
                         for n in spec["groups"][0][2])
        self._towers = spec["towers"]
        self.mmoe = MMoEModule(feature_in, spec["expert_mlp"], spec["num_expert"],
                               len(self._towers), spec.get("gate_mlp"))
        self._task_tower = nn.ModuleList([TaskTower(self.mmoe.output_dim(), 1, mlp)
                                          for _, _, mlp in self._towers])

    def forward(self, data):
        grouped = self.embedding_group(data)
        task_inputs = self.mmoe(grouped[self.group_name])
        out = {}
        for i, (name, _, _) in enumerate(self._towers):
            out.update(_bce_outputs(self._task_tower[i](task_inputs[i]), "_" + name))
        return out

    def loss(self, predictions, data):
        return sum(F.binary_cross_entropy_with_logits(predictions["logits_" + name], data[label])
                   for name, label, _ in self._towers)


class DSSMTower(nn.Module):
    def __init__(self, features, group, tower, output_dim, cosine, device=None):
        super().__init__()
        self._group_name = group[0]
        self._cosine = cosine
        self.embedding_group = EmbeddingGroup(features, [group], 4, device)
        feature_in = sum(1 if features[n]["kind"] == "raw" else features[n]["dim"]
                         for n in group[2])
        self.mlp = MLP(feature_in, **tower["mlp"])
        self._output_dim = output_dim
        if output_dim > 0:
            self.output = nn.Linear(self.mlp.output_dim(), output_dim)

    def forward(self, data):
        x = self.mlp(self.embedding_group(data)[self._group_name])
        if self._output_dim > 0:
            x = self.output(x)
        if self._cosine:
            x = F.normalize(x, p=2.0, dim=1)
        return x


class DSSM(nn.Module):
    def __init__(self, features, spec, device=None):
        super().__init__()
        groups = {g[0]: g for g in spec["groups"]}
        self.user_tower = DSSMTower(features, groups[spec["user_tower"]["input"]],
                                    spec["user_tower"], spec["output_dim"], spec["cosine"], device)
        self.item_tower = DSSMTower(features, groups[spec["item_tower"]["input"]],
                                    spec["item_tower"], spec["output_dim"], spec["cosine"], device)
        self._temperature = spec["temperature"]

    def forward(self, data):
        user = self.user_tower(data)
        item = self.item_tower(data)
        # in_batch_negative: every item of the batch is a candidate.
        sim = torch.mm(user, item.t()) / self._temperature
        return {"user_tower_emb": user, "item_tower_emb": item, "similarity": sim}

    def loss(self, predictions, data):
        sim = predictions["similarity"]
        return F.cross_entropy(sim, torch.arange(sim.size(0)))


class TrainWrapper(nn.Module):
    """tzrec.models.model.TrainWrapper: the model lives at `model`, so every
    state-dict key starts with `model.`."""

    def __init__(self, module):
        super().__init__()
        self.model = module

    def forward(self, data):
        predictions = self.model(data)
        loss = self.model.loss(predictions, data)
        return loss, {k: v.detach() for k, v in predictions.items()}


class TZRecOptimizer(OptimizerWrapper):
    """tzrec.optim.optimizer.TZRecOptimizer without gradient accumulation or
    scaling: a pass-through wrapper, so its state_dict is the wrapped
    CombinedOptimizer's."""

    def step(self, closure=None):
        self._optimizer.step(closure=closure)


def build_model(name, device=None):
    features = FEATURES[name]
    spec = MODEL_SPECS[name]
    cls = {"deepfm": DeepFM, "mmoe": MMoE, "dssm": DSSM}[name]
    return TrainWrapper(cls(features, spec, device))


def sparse_parameters(module):
    """TorchEasyRec's BaseModel.sparse_parameters: every EBC parameter."""
    params = []
    for m in module.modules():
        if isinstance(m, EmbeddingBagCollection):
            params.extend(m.parameters())
    return params


def table_configs(module):
    out = OrderedDict()
    for m in module.modules():
        if isinstance(m, EmbeddingBagCollection):
            for t in m.embedding_bag_configs():
                out[t.name] = t
    return out


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------
def make_batch(model_name, batch_size, seed):
    """A batch in tzrec's scripted-model input convention, plus labels."""
    gen = torch.Generator().manual_seed(seed)
    data = {}
    for name, f in FEATURES[model_name].items():
        if f["kind"] == "raw":
            data[f"{name}.values"] = torch.rand(batch_size, 1, generator=gen)
            continue
        if f["kind"] == "multi":
            lengths = torch.randint(0, 4, (batch_size,), generator=gen)
        else:
            lengths = torch.ones(batch_size, dtype=torch.long)
        data[f"{name}.lengths"] = lengths.to(torch.long)
        data[f"{name}.values"] = torch.randint(
            0, f["buckets"], (int(lengths.sum()),), generator=gen).to(torch.long)
    for label in MODEL_SPECS[model_name]["labels"]:
        data[label] = torch.randint(0, 2, (batch_size,), generator=gen).to(torch.float32)
    return data


def reference_inputs(model_name, seed):
    data = make_batch(model_name, BATCH_SIZE, 1000003 + seed)
    return {k: v for k, v in data.items() if "." in k}


def train_batch(model_name, seed, step, rank):
    """The batch rank `rank` trains on at step `step`."""
    return make_batch(model_name, BATCH_SIZE, seed * 100003 + step * 101 + rank)


FG_ENCODED_MULTIVAL_SEP = "\x03"   # data_config.fg_encoded_multival_sep's default


def write_csv(model_name, data, path):
    """Writes a make_batch batch as the CSV tests/dcp/<model>.config reads
    (CsvDataset, with_header, fg_mode FG_NONE): one column per feature, named
    as the feature, in config order, then the label fields. FG_NONE columns
    hold encoded values: ids as written (in [0, hash_bucket_size)), several
    ids of a row joined by fg_encoded_multival_sep, an empty cell for none;
    a raw feature's float as the shortest decimal of its float32 value (tzrec
    parses it as a double and rounds to float: the same float32); labels 0/1."""
    features = FEATURES[model_name]
    labels = MODEL_SPECS[model_name]["labels"]
    rows = None
    columns = {}
    for name, f in features.items():
        if f["kind"] == "raw":
            values = data[f"{name}.values"].reshape(-1).tolist()
            columns[name] = [repr(float(v)) for v in values]
        else:
            lengths = data[f"{name}.lengths"].tolist()
            ids = data[f"{name}.values"].tolist()
            cells, at = [], 0
            for n in lengths:
                cells.append(FG_ENCODED_MULTIVAL_SEP.join(str(i) for i in ids[at:at + n]))
                at += n
            columns[name] = cells
        rows = len(columns[name]) if rows is None else rows
        assert len(columns[name]) == rows, name
    for label in labels:
        columns[label] = [str(int(v)) for v in data[label].tolist()]
        assert all(c in ("0", "1") for c in columns[label]), label
    with open(path, "w", newline="") as f:
        f.write(",".join(columns) + "\n")
        for r in range(rows):
            f.write(",".join(columns[c][r] for c in columns) + "\n")
    return rows


# --------------------------------------------------------------------------
# Sharding and optimizers, as tzrec/main.py's train_and_evaluate does
# --------------------------------------------------------------------------
def sparse_optimizer_kind(model_name, sharding, override=None):
    """The fused sparse optimizer: the model's (adagrad; adam for dssm) or
    --sparse_optimizer. fbgemm's CPU kernels only implement (rowwise) Adagrad
    and SGD: fused Adam runs on GPU only, so dssm's tables use rowwise Adagrad
    here unless they are data_parallel (whose tables torch's Adam updates)."""
    kind = MODEL_SPECS[model_name]["sparse_optimizer"][0]
    if override:
        kind = override
    elif kind == "adam" and sharding != "data_parallel":
        kind = "rowwise_adagrad"
    if kind == "adam" and sharding != "data_parallel":
        sys.exit("fused Adam is not available on CPU (fbgemm: 'Optimizer adam is not "
                 "supported in CPU mode'); use --sparse_optimizer adagrad or "
                 "rowwise_adagrad, or --sharding data_parallel")
    return kind


def sparse_optimizer(model_name, kind):
    """(class, kwargs) as tzrec's optimizer_builder.create_sparse_optimizer
    returns them for the config's sparse_optimizer."""
    kwargs = dict(MODEL_SPECS[model_name]["sparse_optimizer"][1])
    # config_to_kwargs(FusedAdagradOptimizer/FusedAdamOptimizer) also emits
    # these defaults; upstream passes them on to fbgemm.
    kwargs.update(gradient_clipping=False, max_gradient=1.0)
    if kind == "adagrad":
        return fused_optimizers.Adagrad, kwargs
    if kind == "adam":
        kwargs.update(beta1=0.9, beta2=0.999, weight_decay=0.0)
        return fused_optimizers.Adam, kwargs
    if kind == "rowwise_adagrad":
        kwargs.update(weight_decay=0.0, weight_decay_mode=WeightDecayMode.NONE)
        return rowwise_adagrad.RowWiseAdagrad, kwargs
    raise ValueError(kind)


class CpuEmbeddingBagCollectionSharder(EmbeddingBagCollectionSharder):
    """torchrec's EBC sharder offers row_wise and table_row_wise only for CUDA
    (BaseEmbeddingSharder.sharding_types); on CPU it offers data_parallel,
    table_wise, column_wise and table_column_wise. TorchEasyRec trains on GPU,
    where row-wise tables are the common case, so this sharder lets the CPU
    planner pick them too: the sharded tables and their DCP entries are the
    same ShardedTensors a GPU run saves (dcp.save copies shards to CPU)."""

    def sharding_types(self, compute_device_type):
        types = super().sharding_types(compute_device_type)
        for extra in ("row_wise", "table_row_wise"):
            if extra not in types:
                types.append(extra)
        return types


def make_plan(model, sharding, world_size, local_world_size, pg):
    kernel = "dense" if sharding == "data_parallel" else "fused"
    constraints = {
        name: ParameterConstraints(sharding_types=[sharding], compute_kernels=[kernel],
                                   min_partition=4)
        for name in table_configs(model)
    }
    topology = Topology(world_size=world_size, local_world_size=local_world_size,
                        compute_device="cpu")
    planner = EmbeddingShardingPlanner(topology=topology, batch_size=BATCH_SIZE,
                                       constraints=constraints)
    # tzrec's get_default_sharders on CPU: torchrec's defaults without the
    # EmbeddingCollection sharder; only the EBC sharder matters here.
    sharders = [CpuEmbeddingBagCollectionSharder()]
    return planner.collective_plan(model, sharders, pg), sharders


def build_sharded(model_name, sharding, world_size, local_world_size, sparse_override=None,
                  param_groups=False):
    """TrainWrapper -> apply_optimizer_in_backward -> plan -> DMP -> dense
    KeyedOptimizerWrapper(Adam) -> CombinedOptimizer([fused, dense])."""
    model = build_model(model_name, device=torch.device("meta"))
    kind = sparse_optimizer_kind(model_name, sharding, sparse_override)
    cls, kwargs = sparse_optimizer(model_name, kind)
    apply_optimizer_in_backward(cls, sparse_parameters(model.model), kwargs)
    plan, sharders = make_plan(model, sharding, world_size, local_world_size,
                               dist.GroupMember.WORLD)
    for module_plan in plan.plan.values():
        for table, ps in module_plan.items():
            if ps.sharding_type != sharding:
                raise RuntimeError(f"planner gave {table} {ps.sharding_type}, not {sharding}")
    dmp = DistributedModelParallel(module=model, device=torch.device("cpu"),
                                   sharders=sharders, plan=plan)
    dense_params = dict(in_backward_optimizer_filter(dmp.named_parameters()))
    dense_kwargs = dict(MODEL_SPECS[model_name]["dense_optimizer"])
    dense_kwargs.update(betas=(0.9, 0.999), weight_decay=0.0, eps=1e-8, amsgrad=False,
                        fused=False)
    dense_optimizer = KeyedOptimizerWrapper(
        dense_params, lambda params: torch.optim.Adam(params, **dense_kwargs))
    optimizer = TZRecOptimizer(CombinedOptimizer([dmp.fused_optimizer, dense_optimizer]))
    if param_groups:
        optimizer.save_param_groups(True)
    return dmp, optimizer


def plan_json(dmp):
    """save_model's `plan` file."""
    plan = {}
    for module_path, module_plan in dmp._plan.plan.items():
        plan[module_path] = {}
        for param_name, ps in module_plan.items():
            plan[module_path][param_name] = {
                "sharding_type": ps.sharding_type,
                "compute_kernel": ps.compute_kernel,
                "ranks": ps.ranks,
            }
    return plan


# --------------------------------------------------------------------------
# Workers
# --------------------------------------------------------------------------
def _init_dist(rank, world_size, local_world_size, port):
    _quiet()
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    os.environ["RANK"] = str(rank)
    os.environ["LOCAL_RANK"] = str(rank % local_world_size)
    os.environ["WORLD_SIZE"] = str(world_size)
    os.environ["LOCAL_WORLD_SIZE"] = str(local_world_size)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world_size)


def _gather_full(state, rank):
    """{key: full tensor (or value)} on rank 0 (None elsewhere) of a flat
    state dict of ShardedTensors / DTensors / tensors. Keys may differ per
    rank (a fused optimizer only lists the tables the rank holds). One
    all_gather_object of every local shard: the tables here are small."""
    from torch.distributed._shard.sharded_tensor import ShardedTensor
    from torch.distributed.tensor import DTensor
    local = {}
    for k, v in state.items():
        if isinstance(v, DTensor):
            v = v.full_tensor()
        if isinstance(v, ShardedTensor):
            local[k] = ("sharded", tuple(v.size()), v.dtype,
                        [(list(s.metadata.shard_offsets), s.tensor.detach().clone())
                         for s in v.local_shards()])
        elif isinstance(v, torch.Tensor):
            local[k] = ("tensor", v.detach().clone())
        else:
            local[k] = ("value", v)
    everything = [None] * dist.get_world_size()
    dist.all_gather_object(everything, local)
    if rank != 0:
        return None
    out = OrderedDict()
    for part in everything:
        for k, item in part.items():
            if item[0] != "sharded":
                out.setdefault(k, item[1])
                continue
            _, size, dtype, shards = item
            if k not in out:
                out[k] = torch.full(size, float("nan")).to(dtype)
            for offsets, tensor in shards:
                index = tuple(slice(o, o + n) for o, n in zip(offsets, tensor.shape))
                out[k][index] = tensor
    return out


def sharded_reference_outputs(dmp, args):
    """The sharded model's own forward on the reference batch (every rank
    feeds the same batch, rank 0 keeps its rows)."""
    dmp.eval()
    with torch.no_grad():
        data = reference_inputs(args.model, args.seed)
        for label in MODEL_SPECS[args.model]["labels"]:
            data[label] = torch.zeros(BATCH_SIZE)
        _, outputs = dmp(data)
    return outputs


def _train_worker(rank, args, port, tmp):
    _init_dist(rank, args.world_size, args.local_world_size, port)
    torch.manual_seed(args.seed)
    dmp, optimizer = build_sharded(args.model, args.sharding, args.world_size,
                                   args.local_world_size, args.sparse_optimizer,
                                   args.param_groups)
    dmp.train()
    for step in range(args.steps):
        data = train_batch(args.model, args.seed, step, rank)
        optimizer.zero_grad()
        loss, _ = dmp(data)
        loss.backward()
        optimizer.step()

    # BatchNorm running statistics are replicated buffers that each rank
    # updates from its own rows; DDP copies rank 0's to the others at the next
    # forward, but dcp.save writes one copy from whichever rank it picks.
    # Make them agree, so the saved model is the one every rank runs.
    with torch.no_grad():
        for name, buf in dmp.named_buffers():
            if ".embedding_bags." not in name:
                dist.broadcast(buf, src=0)

    ckpt = os.path.join(args.out, f"model.ckpt-{args.steps - 1}")
    # tzrec.utils.checkpoint_util.save_model
    dcp.save(dmp.state_dict(), checkpoint_id=os.path.join(ckpt, "model"))
    dcp.save(optimizer.state_dict(), checkpoint_id=os.path.join(ckpt, "optimizer"))
    if rank == 0:
        with open(os.path.join(ckpt, "plan"), "w") as f:
            json.dump(plan_json(dmp), f)

    outputs = sharded_reference_outputs(dmp, args)
    rank0 = {"outputs": outputs, "plan": plan_json(dmp)}

    if args.record_next_step:
        # Step S, from the state just saved (world_size 1: the batch is all
        # there is, so one tzrec process can take the same step).
        dmp.train()
        data = train_batch(args.model, args.seed, args.steps, rank)
        optimizer.zero_grad()
        loss, _ = dmp(data)
        loss.backward()
        optimizer.step()
        csv = os.path.join(args.out, "next_step.csv")
        rows = write_csv(args.model, data, csv)
        optim_flat, _ = flatten_state_dict(optimizer.state_dict())
        rank0["after_step"] = {
            "csv": os.path.basename(csv), "rows": rows, "loss": float(loss),
            "state": _gather_full(dmp.state_dict(), rank),
            "optimizer": _gather_full(optim_flat, rank),
        }
    if rank == 0:
        torch.save(rank0, os.path.join(tmp, "rank0.pt"))
    dist.barrier()
    dist.destroy_process_group()


def _load_worker(rank, args, port, tmp):
    _init_dist(rank, args.world_size, args.local_world_size, port)
    torch.manual_seed(args.seed + 7)
    dmp, optimizer = build_sharded(args.model, args.sharding, args.world_size,
                                   args.local_world_size, args.sparse_optimizer,
                                   args.param_groups)
    model_sd = dmp.state_dict()
    dcp.load(model_sd, checkpoint_id=os.path.join(args.load, "model"))
    dmp.load_state_dict(model_sd)
    optim_dir = os.path.join(args.load, "optimizer")
    optim_flat, optim_skipped, optim_unused = {}, [], []
    if os.path.isdir(optim_dir):
        # torch's Adam has no state before its first step: a dummy step (zero
        # gradients) creates it, so dcp.load has tensors to fill.
        optimizer.init_state()
        optim_sd = optimizer.state_dict()
        # Like tzrec's PartialLoadPlanner: states the checkpoint lacks are
        # skipped (data_parallel tables name their optimizer states
        # differently from fused ones, torchrec issue #2394).
        planner = DefaultLoadPlanner(allow_partial_load=True)
        dcp.load(optim_sd, checkpoint_id=optim_dir, planner=planner)
        optimizer.load_state_dict(optim_sd)
        saved = dcp.FileSystemReader(optim_dir).read_metadata().state_dict_metadata
        flat, _ = flatten_state_dict(optimizer.state_dict())
        optim_flat = _gather_full({k: v for k, v in flat.items() if k in saved}, rank)
        # A fused optimizer lists only the tables its rank holds: union the keys.
        everything = [None] * dist.get_world_size()
        dist.all_gather_object(everything, list(flat))
        wanted = set(sum(everything, []))
        optim_skipped = sorted(k for k in wanted if k not in saved)
        optim_unused = sorted(k for k in saved if k not in wanted)
    full = _gather_full(dmp.state_dict(), rank)
    outputs = sharded_reference_outputs(dmp, args)
    if rank == 0:
        torch.save({"model": full, "optimizer": optim_flat,
                    "optimizer_skipped": optim_skipped, "optimizer_unused": optim_unused,
                    "outputs": outputs,
                    "plan": plan_json(dmp)}, args.dump)
    dist.barrier()
    dist.destroy_process_group()


def _run_workers(fn, args, tmp):
    """mp.spawn's processes, forked: they inherit the imported torch/torchrec
    (seconds of import time per process saved). Nothing in this parent has
    run a torch op or started a thread pool before the fork."""
    mp.start_processes(fn, args=(args, _free_port(), tmp), nprocs=args.world_size,
                       join=True, start_method="fork")


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------
# Single-process (no process group) loading
# --------------------------------------------------------------------------
def load_unsharded(model_name, model_dir):
    """dcp.load of a model/ DCP directory into a plain (unsharded) model:
    works for any saving world size and sharding."""
    model = build_model(model_name)
    state = model.state_dict()
    dcp.load(state, checkpoint_id=model_dir)
    model.load_state_dict(state)
    model.eval()
    return model


def read_dcp_full(path):
    """Every entry of a DCP directory as a full tensor (or object), by its
    flattened key: what format_utils.dcp_to_torch_save does, kept flat."""
    from torch.distributed.checkpoint.default_planner import _EmptyStateDictLoadPlanner
    from torch.distributed.checkpoint.state_dict_loader import _load_state_dict
    sd = {}
    _load_state_dict(sd, storage_reader=dcp.FileSystemReader(path),
                     planner=_EmptyStateDictLoadPlanner(), no_dist=True)
    flat, _ = flatten_state_dict(sd)
    return flat


def forward_outputs(model, model_name, seed):
    with torch.no_grad():
        return model.model(reference_inputs(model_name, seed))


# --------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------
def write(args):
    os.makedirs(args.out, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="tzrec_dcp_")
    try:
        _run_workers(_train_worker, args, tmp)
        rank0 = torch.load(os.path.join(tmp, "rank0.pt"), weights_only=False)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    ckpt = os.path.join(args.out, f"model.ckpt-{args.steps - 1}")
    model = load_unsharded(args.model, os.path.join(ckpt, "model"))
    state = OrderedDict((k, v.detach().clone()) for k, v in model.state_dict().items())
    tables = OrderedDict((k, v) for k, v in state.items() if ".embedding_bags." in k)
    outputs = forward_outputs(model, args.model, args.seed)
    for k, v in outputs.items():
        s = rank0["outputs"][k]
        if not torch.allclose(v, s, rtol=1e-5, atol=1e-6):
            raise RuntimeError(f"sharded and unsharded forward differ on {k}: "
                               f"max |diff| {float((v - s).abs().max())}")
    reference = {
        "inputs": reference_inputs(args.model, args.seed),
        "outputs": outputs,
        "tables": tables,
        "state": state,
        "optimizer": read_dcp_full(os.path.join(ckpt, "optimizer")),
        "sharded_outputs": rank0["outputs"],
        "meta": {"model": args.model, "world_size": args.world_size,
                 "sharding": args.sharding, "steps": args.steps, "seed": args.seed,
                 "sparse_optimizer": sparse_optimizer_kind(args.model, args.sharding,
                                                           args.sparse_optimizer),
                 "plan": rank0["plan"]},
    }
    if "after_step" in rank0:
        reference["after_step"] = rank0["after_step"]
    torch.save(reference, os.path.join(args.out, "reference.pt"))
    print(ckpt)


def saved_sparse_optimizer(ckpt_dir, sharding):
    """The fused sparse optimizer that fits CKPT_DIR/optimizer's table states
    (None when there is nothing to tell): 1-D `<table>.momentum1` is rowwise
    Adagrad; `<table>.exp_avg_sq` is Adam, which CPU fbgemm lacks, so Adagrad
    (whose elementwise momentum1 has the shape of Adam's exp_avg) loads
    momentum1 and the rest is reported as skipped."""
    optim_dir = os.path.join(ckpt_dir, "optimizer")
    if sharding == "data_parallel" or not os.path.isdir(optim_dir):
        return None
    saved = dcp.FileSystemReader(optim_dir).read_metadata().state_dict_metadata
    kind = None
    for key, md in saved.items():
        if key.endswith(".momentum1") and ".embedding_bags." in key:
            kind = "rowwise_adagrad" if len(md.size) == 1 else (kind or "adagrad")
    return kind


def load(args):
    if not args.dump:
        sys.exit("--load needs --dump FILE")
    if not args.sparse_optimizer:
        args.sparse_optimizer = saved_sparse_optimizer(args.load, args.sharding)
    if args.world_size == 0:
        model = load_unsharded(args.model, os.path.join(args.load, "model"))
        torch.save({"model": OrderedDict((k, v.detach().clone())
                                         for k, v in model.state_dict().items()),
                    "optimizer": {},
                    "outputs": forward_outputs(model, args.model, args.seed)}, args.dump)
        print(args.dump)
        return
    _run_workers(_load_worker, args, None)
    print(args.dump)


def compare_tzrec(model_name, tzrec_state, tzrec_export=None, seed=1):
    """Checks the Python model against tzrec's: the state dict tzrec saved
    (a DCP directory model.ckpt-N/model, read by torch, or a torch.save file)
    must have exactly the Python model's keys and shapes, and tzrec's exported
    scripted model must compute the Python forward (eval mode) on the
    reference batch within 1e-6. Returns (ok, report lines)."""
    lines = []
    if os.path.isdir(tzrec_state):
        # A DCP directory (model.ckpt-N/model) written by tzrec: torch reads it.
        state = read_dcp_full(tzrec_state)
    else:
        state = torch.load(tzrec_state, map_location="cpu", weights_only=False)
    model = build_model(model_name)
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    shapes = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    ok = True
    for what, keys in (("missing from tzrec", missing), ("only in tzrec", extra),
                       ("shape differs", shapes)):
        for k in keys:
            ok = False
            detail = f" python {tuple(own[k].shape)} tzrec {tuple(state[k].shape)}" \
                if what == "shape differs" else ""
            lines.append(f"{what}: {k}{detail}")
    if not ok:
        return False, lines
    model.load_state_dict(state, strict=True)
    model.eval()
    lines.append(f"state dict: {len(own)} keys match")
    if not tzrec_export:
        return True, lines
    inputs = reference_inputs(model_name, seed)
    expected = forward_outputs(model, model_name, seed)
    scripted = []
    if model_name == "dssm":
        for tower in ("user", "item"):
            scripted.append(os.path.join(tzrec_export, tower, "scripted_model.pt"))
    else:
        scripted.append(os.path.join(tzrec_export, "scripted_model.pt"))
    for path in scripted:
        m = torch.jit.load(path)
        m.eval()
        with torch.no_grad():
            got = m(inputs)
        where = os.path.relpath(path, tzrec_export)
        for k, v in got.items():
            if k not in expected:
                lines.append(f"{where}: output {k} not in the Python model's ({sorted(expected)})")
                ok = False
                continue
            diff = float((v - expected[k]).abs().max()) if v.numel() else 0.0
            lines.append(f"{where}: {k} {tuple(v.shape)} max |diff| {diff:.3g}")
            if v.shape != expected[k].shape or diff > 1e-6:
                ok = False
    return ok, lines


def check_tzrec(args):
    """compare_tzrec from the command line: prints its report, exit 1 on a mismatch."""
    ok, lines = compare_tzrec(args.model, args.tzrec_state, args.tzrec_export, args.seed)
    for line in lines:
        print(line)
    if not ok:
        sys.exit(1)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=MODELS, required=True)
    p.add_argument("--world_size", type=int, default=2)
    p.add_argument("--sharding", choices=SHARDINGS, default="table_wise")
    p.add_argument("--local_world_size", type=int,
                   help="processes per simulated host (default: world_size, one host); "
                        "e.g. 2 with --world_size 4 --sharding table_row_wise puts each "
                        "table's row blocks on one host's ranks")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--out", help="model_dir to write model.ckpt-<steps-1>/ and reference.pt into")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--sparse_optimizer", choices=["adagrad", "adam", "rowwise_adagrad"],
                   help="override the model's fused sparse optimizer (default: adagrad, "
                        "adam for dssm)")
    p.add_argument("--param_groups", action="store_true",
                   help="also save the optimizer's param_groups (KeyedOptimizer."
                        "save_param_groups(True); TorchEasyRec does not): they are "
                        "non-tensor leaves, so the optimizer checkpoint gets byte items")
    p.add_argument("--record_next_step", action="store_true",
                   help="also take training step S from the saved state (world_size 1) and "
                        "record its batch (DIR/next_step.csv) and the model and optimizer "
                        "state after it (reference.pt's after_step)")
    p.add_argument("--load", metavar="CKPT_DIR",
                   help="read mode: load CKPT_DIR/model (and optimizer) into a fresh model")
    p.add_argument("--dump", metavar="FILE", help="read mode: torch.save the loaded tensors here")
    p.add_argument("--tzrec_state", metavar="PATH",
                   help="check mode: tzrec's checkpoint (the DCP directory "
                        "model.ckpt-N/model, or a torch.save state dict file) must load "
                        "into the Python model (same keys and shapes)")
    p.add_argument("--tzrec_export", metavar="EXPORT_DIR",
                   help="check mode: tzrec's export (QUANT_EMB=0) must compute the Python "
                        "forward within 1e-6 (dssm: EXPORT_DIR/{user,item})")
    args = p.parse_args(argv)
    if args.tzrec_state:
        check_tzrec(args)
        return
    if args.local_world_size is None:
        args.local_world_size = max(args.world_size, 1)
    if args.world_size > 0 and args.world_size % args.local_world_size:
        p.error("--world_size must be a multiple of --local_world_size")
    if args.load:
        load(args)
    else:
        if not args.out:
            p.error("--out is required (or --load)")
        if args.steps < 1 or args.world_size < 1:
            p.error("--steps and --world_size must be >= 1")
        if args.record_next_step and args.world_size != 1:
            p.error("--record_next_step needs --world_size 1 (one tzrec process takes the step)")
        write(args)


if __name__ == "__main__":
    main()
