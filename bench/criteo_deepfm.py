"""The criteo-shaped DeepFM of the benchmarks (issue 7), shared by bench/run and
bench/baseline.py: its pipeline.config for tzrec and its table sizes.

13 dense features int_0..int_12, 26 id features cat_0..cat_25 with the criteo
cardinalities (upstream's deepfm_criteo example) times a scale factor, FM and
deep embedding dim 16, wide dim 4, deep MLP [512, 256, 128], final MLP [64].
The data is FG_NONE (encoded) CSV: label, int_*, cat_* with ids < buckets.
"""

CRITEO_BUCKETS = [
    40000000, 39060, 17295, 7424, 20265, 3, 7122, 1543, 63, 40000000, 3067956,
    405282, 10, 2209, 11938, 155, 4, 976, 14, 40000000, 40000000, 40000000,
    590152, 12973, 108, 36,
]
NUM_DENSE = 13
EMB_DIM = 16
WIDE_DIM = 4
DEEP = [512, 256, 128]
FINAL = [64]


def buckets(scale):
    return [max(1, int(n * scale)) for n in CRITEO_BUCKETS]


def dense_names():
    return [f"int_{i}" for i in range(NUM_DENSE)]


def sparse_names():
    return [f"cat_{i}" for i in range(len(CRITEO_BUCKETS))]


def pipeline_config(scale, root, batch_size=4096, num_steps=100, num_workers=1):
    """A tzrec pipeline.config (text proto) for this model; paths under root."""
    out = [f'train_input_path: "{root}/data/train.csv"',
           f'eval_input_path: "{root}/data/eval.csv"',
           f'model_dir: "{root}/model"',
           "train_config {",
           "  sparse_optimizer { adagrad_optimizer { lr: 0.01 } constant_learning_rate {} }",
           "  dense_optimizer { adam_optimizer { lr: 0.001 } constant_learning_rate {} }",
           f"  num_steps: {num_steps}",
           f"  save_checkpoints_steps: {num_steps}",
           "  log_step_count_steps: 10",
           "}",
           "eval_config { num_steps: 1 }",
           "data_config {",
           f"  batch_size: {batch_size}",
           "  dataset_type: CsvDataset",
           "  with_header: true",
           "  fg_mode: FG_NONE",
           '  label_fields: "label"',
           f"  num_workers: {num_workers}",
           "}"]
    for name in dense_names():
        out.append(f'feature_configs {{ raw_feature {{ feature_name: "{name}" }} }}')
    for name, n in zip(sparse_names(), buckets(scale)):
        out.append(f'feature_configs {{ id_feature {{ feature_name: "{name}" '
                   f'num_buckets: {n} embedding_dim: {EMB_DIM} }} }}')

    def group(name, features, kind):
        names = " ".join(f'feature_names: "{f}"' for f in features)
        return f'  feature_groups {{ group_name: "{name}" {names} group_type: {kind} }}'

    out += ["model_config {",
            group("wide", sparse_names(), "WIDE"),
            group("fm", sparse_names(), "DEEP"),
            group("deep", dense_names() + sparse_names(), "DEEP"),
            f"  deepfm {{ deep {{ hidden_units: {DEEP} }} final {{ hidden_units: {FINAL} }} "
            f"wide_embedding_dim: {WIDE_DIM} }}",
            "  metrics { auc {} }",
            "  losses { binary_cross_entropy {} }",
            "}"]
    return "\n".join(out) + "\n"
