#!/usr/bin/env python3
"""`tzrec serve` under load, against the same model run in a bare libtorch loop.

  $(scripts/venv.sh) bench/serve_bench.py [--scale 0.05] [--items 100] [--threads 2]
                                          [--duration 10] [--tzrec build/tzrec]

Runs in the test virtual environment (the EAS SDK builds the request body) and
needs wrk (Debian: apt-get install wrk). Steps:
  setup   the criteo-shaped DeepFM (bench/criteo_deepfm.py) at --scale: gen_data,
          a short train_eval, an INT8 export
  infer   bench/infer_bench on the export's scripted_model.pt at batch --items
          with 1..--threads intra-op threads (the best counts), on the same eval
          rows the requests carry (FG once, outside the timing): the rows/s the
          model alone gives
  serve   tzrec serve --fg_mode normal --threads --threads; one PBRequest of
          --items eval rows (every column a per-item feature) posted by wrk with
          1, 2, 4 and 8 connections for --duration s each: requests/s, latency
          percentiles, non-2xx answers; then paced to half the best rate
          (paced_run) for the latency target; the server's peak RSS against
          the artifact size
  The infer and full-load serve steps alternate for --rounds rounds (the
  machine's drift hits both sides of a round alike); the round with the
  median ratio gives the table, every round is in the JSON.
Prints a Markdown table and writes --out (JSON).
"""
import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import criteo_deepfm as spec  # noqa: E402
from eas_prediction.torchrec_request import TorchRecRequest  # noqa: E402

LISTENING = re.compile(r"^tzrec serve: listening on http://(\S+):(\d+)$")


def log(msg):
    print(f"[serve_bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sh(cmd, env=None):
    full_env = dict(os.environ, **(env or {}))
    r = subprocess.run(cmd, env=full_env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return r.stdout


def request_body(eval_csv, items):
    """A PBRequest of the first `items` rows: every feature column per item."""
    with open(eval_csv, newline="") as f:
        rows = list(csv.DictReader(f))[:items]
    request = TorchRecRequest()
    for i in range(len(rows)):
        request.add_item_id(str(i))
    for name in spec.dense_names():
        for r in rows:
            request.add_context_fea(name, float(r[name]) if r[name] else "", "DOUBLE" if r[name] else "STRING")
    for name in spec.sparse_names():
        for r in rows:
            request.add_context_fea(name, int(r[name]) if r[name] else "", "BIGINT" if r[name] else "STRING")
    return request.to_string()


def wrk(url, script, connections, duration, delay_ms=0):
    """One wrk run; with delay_ms each connection waits that long between its
    requests (wrk's delay() hook), which sets the load below the maximum."""
    if delay_ms:
        paced = script.replace(".lua", f"_delay{delay_ms}.lua")
        with open(script) as f, open(paced, "w") as out:
            out.write(f.read() + f"function delay()\n  return {delay_ms}\nend\n")
        script = paced
    out = sh(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", script, url])
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {}
    for pct, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M):
        latency[pct] = float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {"connections": connections, "delay_ms": delay_ms, "requests_per_s": rps, "latency_ms": latency,
            "non_2xx": int(bad.group(1)) if bad else 0, "socket_errors": errors.group(0) if errors else ""}


def paced_run(url, script, best_rps, duration, connections=4, target=0.5):
    """wrk at `target` of the maximum rate: each of `connections` pauses
    between its requests (whole milliseconds, wrk's delay() hook). A
    connection's cycle is its pause plus the answer's time, which itself
    shrinks as the load falls, so the pause is calibrated in short runs
    (new pause = the cycle the target rate needs - the answer time just
    seen; halfway, against noise) until the load lands within 45-55%, then
    measured for `duration`."""
    delay = max(1, round(1000 * connections / (target * best_rps)) // 2)
    for _ in range(5):
        probe = wrk(url, script, connections, 3, delay)
        fraction = probe["requests_per_s"] / best_rps
        log(f"pacing: pause {delay} ms -> {100 * fraction:.0f}% of the maximum")
        if abs(fraction - target) <= 0.05:
            break
        answer_ms = 1000 * connections / probe["requests_per_s"] - delay
        wanted = 1000 * connections / (target * best_rps) - answer_ms
        # Halfway there: one noisy probe should not swing the pause across the target.
        delay = max(1, round((delay + wanted) / 2))
    return wrk(url, script, connections, duration, delay)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=0.05)
    ap.add_argument("--items", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds of (model alone, server at full load); the median ratio is reported")
    ap.add_argument("--rows", type=int, default=20000, help="gen_data rows")
    ap.add_argument("--tzrec", default=os.path.join(HERE, "..", "build", "tzrec"))
    ap.add_argument("--infer_bench", default=os.path.join(HERE, "..", "build", "infer_bench"))
    ap.add_argument("--serve_args", default="", help="more tzrec serve flags, e.g. '--model_workers 1'")
    ap.add_argument("--work", default=None, help="work dir (default: a temp dir, removed)")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "serve.json"), help="JSON results")
    a = ap.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("serve_bench: needs wrk (apt-get install wrk)")
    root = a.work or tempfile.mkdtemp(prefix="tzrec_serve_bench_")
    os.makedirs(root, exist_ok=True)
    server = None
    try:
        config = os.path.join(root, "pipeline.config")
        with open(config, "w") as f:
            f.write(spec.pipeline_config(a.scale, root, batch_size=1024, num_steps=20))
        export = os.path.join(root, "export")
        if not os.path.exists(os.path.join(export, "export_manifest.json")):  # else a --work set up before
            log(f"setup: gen_data {a.rows} rows, train_eval, INT8 export (scale {a.scale})")
            shutil.rmtree(os.path.join(root, "model"), ignore_errors=True)
            sh([a.tzrec, "gen_data", "--pipeline_config_path", config, "--output_dir",
                os.path.join(root, "data"), "--num_rows", str(a.rows)])
            sh([a.tzrec, "train_eval", "--pipeline_config_path", config])
            sh([a.tzrec, "export", "--pipeline_config_path", config, "--export_dir", export],
               {"QUANT_EMB": "INT8"})
        artifact_mb = sum(os.path.getsize(os.path.join(export, n)) for n in os.listdir(export)
                          if os.path.isfile(os.path.join(export, n))) / 2**20

        def model_alone():
            """infer_bench at batch --items with 1..--threads intra-op threads;
            the strongest baseline is the thread count giving the most rows/s."""
            by_threads = {}
            for threads in range(1, a.threads + 1):
                by_threads[threads] = json.loads(sh([
                    a.infer_bench, "--model", os.path.join(export, "scripted_model.pt"),
                    "--buckets", ",".join(str(b) for b in spec.buckets(a.scale)),
                    "--dense", str(spec.NUM_DENSE), "--threads", str(threads),
                    "--batch_sizes", str(a.items), "--rows", "50000",
                    "--input_csv", os.path.join(root, "data", "eval.csv"),
                    "--export_dir", export]))[str(a.items)]
            best = max(by_threads.values(), key=lambda r: r["rows_per_s"])
            log(f"infer: infer_bench at batch {a.items}: {best['rows_per_s']:.0f} rows/s")
            return best, by_threads

        body = os.path.join(root, "request.pb")
        with open(body, "wb") as f:
            f.write(request_body(os.path.join(root, "data", "eval.csv"), a.items))
        script = os.path.join(root, "post.lua")
        with open(script, "w") as f:
            f.write('wrk.method = "POST"\n'
                    f'local f = io.open("{body}", "rb")\n'
                    'wrk.body = f:read("*a")\nf:close()\n'
                    'wrk.headers["Content-Type"] = "application/octet-stream"\n')
        log(f"serve: tzrec serve --threads {a.threads}, wrk 1/2/4/8 connections x {a.duration} s")
        server = subprocess.Popen([a.tzrec, "serve", "--scripted_model_path", export, "--fg_mode",
                                   "normal", "--threads", str(a.threads), "--port", "0"] + a.serve_args.split(),
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        match = LISTENING.match(server.stdout.readline().strip())
        if match is None:
            raise SystemExit("serve_bench: tzrec serve did not start")
        url = f"http://{match.group(1)}:{match.group(2)}/api/predict/bench"
        # Rounds of (model alone, server at 1/2/4/8 connections) interleaved, so
        # that the machine's drift hits both sides of each round's ratio alike.
        rounds = []
        for r in range(a.rounds):
            infer, infers = model_alone()
            runs = [wrk(url, script, c, a.duration) for c in (1, 2, 4, 8)]
            best_rps = max(run["requests_per_s"] for run in runs)
            rounds.append({"infer_bench_rows_per_s": infer["rows_per_s"],
                           "infer_bench_by_threads": {str(t): v["rows_per_s"] for t, v in infers.items()},
                           "runs": runs, "max_items_per_s": best_rps * a.items,
                           "serve_vs_infer": best_rps * a.items / infer["rows_per_s"]})
            log(f"round {r}: serve {best_rps * a.items:.0f} items/s, model alone {infer['rows_per_s']:.0f} "
                f"rows/s: {rounds[-1]['serve_vs_infer']:.2f}x")
        # The round with the median ratio gives the table.
        chosen = sorted(rounds, key=lambda x: x["serve_vs_infer"])[len(rounds) // 2]
        runs = chosen["runs"]
        half_load = paced_run(url, script, max(r["requests_per_s"] for r in runs), a.duration)
        with open(f"/proc/{server.pid}/status") as f:
            peak_rss_mb = int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1)) / 1024
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        if a.work is None:
            shutil.rmtree(root, ignore_errors=True)

    best = max(runs, key=lambda r: r["requests_per_s"])
    max_items_per_s = best["requests_per_s"] * a.items
    half_load["load_fraction"] = half_load["requests_per_s"] / best["requests_per_s"]
    infer = {"rows_per_s": chosen["infer_bench_rows_per_s"]}
    result = {"scale": a.scale, "items": a.items, "threads": a.threads, "duration_s": a.duration,
              "infer_bench_rows_per_s": infer["rows_per_s"],
              "runs": runs, "rounds": rounds,
              "max_items_per_s": max_items_per_s, "half_load": half_load,
              "serve_vs_infer": chosen["serve_vs_infer"],
              "artifact_mb": artifact_mb, "server_peak_rss_mb": peak_rss_mb}
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(result, f, indent=2)
    print("| connections | pause ms | requests/s | items/s | p50 ms | p99 ms | non-2xx |")
    print("|---|---|---|---|---|---|---|")
    for r in runs + [half_load]:
        lat = r["latency_ms"]
        print(f"| {r['connections']} | {r['delay_ms']} | {r['requests_per_s']:.1f} "
              f"| {r['requests_per_s'] * a.items:.0f} | {lat.get('50', float('nan')):.2f} "
              f"| {lat.get('99', float('nan')):.2f} | {r['non_2xx']} |")
    print("\nper round: " + ", ".join(f"serve {r['max_items_per_s']:.0f} / model alone "
                                      f"{r['infer_bench_rows_per_s']:.0f} = {r['serve_vs_infer']:.2f}x"
                                      for r in rounds))
    print(f"median round: infer_bench at batch {a.items}: {infer['rows_per_s']:.0f} rows/s; serve at its best: "
          f"{max_items_per_s:.0f} items/s ({result['serve_vs_infer']:.2f}x); "
          f"artifact {artifact_mb:.1f} MiB, server peak RSS {peak_rss_mb:.1f} MiB")
    print(f"at {100 * half_load['load_fraction']:.0f}% of the maximum throughput: p99 "
          f"{half_load['latency_ms'].get('99', float('nan')):.2f} ms")


if __name__ == "__main__":
    main()
