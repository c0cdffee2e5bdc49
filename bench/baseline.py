#!/usr/bin/python3
"""What a user would do instead of tzrec, in plain PyTorch, for the
criteo-shaped DeepFM of bench/criteo_deepfm.py. Runs in torch 2.12 (the
reference runtime, scripts/venv.sh) and in Debian's torch 1.13.

  export   read the model's FP32 state (one torch.save file), build the model,
           optionally quantize the embedding bags row-wise to INT8, then
           torch.jit.script and torch.jit.save it. Two ways:
           --method prepack (default; the strongest a performance-minded user
             writes): torch.load(mmap=True, weights_only=True) maps the file
             instead of reading it into memory, and each table goes straight
             from the mapped FP32 rows to quantized::embedding_bag_byte_prepack,
             served by embedding_bag_byte_rowwise_offsets: no FP32 EmbeddingBag
             and no torch.ao prepare/convert pass.
           --method ao_convert (the earlier baseline): torch.load into memory,
             FP32 EmbeddingBags, then torch.ao's float_qparams_weight_only_qconfig
             prepare/convert into quantized.EmbeddingBag.
  infer    torch.jit.load any scripted DeepFM taking tzrec's input dict
           ("cat_3.values", "cat_3.lengths", "int_0.values") and time it at
           the given batch sizes: batch 1 latency percentiles, rows/s otherwise;
           --gemm_batch B also times the model's fully connected layers alone
           at batch B (its "GEMM limit").
  predict  CSV in, CSV out: pandas (or, --reader pyarrow, Arrow's streaming
           CSV reader) reads batches, numpy/torch build the inputs, the
           scripted model runs, pandas (Arrow's CSV writer) writes probs,
           logits and reserved columns.
  train    train the same model (EmbeddingBag sparse gradients + Adagrad, Adam
           for dense) reading the CSV with pandas; prints rows/s.

Every subcommand takes --threads (torch.set_num_threads) and prints one JSON
line with its figures on stdout.
"""
import argparse
import json
import os
import sys
import time
from typing import Dict, List, Tuple

import torch
from torch import Tensor, nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import criteo_deepfm as spec  # noqa: E402


class SparseFeature(nn.Module):
    """One id feature: its wide (dim 4) and FM/deep (dim 16) bags."""

    def __init__(self, name: str, wide: nn.Module, emb: nn.Module):
        super().__init__()
        self.values_key = name + ".values"
        self.lengths_key = name + ".lengths"
        self.wide = wide
        self.emb = emb

    def forward(self, data: Dict[str, Tensor]) -> Tuple[Tensor, Tensor]:
        values = data[self.values_key]
        lengths = data[self.lengths_key]
        offsets = torch.cumsum(lengths, 0) - lengths
        return self.wide(values, offsets), self.emb(values, offsets)


def mlp(dims: List[int]) -> nn.Sequential:
    layers: List[nn.Module] = []
    for i in range(len(dims) - 1):
        layers += [nn.Linear(dims[i], dims[i + 1]), nn.ReLU()]
    return nn.Sequential(*layers)


class DeepFM(nn.Module):
    def __init__(self, features: List[SparseFeature]):
        super().__init__()
        self.dense_keys = [n + ".values" for n in spec.dense_names()]
        self.features = nn.ModuleList(features)
        n = len(features)
        self.deep = mlp([spec.NUM_DENSE + n * spec.EMB_DIM] + spec.DEEP)
        self.final = mlp([1 + spec.EMB_DIM + spec.DEEP[-1]] + spec.FINAL)
        self.output = nn.Linear(spec.FINAL[-1], 1)

    def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:
        dense = torch.cat([data[k] for k in self.dense_keys], 1)
        wides: List[Tensor] = []
        embs: List[Tensor] = []
        for f in self.features:
            w, e = f(data)
            wides.append(w)
            embs.append(e)
        y_wide = torch.sum(torch.cat(wides, 1), 1, keepdim=True)
        fm_in = torch.stack(embs, 1)
        sum_sq = torch.sum(fm_in, 1) ** 2
        sq_sum = torch.sum(fm_in * fm_in, 1)
        y_fm = 0.5 * (sum_sq - sq_sum)
        y_deep = self.deep(torch.cat([dense] + embs, 1))
        logits = self.output(self.final(torch.cat([y_wide, y_fm, y_deep], 1))).squeeze(1)
        return {"logits": logits, "probs": torch.sigmoid(logits)}


def find_table(state, name, wide):
    suffix = f".{name}_emb_wide.weight" if wide else f".{name}_emb.weight"
    for key, t in state.items():
        if key.endswith(suffix):
            return t
    raise KeyError(f"no table *{suffix} in the checkpoint")


def mlp_weights(state, prefix, seq):
    linears = [m for m in seq if isinstance(m, nn.Linear)]
    for i, lin in enumerate(linears):
        lin.weight.data = state[f"{prefix}.mlp.{i}.perceptron.0.weight"]
        lin.bias.data = state[f"{prefix}.mlp.{i}.perceptron.0.bias"]


class Int8Bag(nn.Module):
    """A sum-pooled bag over a row-wise INT8 table packed straight from FP32."""

    def __init__(self, weight: Tensor):
        super().__init__()
        self.register_buffer("packed", torch.ops.quantized.embedding_bag_byte_prepack(weight))

    def forward(self, values: Tensor, offsets: Tensor) -> Tensor:
        return torch.ops.quantized.embedding_bag_byte_rowwise_offsets(
            self.packed, values, offsets, False, 0, False, None, None, False)


def load_state(state_path, mmap):
    if not mmap:
        return torch.load(state_path, map_location="cpu")
    try:
        return torch.load(state_path, map_location="cpu", mmap=True, weights_only=True)
    except TypeError:  # torch 1.13 has no mmap: it reads the file
        return torch.load(state_path, map_location="cpu")


def model_from_checkpoint(state_path, method="ao_convert", int8=False):
    prepack = method == "prepack"
    state = load_state(state_path, mmap=prepack)
    features = []
    for name in spec.sparse_names():
        if prepack and int8:
            wide = Int8Bag(find_table(state, name, True))
            emb = Int8Bag(find_table(state, name, False))
        else:
            wide = nn.EmbeddingBag.from_pretrained(find_table(state, name, True), mode="sum")
            emb = nn.EmbeddingBag.from_pretrained(find_table(state, name, False), mode="sum")
        features.append(SparseFeature(name, wide, emb))
    model = DeepFM(features)
    mlp_weights(state, "model.deep_mlp", model.deep)
    mlp_weights(state, "model.final_mlp", model.final)
    model.output.weight.data = state["model.output_mlp.weight"]
    model.output.bias.data = state["model.output_mlp.bias"]
    del state
    return model.eval()


def quantize_embeddings(model):
    from torch.ao.quantization import convert, float_qparams_weight_only_qconfig, prepare
    for f in model.features:
        f.wide.qconfig = float_qparams_weight_only_qconfig
        f.emb.qconfig = float_qparams_weight_only_qconfig
    prepare(model, inplace=True)
    convert(model, inplace=True)
    return model


def cmd_export(args):
    start = time.time()
    model = model_from_checkpoint(args.checkpoint, args.method, args.int8)
    if args.int8 and args.method == "ao_convert":
        model = quantize_embeddings(model)
    scripted = torch.jit.script(model)
    os.makedirs(args.export_dir, exist_ok=True)
    torch.jit.save(scripted, os.path.join(args.export_dir, "scripted_model.pt"))
    print(json.dumps({"export_s": time.time() - start}))


def random_inputs(batch, bucket_sizes, seed):
    gen = torch.Generator().manual_seed(seed)
    data = {}
    for name in spec.dense_names():
        data[name + ".values"] = torch.rand(batch, 1, generator=gen)
    for name, n in zip(spec.sparse_names(), bucket_sizes):
        data[name + ".values"] = torch.randint(0, n, (batch,), generator=gen)
        data[name + ".lengths"] = torch.ones(batch, dtype=torch.long)
    return data


def cmd_infer(args):
    model = torch.jit.load(args.model)
    model.eval()
    bucket_sizes = spec.buckets(args.scale)
    result = {}
    with torch.inference_mode():
        for batch in args.batch_sizes:
            inputs = [random_inputs(batch, bucket_sizes, seed) for seed in range(4)]
            for i in range(args.warmup):
                model(inputs[i % 4])
            iters = max(3, int(args.rows // batch)) if batch > 1 else args.latency_iters
            times = []
            cpu = time.process_time()
            for i in range(iters):
                t = time.perf_counter()
                model(inputs[i % 4])
                times.append(time.perf_counter() - t)
            cpu = time.process_time() - cpu
            result[str(batch)] = timing_figures(batch, times, cpu)
        if args.gemm_batch:
            result[f"gemm{args.gemm_batch}"] = gemm_limit(model, args.gemm_batch, args.rows)
    print(json.dumps(result))


def timing_figures(batch, times, cpu):
    times = sorted(times)
    return {
        # Per CPU second of the process (all its threads): robust on a shared machine.
        "rows_per_cpu_s": batch * len(times) / cpu,
        "cpu_ms_per_batch": 1e3 * cpu / len(times),
        "p50_ms": 1e3 * times[len(times) // 2],
        "p99_ms": 1e3 * times[min(len(times) - 1, int(len(times) * 0.99))],
        "rows_per_s": batch * len(times) / sum(times),
    }


def linear_layers(model):
    """(weight, bias) of every fully connected layer of a scripted model:
    submodules scripted from nn.Linear, or (tzrec's) holding a 2-D weight and
    a bias of its row count that is not an embedding table."""
    layers = []
    for name, module in model.named_modules():
        params = dict(module.named_parameters(recurse=False))
        weight, bias = params.get("weight"), params.get("bias")
        if weight is None or bias is None or weight.dim() != 2 or bias.shape != weight.shape[:1]:
            continue
        if "embedding" in name or "emb" in module.original_name.lower():
            continue
        layers.append((weight.detach(), bias.detach()))
    return layers


def gemm_limit(model, batch, rows):
    """The model's own matrix products alone at `batch` rows (each layer's
    addmm on a batch-sized input of its width, the same calls the model makes,
    nothing else): the rate the whole model cannot beat, its "GEMM limit"."""
    layers = linear_layers(model)
    if not layers:
        raise SystemExit("infer --gemm_batch: the model has no fully connected layers")
    gen = torch.Generator().manual_seed(0)
    inputs = [torch.rand(batch, w.shape[1], generator=gen) for w, _ in layers]
    outputs = [torch.empty(batch, w.shape[0]) for w, _ in layers]

    def call():
        for (w, b), x, out in zip(layers, inputs, outputs):
            torch.addmm(b, x, w.t(), out=out)

    for _ in range(3):
        call()
    times = []
    cpu = time.process_time()
    for _ in range(max(10, rows // batch)):
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    figures = timing_figures(batch, times, time.process_time() - cpu)
    figures["layers"] = [list(w.shape) for w, _ in layers]
    return figures


def read_batches(path, batch_size, columns=None):
    import pandas as pd
    yield from pd.read_csv(path, chunksize=batch_size, usecols=columns)


def frame_to_inputs(frame):
    import numpy as np
    data = {}
    for name in spec.dense_names():
        data[name + ".values"] = torch.from_numpy(
            frame[name].to_numpy(dtype=np.float32, na_value=0.0).reshape(-1, 1))
    ones = torch.ones(len(frame), dtype=torch.long)
    for name in spec.sparse_names():
        data[name + ".values"] = torch.from_numpy(frame[name].to_numpy(dtype=np.int64))
        data[name + ".lengths"] = ones
    return data


def predict_pandas(model, args, reserved):
    import pandas as pd
    rows = 0
    with open(args.output, "w") as out:
        for i, frame in enumerate(read_batches(args.input, args.batch_size)):
            pred = model(frame_to_inputs(frame))
            result = pd.DataFrame({k: pred[k].numpy() for k in sorted(pred)})
            for c in reserved:
                result[c] = frame[c].to_numpy()
            result.to_csv(out, index=False, header=(i == 0))
            rows += len(frame)
    return rows


def batch_to_inputs(batch):
    """Model inputs from an Arrow record batch, zero-copy where Arrow allows."""
    import pyarrow.compute as pc
    data = {}
    for name in spec.dense_names():
        column = pc.fill_null(batch.column(name), 0).cast("float32")
        data[name + ".values"] = torch.from_numpy(column.to_numpy(zero_copy_only=False).reshape(-1, 1))
    ones = torch.ones(batch.num_rows, dtype=torch.long)
    for name in spec.sparse_names():
        data[name + ".values"] = torch.from_numpy(batch.column(name).cast("int64").to_numpy(zero_copy_only=False))
        data[name + ".lengths"] = ones
    return data


def predict_pyarrow(model, args, reserved):
    """Arrow's streaming CSV reader (parses blocks on a thread pool) and CSV
    writer: the fastest CSV pipeline around PyTorch that needs no code of one's own."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    reader = pacsv.open_csv(args.input, read_options=pacsv.ReadOptions(block_size=8 << 20))
    writer = None
    rows = 0
    with open(args.output, "wb") as out:
        for block in reader:
            for start in range(0, block.num_rows, args.batch_size):
                batch = block.slice(start, args.batch_size)
                pred = model(batch_to_inputs(batch))
                names = sorted(pred) + reserved
                result = pa.record_batch([pa.array(pred[k].numpy()) for k in sorted(pred)] +
                                         [batch.column(c) for c in reserved], names=names)
                if writer is None:
                    writer = pacsv.CSVWriter(out, result.schema)
                writer.write_batch(result)
                rows += batch.num_rows
        if writer is not None:
            writer.close()
    return rows


def cmd_predict(args):
    start = time.time()
    model = torch.jit.load(args.model)
    model.eval()
    loaded = time.time()
    loaded_cpu = time.process_time()
    reserved = [c for c in args.reserved_columns.split(",") if c]
    with torch.inference_mode():
        rows = (predict_pyarrow if args.reader == "pyarrow" else predict_pandas)(model, args, reserved)
    end = time.time()
    print(json.dumps({"rows": rows, "seconds": end - start, "rows_per_s": rows / (end - start),
                      "load_s": loaded - start, "after_load_rows_per_s": rows / (end - loaded),
                      "after_load_rows_per_cpu_s": rows / (time.process_time() - loaded_cpu)}))


def cmd_train(args):
    features = []
    for name, n in zip(spec.sparse_names(), spec.buckets(args.scale)):
        wide = nn.EmbeddingBag(n, spec.WIDE_DIM, mode="sum", sparse=True)
        emb = nn.EmbeddingBag(n, spec.EMB_DIM, mode="sum", sparse=True)
        features.append(SparseFeature(name, wide, emb))
    model = DeepFM(features).train()
    sparse = [p for f in model.features for p in f.parameters()]
    sparse_ids = {id(p) for p in sparse}
    dense = [p for p in model.parameters() if id(p) not in sparse_ids]
    opt_sparse = torch.optim.Adagrad(sparse, lr=0.01)
    opt_dense = torch.optim.Adam(dense, lr=0.001)
    loss_fn = nn.BCEWithLogitsLoss()
    rows = steps = 0
    start = None
    for frame in read_batches(args.input, args.batch_size):
        if steps == args.warmup_steps:
            start = time.time()
            rows = 0
        data = frame_to_inputs(frame)
        label = torch.from_numpy(frame["label"].to_numpy(dtype="float32"))
        loss = loss_fn(model(data)["logits"], label)
        opt_sparse.zero_grad()
        opt_dense.zero_grad()
        loss.backward()
        opt_sparse.step()
        opt_dense.step()
        rows += len(frame)
        steps += 1
        if steps >= args.warmup_steps + args.steps:
            break
    elapsed = time.time() - start
    print(json.dumps({"rows": rows, "seconds": elapsed, "rows_per_s": rows / elapsed,
                      "loss": float(loss)}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1)
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export")
    e.add_argument("--checkpoint", required=True, help="model.ckpt-N/model/state_dict.pt")
    e.add_argument("--export_dir", required=True)
    e.add_argument("--int8", action="store_true")
    e.add_argument("--method", choices=["prepack", "ao_convert"], default="prepack",
                   help="see the module docstring")
    i = sub.add_parser("infer")
    i.add_argument("--model", required=True)
    i.add_argument("--scale", type=float, required=True)
    i.add_argument("--batch_sizes", type=int, nargs="+", default=[1, 64, 512, 4096])
    i.add_argument("--rows", type=int, default=40000, help="rows timed per batch size > 1")
    i.add_argument("--latency_iters", type=int, default=300)
    i.add_argument("--warmup", type=int, default=5)
    i.add_argument("--gemm_batch", type=int, default=0,
                   help="also time the model's fully connected layers alone at this batch (the GEMM limit)")
    r = sub.add_parser("predict")
    r.add_argument("--model", required=True)
    r.add_argument("--input", required=True)
    r.add_argument("--output", required=True)
    r.add_argument("--batch_size", type=int, default=4096)
    r.add_argument("--reserved_columns", default="label")
    r.add_argument("--reader", choices=["pandas", "pyarrow"], default="pandas",
                   help="pandas read_csv(chunksize)/to_csv, or Arrow's streaming CSV reader and writer")
    t = sub.add_parser("train")
    t.add_argument("--input", required=True)
    t.add_argument("--scale", type=float, required=True)
    t.add_argument("--batch_size", type=int, default=4096)
    t.add_argument("--steps", type=int, default=10)
    t.add_argument("--warmup_steps", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    {"export": cmd_export, "infer": cmd_infer, "predict": cmd_predict, "train": cmd_train}[args.cmd](args)


if __name__ == "__main__":
    main()
