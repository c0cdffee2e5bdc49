#!/usr/bin/python3
"""Distributed-embedding export at scale: wall time and peak RSS of
`USE_DISTRIBUTED_EMBEDDING=1 tzrec export` on checkpoints far larger than a
table should ever be held in memory, and a read-back of the npz shards.

  bench/dist_export_bench.py [--tzrec build/tzrec] [--work /tmp/tzrec_dist_bench]
                             [--cases criteo,big] [--criteo_scale 0.5]
                             [--big_rows 140000000] [--keep]

Cases:
  criteo  the criteo-shaped DeepFM of bench/criteo_deepfm.py at --criteo_scale
          (0.5: about 8 GB of FP32 tables), FP32 rows, one shard;
  big     one table of --big_rows x 16 (140M x 16 = 2.24e9 elements > 2^31,
          9 GB) beside a small one; FP32 in one shard, then DIST_QUANT=INT8 in
          4 row shards.
  criteo_int8  the criteo checkpoint exported the normal way (QUANT_EMB
          default INT8, one scripted_model.pt); its export check run reads
          generated rows, so the INT8 model runs once before it is published.

A checkpoint of that size cannot come from training here (the tables and
their Adagrad state would need twice the memory), so the dense weights come
from a 2-step train_eval of the same model at a tiny scale and the tables are
generated: row r, column c holds ((31 r + 7 c) mod 1000 - 500) / 10^4. They
are written through file mappings, so this script itself never holds a table.
The read-back opens the npz entries with Python's zipfile (no numpy.load of a
9 GB array) and checks rows at the start, the middle, past row 2^31 / 16 and
at the end of every table against that formula.

Figures go to stdout as Markdown (and --out as JSON); everything under --work
is removed at the end unless --keep.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import criteo_deepfm as spec  # noqa: E402

BAGS = "model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags."
CHUNK_ROWS = 1 << 20


def log(msg):
    print(f"[dist-bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sh(cmd, env=None):
    full = dict(os.environ)
    full.update(env or {})
    r = subprocess.run(cmd, env=full, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr[-3000:]}")
    return r


def pattern(first_row, rows, dim):
    r = np.arange(first_row, first_row + rows, dtype=np.int64)[:, None]
    c = np.arange(dim, dtype=np.int64)[None, :]
    return (((31 * r + 7 * c) % 1000 - 500) * 1e-4).astype(np.float32)


def big_config(root, rows):
    """A DeepFM with one huge id feature (fm + deep, dim 16) and a small one."""
    return f"""
train_input_path: "{root}/data/train.csv"
eval_input_path: "{root}/data/eval.csv"
model_dir: "{root}/model"
train_config {{
  sparse_optimizer {{ adagrad_optimizer {{ lr: 0.01 }} constant_learning_rate {{}} }}
  dense_optimizer {{ adam_optimizer {{ lr: 0.001 }} constant_learning_rate {{}} }}
  num_steps: 2
}}
eval_config {{ num_steps: 1 }}
data_config {{ batch_size: 64 dataset_type: CsvDataset with_header: true fg_mode: FG_NONE label_fields: "label" }}
feature_configs {{ id_feature {{ feature_name: "big" num_buckets: {rows} embedding_dim: 16 }} }}
feature_configs {{ id_feature {{ feature_name: "small" num_buckets: 1000 embedding_dim: 16 }} }}
feature_configs {{ raw_feature {{ feature_name: "price" }} }}
model_config {{
  feature_groups {{ group_name: "wide" feature_names: "small" group_type: WIDE }}
  feature_groups {{ group_name: "fm" feature_names: "big" feature_names: "small" group_type: DEEP }}
  feature_groups {{ group_name: "deep" feature_names: "big" feature_names: "small" feature_names: "price" group_type: DEEP }}
  deepfm {{ deep {{ hidden_units: [64, 32] }} final {{ hidden_units: [16] }} }}
  metrics {{ auc {{}} }}
  losses {{ binary_cross_entropy {{}} }}
}}
"""


def with_expressions(text):
    """Every feature reads the input column of its own name (fg.json needs it)."""
    return re.sub(r'feature_name: "(\w+)"', r'feature_name: "\1" expression: "item:\1"', text)


def write_config(path, text):
    text = with_expressions(text)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def dense_weights(tzrec, tiny_config_text, root):
    """The state dict of a 2-step training of the model at a tiny scale."""
    config = os.path.join(root, "pipeline.config")
    write_config(config, tiny_config_text)
    sh([tzrec, "gen_data", "--pipeline_config_path", config, "--output_dir",
        os.path.join(root, "data"), "--num_rows", "300", "--seed", "1"])
    sh([tzrec, "train_eval", "--pipeline_config_path", config])
    ckpts = sorted((d for d in os.listdir(os.path.join(root, "model")) if d.startswith("model.ckpt-")),
                   key=lambda d: int(d.rsplit("-", 1)[1]))
    # tzrec writes DCP directories; torch 2.12 (scripts/venv.sh) turns one
    # into a torch.save file this script's torch reads.
    converted = os.path.join(root, "state_dict.pt")
    venv_py = subprocess.run([os.path.join(HERE, "..", "scripts", "venv.sh")], capture_output=True,
                             text=True, check=True).stdout.strip()
    sh([venv_py, "-c", "import sys; from torch.distributed.checkpoint.format_utils import "
        "dcp_to_torch_save; dcp_to_torch_save(sys.argv[1], sys.argv[2])",
        os.path.join(root, "model", ckpts[-1], "model"), converted])
    return torch.load(converted)


def table_rows(config_text):
    """Rows of every table, by state-dict name, from the bucket sizes of a config."""
    buckets = {m.group(1): int(m.group(2)) for m in
               re.finditer(r'feature_name: "(\w+)" num_buckets: (\d+)', config_text)}
    return buckets


def write_checkpoint(state, rows_by_table, ckpt_dir, scratch):
    """state with every table replaced by a generated one of the given rows."""
    os.makedirs(os.path.join(ckpt_dir, "model"), exist_ok=True)
    os.makedirs(scratch, exist_ok=True)
    out, raw_files = {}, []
    for name, tensor in state.items():
        table = name[len(BAGS):-len(".weight")] if name.startswith(BAGS) else None
        if table is None or table not in rows_by_table:
            out[name] = tensor
            continue
        rows, dim = rows_by_table[table], tensor.shape[1]
        raw = os.path.join(scratch, table + ".f32")
        data = np.memmap(raw, dtype=np.float32, mode="w+", shape=(rows, dim))
        for start in range(0, rows, CHUNK_ROWS):
            n = min(CHUNK_ROWS, rows - start)
            data[start:start + n] = pattern(start, n, dim)
        data.flush()
        del data
        raw_files.append(raw)
        out[name] = torch.from_file(raw, shared=True, size=rows * dim,
                                    dtype=torch.float32).view(rows, dim)
        log(f"generated {table}: {rows} x {dim}")
    # Plain torch.save: its pickle holds the 2.24e9-element storage size as a
    # 5-byte LONG1, which TensorFileReader widens for libtorch's unpickler.
    torch.save(out, os.path.join(ckpt_dir, "model", "state_dict.pt"))
    del out
    for raw in raw_files:
        os.remove(raw)
    return os.path.getsize(os.path.join(ckpt_dir, "model", "state_dict.pt"))


def timed_export(tzrec, config, ckpt, export_dir, env, extra=()):
    cmd = ["/usr/bin/time", "-v", tzrec, "export", "--pipeline_config_path", config,
           "--checkpoint_path", ckpt, "--export_dir", export_dir] + list(extra)
    full = dict(os.environ)
    full.update(env)
    start = time.time()
    r = subprocess.run(cmd, env=full, capture_output=True, text=True)
    wall = time.time() - start
    if r.returncode != 0:
        raise SystemExit(f"export failed:\n{r.stderr[-3000:]}")
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr).group(1))
    return wall, rss_kb / 1024.0


def check_rows(export_dir, rows_by_table, quant):
    """Reads rows of every table straight from the npz entries and compares."""
    sparse = os.path.join(export_dir, "sparse")
    merged = json.load(open(os.path.join(sparse, "sparse_embedding.json")))
    checked = 0
    for table, rows in rows_by_table.items():
        name = BAGS + table + "_emb"
        meta = merged[name]
        dim = meta["dimension"]
        assert meta["shape"] == [rows, dim], (name, meta["shape"])
        probes = sorted({0, rows // 2, min(rows - 1, (1 << 31) // dim + 7), rows - 1})
        for shard in meta["shards"]:
            begin, end = shard["row_range"]
            with zipfile.ZipFile(os.path.join(sparse, shard["file"])) as z:
                with z.open(name + ".npy") as entry:
                    version = entry.read(8)[6]
                    hlen = entry.read(2 if version == 1 else 4)
                    header_len = int.from_bytes(hlen, "little")
                    entry.read(header_len)
                    data_start = 8 + len(hlen) + header_len
                    row_bytes = meta.get("row_bytes", dim * 4)
                    for r in probes:
                        if not begin <= r < end:
                            continue
                        entry.seek(data_start + (r - begin) * row_bytes)
                        raw = np.frombuffer(entry.read(row_bytes), dtype=np.uint8)
                        want = pattern(r, 1, dim)[0]
                        if quant:
                            scale = raw[dim:dim + 2].view(np.float16).astype(np.float32)[0]
                            offset = raw[dim + 2:].view(np.float16).astype(np.float32)[0]
                            got = raw[:dim].astype(np.float32) * scale + offset
                            assert np.abs(got - want).max() <= scale, (name, r)
                        else:
                            assert np.array_equal(raw.view(np.float32), want), (name, r)
                        checked += 1
    return checked


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tzrec", default=os.path.join(HERE, "..", "build", "tzrec"))
    p.add_argument("--work", default="/tmp/tzrec_dist_bench")
    p.add_argument("--cases", default="criteo,big")
    p.add_argument("--criteo_scale", type=float, default=0.5)
    p.add_argument("--big_rows", type=int, default=140_000_000)
    p.add_argument("--out", default="")
    p.add_argument("--keep", action="store_true")
    args = p.parse_args()
    tzrec = os.path.abspath(args.tzrec)
    shutil.rmtree(args.work, ignore_errors=True)
    results = []
    try:
        for case in args.cases.split(","):
            root = os.path.join(args.work, case)
            dist = case != "criteo_int8"
            if case in ("criteo", "criteo_int8"):
                text = spec.pipeline_config(args.criteo_scale, root, batch_size=64, num_steps=2)
                tiny = spec.pipeline_config(1e-5, os.path.join(root, "tiny"), batch_size=64, num_steps=2)
                rows = {f"cat_{i}": n for i, n in enumerate(spec.buckets(args.criteo_scale))}
                wide = {f"cat_{i}": n for i, n in enumerate(spec.buckets(args.criteo_scale))}
                tables = {**{k + "_emb": v for k, v in rows.items()},
                          **{k + "_emb_wide": v for k, v in wide.items()}}
                runs = [("FP32, 1 shard", {}, [])] if dist else [("INT8 scripted_model.pt", {}, [])]
                check = {k: v for k, v in rows.items()}
            else:
                text = big_config(root, args.big_rows)
                tiny = big_config(os.path.join(root, "tiny"), 1000)
                tables = {"big_emb": args.big_rows, "small_emb": 1000}
                runs = [("FP32, 1 shard", {}, []),
                        ("INT8, 4 shards", {"DIST_QUANT": "INT8"}, ["--num_shards", "4"])]
                check = {"big": args.big_rows, "small": 1000}
            config = os.path.join(root, "pipeline.config")
            write_config(config, text)
            log(f"{case}: dense weights from a tiny training")
            state = dense_weights(tzrec, tiny, os.path.join(root, "tiny"))
            ckpt = os.path.join(root, "ckpt", "model.ckpt-1")
            log(f"{case}: writing the checkpoint")
            size = write_checkpoint(state, tables, ckpt, os.path.join(root, "raw"))
            largest = max(tables.values()) * 16 * 4
            if not dist:
                # Rows for the export's check run (train_input_path of the config).
                sh([tzrec, "gen_data", "--pipeline_config_path", config, "--output_dir",
                    os.path.join(root, "data"), "--num_rows", "5000", "--seed", "1"])
            for label, env, extra in runs:
                export_dir = os.path.join(root, "export")
                shutil.rmtree(export_dir, ignore_errors=True)
                subprocess.run(["sync"])
                if dist:
                    env = dict(env, USE_DISTRIBUTED_EMBEDDING="1")
                log(f"{case}: export {label}")
                wall, rss = timed_export(tzrec, config, ckpt, export_dir, env, extra)
                if dist:
                    npz = sum(os.path.getsize(os.path.join(export_dir, "sparse", f))
                              for f in os.listdir(os.path.join(export_dir, "sparse")) if f.endswith(".npz"))
                    checked = check_rows(export_dir, check, "DIST_QUANT" in env)
                else:
                    # "npz written" is the artifact here; the export ran it once (check run).
                    npz = os.path.getsize(os.path.join(export_dir, "scripted_model.pt"))
                    checked = 0
                results.append({"case": case, "run": label, "checkpoint_gb": size / 1e9,
                                "largest_table_gb": largest / 1e9, "npz_gb": npz / 1e9,
                                "wall_s": round(wall, 1), "peak_rss_mib": round(rss),
                                "rows_checked": checked})
                log(json.dumps(results[-1]))
                shutil.rmtree(export_dir, ignore_errors=True)
            if not args.keep:
                shutil.rmtree(root, ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(args.work, ignore_errors=True)
    print("| case | run | checkpoint | largest table | npz written | wall | peak RSS | rows read back |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['case']} | {r['run']} | {r['checkpoint_gb']:.2f} GB | {r['largest_table_gb']:.2f} GB "
              f"| {r['npz_gb']:.2f} GB | {r['wall_s']} s | {r['peak_rss_mib']} MiB | {r['rows_checked']} |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
