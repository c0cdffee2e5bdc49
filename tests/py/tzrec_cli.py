"""Helpers the end-to-end Python tests share: running the tzrec binary and the
small train/data/feature config block their tiny models are trained on."""
import os
import subprocess
import warnings

# torch 2.12 deprecates TorchScript in favour of torch.export and warns on
# every torch.jit call; the exports under test are TorchScript by design.
warnings.filterwarnings("ignore", message=r".*torch\.jit.*deprecated", category=DeprecationWarning)
warnings.filterwarnings("ignore", message=r".*is deprecated. Please switch to `torch.export`")
warnings.filterwarnings("ignore", message=r"torch.distributed is disabled")

TZREC = os.environ.get("TZREC_BINARY", "build/tzrec")


def run(args, env_extra=None, check=True):
    """Runs `tzrec args...`; with `check`, a non-zero exit fails with its stderr."""
    env = dict(os.environ)
    env.update(env_extra or {})
    result = subprocess.run([TZREC] + args, capture_output=True, text=True, env=env)
    if check and result.returncode != 0:
        raise AssertionError(
            f"tzrec {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result


def small_config_head(label, batch_size, tags_dim=8, data_extra=""):
    """Paths, a 6-step train_config, FG_NONE data_config and five user/item
    features, as a str.format template over {root} (braces doubled)."""
    return """
train_input_path: "{root}/data/train.csv"
eval_input_path: "{root}/data/eval.csv"
model_dir: "{root}/model"
train_config {{
  sparse_optimizer {{ adagrad_optimizer {{ lr: 0.05 }} constant_learning_rate {{}} }}
  dense_optimizer {{ adam_optimizer {{ lr: 0.01 }} constant_learning_rate {{}} }}
  num_steps: 6
  save_checkpoints_steps: 3
}}
eval_config {{ num_steps: 2 }}
data_config {{
  batch_size: %d
  dataset_type: CsvDataset
  with_header: true
  fg_mode: FG_NONE
  label_fields: "%s"
  %s
}}
feature_configs {{ id_feature {{ feature_name: "user_id" expression: "user:user_id" hash_bucket_size: 50 embedding_dim: 8 }} }}
feature_configs {{ raw_feature {{ feature_name: "age" expression: "user:age" }} }}
feature_configs {{ id_feature {{ feature_name: "item_id" expression: "item:item_id" hash_bucket_size: 40 embedding_dim: 8 }} }}
feature_configs {{ id_feature {{ feature_name: "tags" expression: "item:tags" hash_bucket_size: 30 embedding_dim: %d pooling: "mean" }} }}
feature_configs {{ raw_feature {{ feature_name: "price" expression: "item:price" }} }}
""" % (batch_size, label, data_extra, tags_dim)


# The tiny DeepFM the export, predict, distributed and S3 tests train: wide, fm
# and deep groups over small_config_head's features (a str.format template,
# braces doubled).
SMALL_DEEPFM_MODEL = """
model_config {{
  feature_groups {{ group_name: "wide" feature_names: "user_id" feature_names: "item_id" feature_names: "tags" group_type: WIDE }}
  feature_groups {{ group_name: "fm" feature_names: "user_id" feature_names: "item_id" feature_names: "tags" group_type: DEEP }}
  feature_groups {{ group_name: "deep" feature_names: "user_id" feature_names: "age" feature_names: "item_id" feature_names: "tags" feature_names: "price" group_type: DEEP }}
  deepfm {{ deep {{ hidden_units: [16, 8] }} final {{ hidden_units: [8] }} }}
  metrics {{ auc {{}} }}
  losses {{ binary_cross_entropy {{}} }}
}}
"""


# A tiny DSSM over the same features (user: user_id, age; item: item_id,
# tags, price), trained with in-batch negatives; label column "clk".
SMALL_DSSM_MODEL = """
model_config {{
  feature_groups {{ group_name: "user" feature_names: "user_id" feature_names: "age" group_type: DEEP }}
  feature_groups {{ group_name: "item" feature_names: "item_id" feature_names: "tags" feature_names: "price" group_type: DEEP }}
  dssm {{
    user_tower {{ input: "user" mlp {{ hidden_units: [8] }} }}
    item_tower {{ input: "item" mlp {{ hidden_units: [8] }} }}
    output_dim: 4
    similarity: COSINE
    temperature: 0.2
    in_batch_negative: true
  }}
  metrics {{ recall_at_k {{ top_k: 1 }} }}
  losses {{ softmax_cross_entropy {{}} }}
}}
"""


def read_csv(path):
    """(header, rows) of a CSV file."""
    import csv
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def random_inputs(sparse, dense, batch_size, seed):
    """A model input dict of `batch_size` random rows in the exported models'
    format: `sparse` maps id features to bucket counts (one id per row; "tags"
    has 0-2), `dense` lists one-value raw features."""
    import torch  # only the tests that build inputs need it
    gen = torch.Generator().manual_seed(seed)
    data = {}
    for name, buckets in sparse.items():
        lengths = torch.randint(0, 3, (batch_size,), generator=gen) if name == "tags" \
            else torch.ones(batch_size, dtype=torch.long)
        data[f"{name}.lengths"] = lengths.to(torch.long)
        data[f"{name}.values"] = torch.randint(
            0, buckets, (int(lengths.sum()),), generator=gen).to(torch.long)
    for name in dense:
        data[f"{name}.values"] = torch.rand(batch_size, 1, generator=gen)
    return data


def load_dcp(directory):
    """Every tensor of a torch.distributed.checkpoint directory (a checkpoint's
    model/ or optimizer/), as torch 2.12's own reader assembles them, keyed by
    their flattened names. Skips the calling test on a torch without it."""
    import tempfile
    import unittest

    import torch
    if int(torch.__version__.split(".")[0]) < 2:
        raise unittest.SkipTest("torch.distributed.checkpoint readers need torch >= 2")
    from torch.distributed.checkpoint.format_utils import dcp_to_torch_save
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "state.pt")
        dcp_to_torch_save(directory, path)
        state = torch.load(path, map_location="cpu", weights_only=True)
    flat = {}

    def walk(prefix, value):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            flat[prefix] = value
    walk("", state)
    return flat
