#!/usr/bin/env python3
"""Export from a torch.distributed.checkpoint directory written by torch in
several processes, against exporting the same weights from one state_dict.pt.

  $(scripts/venv.sh) bench/dcp_export_bench.py [--tzrec build/tzrec] [--scale 0.05]
        [--world_size 4] [--runs 3] [--work /tmp/tzrec_dcp_bench] [--keep]
        [--config C --state_dict F]

With --config and --state_dict (e.g. the scale-0.5 checkpoint that
`bench/dist_export_bench.py --cases criteo_int8 --keep` generates, 8 GB of
tables), the weights come from that file instead of a training run.

Setup (not timed): the criteo-shaped DeepFM of bench/criteo_deepfm.py at
--scale; a 2-step `tzrec train_eval` gives its weights. Those weights are then
written twice with torch 2.12 (run this with the test virtual environment's
python): as one torch.save file (model/state_dict.pt, tzrec's older layout)
and as a DCP directory saved by --world_size gloo processes, each holding
row blocks of every table (row-wise sharding, uneven last block) as a
ShardedTensor and the dense weights replicated, so every rank writes its own
__<rank>_0.distcp as TorchEasyRec's training does.

Timed: `tzrec export` (QUANT_EMB default INT8, with its check run) of each,
--runs times interleaved; wall time and peak RSS (/usr/bin/time -v) of the
whole process. Markdown to stdout, everything under --work removed unless --keep.
"""
import argparse
import os
import shutil
import sys
import time

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
import torch.multiprocessing as mp
from torch.distributed._shard.sharded_tensor import Shard, ShardMetadata, init_from_local_shards
from torch.distributed.checkpoint.format_utils import dcp_to_torch_save

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import criteo_deepfm as spec  # noqa: E402
from dist_export_bench import sh, timed_export  # noqa: E402

BAGS = "model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags."


def log(msg):
    print(f"[dcp-bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def row_blocks(rows, world):
    """torchrec's row-wise split: ceil(rows / world) per rank, the last shorter."""
    block = -(-rows // world)
    return [(min(r * block, rows), min((r + 1) * block, rows)) for r in range(world)]


def save_sharded(rank, world, state_path, out_dir, port):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    state = torch.load(state_path, mmap=True, weights_only=True)
    out = {}
    for name, tensor in state.items():
        if not name.startswith(BAGS):
            out[name] = tensor
            continue
        rows, dim = tensor.shape
        blocks = row_blocks(rows, world)
        begin, end = blocks[rank]
        local = [Shard(tensor[begin:end].clone(), ShardMetadata([begin, 0], [end - begin, dim], f"rank:{rank}/cpu"))]
        out[name] = init_from_local_shards(local, [rows, dim], process_group=dist.group.WORLD)
    dcp.save(out, checkpoint_id=out_dir)
    dist.barrier()
    dist.destroy_process_group()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tzrec", default="build/tzrec")
    p.add_argument("--scale", type=float, default=0.05)
    p.add_argument("--world_size", type=int, default=4)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--work", default="/tmp/tzrec_dcp_bench")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--config", default="")
    p.add_argument("--state_dict", default="")
    a = p.parse_args()
    tzrec = os.path.abspath(a.tzrec)
    os.makedirs(a.work, exist_ok=True)
    if a.config:
        config = a.config
        single = os.path.dirname(os.path.dirname(os.path.abspath(a.state_dict)))
        state_path = a.state_dict
    else:
        config = os.path.join(a.work, "pipeline.config")
        with open(config, "w") as f:
            f.write(spec.pipeline_config(a.scale, a.work, batch_size=1024, num_steps=2))
        model_dir = os.path.join(a.work, "model")
        if not os.path.isdir(model_dir):
            log("gen_data + 2-step train_eval for the weights")
            sh([tzrec, "gen_data", "--pipeline_config_path", config, "--output_dir",
                os.path.join(a.work, "data"), "--num_rows", "4096", "--seed", "1"])
            sh([tzrec, "train_eval", "--pipeline_config_path", config])
        trained = os.path.join(model_dir, "model.ckpt-1", "model")
        single = os.path.join(a.work, "single", "model.ckpt-1")
        state_path = os.path.join(single, "model", "state_dict.pt")
        if not os.path.exists(state_path):
            os.makedirs(os.path.dirname(state_path), exist_ok=True)
            dcp_to_torch_save(trained, state_path)
    sharded = os.path.join(a.work, f"dcp{a.world_size}", "model.ckpt-1")
    if not os.path.exists(os.path.join(sharded, "model", ".metadata")):
        log(f"dcp.save in {a.world_size} processes, row-wise")
        mp.spawn(save_sharded, args=(a.world_size, state_path, os.path.join(sharded, "model"), 29617),
                 nprocs=a.world_size, join=True)
    files = sorted(os.listdir(os.path.join(sharded, "model")))
    state_mib = os.path.getsize(state_path) / 2**20
    dcp_mib = sum(os.path.getsize(os.path.join(sharded, "model", f)) for f in files) / 2**20
    log(f"state_dict.pt {state_mib:.0f} MiB; DCP {dcp_mib:.0f} MiB in {files}")

    results = {"state_dict.pt": [], "dcp": []}
    for run in range(a.runs):
        for name, ckpt in [("state_dict.pt", single), ("dcp", sharded)]:
            export_dir = os.path.join(a.work, "export")
            wall, rss = timed_export(tzrec, config, ckpt, export_dir, {})
            shutil.rmtree(export_dir, ignore_errors=True)
            results[name].append((wall, rss))
            log(f"run {run}: {name}: {wall:.2f} s, {rss:.0f} MiB")

    def median(xs):
        return sorted(xs)[len(xs) // 2]
    t = {k: median([w for w, _ in v]) for k, v in results.items()}
    m = {k: median([r for _, r in v]) for k, v in results.items()}
    print(f"{'scale ' + str(a.scale) if not a.config else a.config}, {a.world_size}-process row-wise DCP ({dcp_mib:.0f} MiB) vs one "
          f"state_dict.pt ({state_mib:.0f} MiB), INT8 export, median of {a.runs} interleaved runs\n")
    print("| checkpoint | wall s (runs) | peak RSS MiB (runs) |")
    print("|---|---|---|")
    for k in results:
        print(f"| {k} | {t[k]:.2f} ({', '.join(f'{w:.2f}' for w, _ in results[k])}) | "
              f"{m[k]:.0f} ({', '.join(f'{r:.0f}' for _, r in results[k])}) |")
    print(f"\nDCP / state_dict.pt: time {t['dcp'] / t['state_dict.pt']:.2f}x, "
          f"peak RSS {m['dcp'] / m['state_dict.pt']:.2f}x")
    if not a.keep:
        shutil.rmtree(a.work, ignore_errors=True)


if __name__ == "__main__":
    main()
