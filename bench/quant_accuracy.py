#!/usr/bin/python3
"""Accuracy and size of each QUANT_EMB setting against the FP32 export.

Trains the bundled example (examples/deepfm_small) on generated data once,
exports it with every embedding storage, predicts the eval rows with each export
and reports, per storage: scripted_model.pt bytes (and the ratio to FP32), the
max |probs - probs_FP32| and the AUC against the FP32 AUC. Everything goes under
--work_dir (default out/quant_accuracy, removed first).

  /usr/bin/python3 bench/quant_accuracy.py [--rows 200000] [--tzrec build/tzrec]
"""
import argparse
import csv
import os
import shutil
import subprocess
import sys

import torch

STORAGES = ["FP32", "FP16", "INT8", "INT4", "INT2"]


def run(tzrec, args, env=None):
    full_env = dict(os.environ)
    full_env.update(env or {})
    result = subprocess.run([tzrec] + args, capture_output=True, text=True, env=full_env)
    if result.returncode != 0:
        sys.exit(f"tzrec {' '.join(args)} failed:\n{result.stderr}")


def auc(scores, labels):
    """Exact ROC AUC (ties count one half), by ranks."""
    order = torch.argsort(scores)
    sorted_scores = scores[order]
    ranks = torch.empty_like(scores, dtype=torch.float64)
    ranks[order] = torch.arange(1, len(scores) + 1, dtype=torch.float64)
    # Average ranks over ties.
    unique, inverse = torch.unique(sorted_scores, return_inverse=True)
    sums = torch.zeros(len(unique), dtype=torch.float64).index_add_(
        0, inverse, torch.arange(1, len(scores) + 1, dtype=torch.float64))
    counts = torch.bincount(inverse).double()
    ranks[order] = (sums / counts)[inverse]
    positives = labels > 0.5
    n_pos = int(positives.sum())
    n_neg = len(labels) - n_pos
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def read_predictions(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    probs = torch.tensor([float(r["probs"]) for r in rows], dtype=torch.float64)
    labels = torch.tensor([float(r["label"]) for r in rows], dtype=torch.float64)
    return probs, labels


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tzrec", default="build/tzrec")
    parser.add_argument("--rows", type=int, default=200000)
    parser.add_argument("--work_dir", default="out/quant_accuracy")
    args = parser.parse_args()

    work = os.path.abspath(args.work_dir)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    with open("examples/deepfm_small/pipeline.config") as f:
        config = f.read().replace("out/deepfm_small", work)
    config_path = os.path.join(work, "pipeline.config")
    with open(config_path, "w") as f:
        f.write(config)

    run(args.tzrec, ["gen_data", "--pipeline_config_path", config_path, "--output_dir",
                     work + "/data", "--num_rows", str(args.rows), "--seed", "1"])
    run(args.tzrec, ["train_eval", "--pipeline_config_path", config_path])

    results = {}
    for storage in STORAGES:
        export_dir = f"{work}/export_{storage}"
        run(args.tzrec, ["export", "--pipeline_config_path", config_path, "--export_dir", export_dir],
            env={"QUANT_EMB": storage})
        output = f"{work}/predict_{storage}.csv"
        run(args.tzrec, ["predict", "--scripted_model_path", export_dir, "--predict_input_path",
                         work + "/data/eval.csv", "--predict_output_path", output,
                         "--reserved_columns", "label"])
        probs, labels = read_predictions(output)
        results[storage] = (os.path.getsize(export_dir + "/scripted_model.pt"), probs, auc(probs, labels))

    fp32_bytes, fp32_probs, fp32_auc = results["FP32"]
    print(f"eval rows: {len(fp32_probs)}")
    print("| QUANT_EMB | scripted_model.pt bytes | / FP32 | max abs diff of probs vs FP32 | AUC | AUC - FP32 AUC |")
    print("|---|---|---|---|---|---|")
    for storage in STORAGES:
        size, probs, value = results[storage]
        print(f"| {storage} | {size} | {size / fp32_bytes:.3f} | {(probs - fp32_probs).abs().max():.2e} "
              f"| {value:.5f} | {value - fp32_auc:+.5f} |")


if __name__ == "__main__":
    main()
