#!/usr/bin/env python3
"""Start-up cost of the config-only subcommands (docs/benchmarks.md).

`tzrec validate_config` and `tzrec create_fg_json` on an upstream example
config, wall time per run (process start to exit), median/min/max over --runs
runs: `tzrec` (config-only subcommands linked without libtorch) against
`tzrec-full` running the same subcommand (every subcommand, libtorch loaded at
start: how every subcommand started before the split).

  bench/startup_bench.py [--build build] [--runs 20] [--config ../shared/upstream/<name>/pipeline.config]
"""
import argparse
import os
import statistics
import subprocess
import tempfile
import time


def timed(cmd, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times), max(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default="build")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--config", default="../shared/upstream/multi_tower_din_taobao/pipeline.config")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        commands = {
            "validate_config": ["validate_config", "--pipeline_config_path", args.config],
            "create_fg_json": ["create_fg_json", "--pipeline_config_path", args.config, "--fg_output_dir", out],
        }
        print("| subcommand | tzrec ms (median [min-max]) | tzrec-full ms | ratio |")
        print("|---|---|---|---|")
        for name, argv in commands.items():
            light = timed([os.path.join(args.build, "tzrec")] + argv, args.runs)
            full = timed([os.path.join(args.build, "tzrec-full")] + argv, args.runs)
            print(f"| {name} | {light[0]:.1f} [{light[1]:.1f}-{light[2]:.1f}] | "
                  f"{full[0]:.1f} [{full[1]:.1f}-{full[2]:.1f}] | {full[0] / light[0]:.0f}x |")


if __name__ == "__main__":
    main()
