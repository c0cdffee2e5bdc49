#!/usr/bin/env python3
"""`tzrec serve` (an open TorchEasyRec Processor) judged by real clients.

Trains a tiny DeepFM (FG_DAG: raw CSV columns in) and upstream's mmoe_taobao
with tzrec, exports both, starts `tzrec serve` on the exports and checks:

- FG mode (`--fg_mode normal`) through the EAS Python SDK (`eas_prediction`:
  PredictClient + TorchRecRequest, what real callers send): every output of
  every item equals `tzrec predict` on the same CSV rows within 1e-6, for
  requests with shared user_features and per-item item_features /
  context_features, list values, empty values, and item_ids echoed in order.
- bypass mode (the default): model tensors in, through the SDK's TorchRequest
  (its numbering: output_filter=2, map_inputs=3) and through raw HTTP with
  classes protoc generates from src/serve/protos/torch_predict.proto (the
  documentation's numbering: map_inputs=2); outputs equal stock PyTorch running
  the same scripted_model.pt on the same tensors.
- faults: a malformed body is a 400 with a one-line text body, an oversized one
  a 413, a missing or wrong token a 401, too many items a 400, and the server
  answers the next request with 200 after each; SIGTERM ends it with exit 0.

Fails (does not skip) while tzrec has no `serve` subcommand. Run in the venv
(tests/py/run_in_venv.sh: torch 2.12.1 and eas-prediction from
tests/requirements.txt); TZREC_BINARY names the tzrec binary, TZREC_SHARED_DIR
the fixtures folder.
"""
import csv
import http.client
import json
import os
import queue
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import torch
from eas_prediction import PredictClient, PredictException, TorchRequest
from eas_prediction.torchrec_request import TorchRecRequest

import test_hitrate_dssm as retrieval  # its DSSM config and data (module only: not its tests)
from test_export_mmoe import small_config as mmoe_small_config
from tzrec_cli import SMALL_DEEPFM_MODEL, TZREC, random_inputs, read_csv, run, small_config_head

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROTO_DIR = os.path.join(ROOT, "src")
TORCH_PROTO = "serve/protos/torch_predict.proto"

# The tiny DeepFM of the other tests, reading raw columns through FG (FG_DAG)
# so the FG-mode server and `tzrec predict` both run the export's fg.json.
DEEPFM_CONFIG = (small_config_head("label", 64, tags_dim=8) + SMALL_DEEPFM_MODEL).replace(
    "fg_mode: FG_NONE", "fg_mode: FG_DAG")
assert "fg_mode: FG_DAG" in DEEPFM_CONFIG

TOKEN = "s3cret-token"
MAX_BODY = 65536
MAX_ITEMS = 16
FG_SEPARATOR = "\x1d"  # a raw multi-value cell's separator (fg.json's default)
START_TIMEOUT_S = 180
STOP_TIMEOUT_S = 60
LISTENING = re.compile(r"^tzrec serve: listening on http://(\S+):(\d+)$")
DT_FLOAT = 1  # ArrayDataType, the same number in both protos


def setUpModule():
    result = run(["--help"], check=False)
    if not re.search(r"^\s+serve\s", result.stdout, re.MULTILINE):
        raise AssertionError(f"{TZREC} has no `serve` subcommand; `tzrec --help` lists:\n"
                             f"{result.stdout}{result.stderr}")


class Server:
    """A `tzrec serve` process on a free port of 127.0.0.1: started, and its
    `listening on` line read, by the constructor; stop() signals it."""

    def __init__(self, export_dir, flags, log_path):
        """export_dir None: `flags` say what to serve (--model_base_dir)."""
        model = ["--scripted_model_path", export_dir] if export_dir else []
        self.args = [TZREC, "serve"] + model + ["--host", "127.0.0.1", "--port", "0"] + list(flags)
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=self.log,
                                     stdin=subprocess.DEVNULL, text=True)
        lines = queue.Queue()

        def read_stdout():
            for line in self.proc.stdout:
                lines.put(line)
            lines.put(None)
        threading.Thread(target=read_stdout, daemon=True).start()
        self.lines = lines
        try:
            first = lines.get(timeout=START_TIMEOUT_S)
        except queue.Empty:
            first = "(nothing within %d s)" % START_TIMEOUT_S
        match = LISTENING.match(first.rstrip("\n")) if first else None
        if match is None:
            self.proc.kill()
            self.proc.wait()
            self.proc.stdout.close()
            self.log.close()
            raise AssertionError(
                f"{' '.join(self.args)} did not print `tzrec serve: listening on http://HOST:PORT` "
                f"(first stdout line: {first!r}, exit {self.proc.returncode}); stderr:\n"
                f"{self.stderr()}")
        self.host, self.port = match.group(1), int(match.group(2))
        self.endpoint = f"{self.host}:{self.port}"

    def stderr(self):
        with open(self.log_path) as f:
            return f.read()[-4000:]

    def stop(self, sig=signal.SIGTERM):
        """Signals the server and waits for it; returns (exit code, the stdout
        lines it printed after the listening line)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"tzrec serve did not exit within {STOP_TIMEOUT_S} s of "
                                     f"signal {sig}; stderr:\n{self.stderr()}")
        rest = []
        while True:
            line = self.lines.get(timeout=10)
            if line is None:
                break
            rest.append(line)
        self.proc.stdout.close()
        self.log.close()
        return self.proc.returncode, rest

    def request(self, method, path, body=None, headers=None):
        """(status, body bytes) of one plain HTTP request."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


def stop_all(servers):
    """Stops every server; fails if one did not exit 0 on SIGTERM."""
    failures = []
    for server in servers:
        code, _ = server.stop()
        if code != 0:
            failures.append(f"exit {code} after SIGTERM; stderr:\n{server.stderr()}")
    if failures:
        raise AssertionError("\n".join(failures))


def sdk_client(server, service_name="svc", token="", custom_url=""):
    """An EAS SDK PredictClient for `server`: the gateway endpoint form
    (http://HOST:PORT/api/predict/<service_name>), or custom_url."""
    client = PredictClient(server.endpoint, service_name, custom_url=custom_url)
    if token:
        client.set_token(token)
    client.set_timeout(60000)  # ms
    client.set_retry_count(1)  # a 500 is a failure here, not a reason to resend
    client.init()
    return client


def assert_one_line_text(test, body):
    text = body.decode("utf-8")
    test.assertTrue(text.strip(), "an error answer has a text body")
    test.assertNotIn("\n", text.rstrip("\n"), text)


def fg_features(export_dir):
    with open(os.path.join(export_dir, "fg.json")) as f:
        return json.load(f)["features"]


def fg_sides(export_dir):
    """{input column: 'user' | 'item' | 'context'} read from fg.json's expressions."""
    sides = {}
    for feature in fg_features(export_dir):
        expressions = feature.get("expression", [])
        for expression in [expressions] if isinstance(expressions, str) else expressions:
            side, _, name = expression.partition(":")
            if side in ("user", "item", "context"):
                sides[name] = side
    return sides


def column_kinds(header, rows, sides):
    """The PBFeature type each column is sent as (the SDK's dtype names), varied
    over the scalar types a caller uses: whole numbers as BIGINT (user side) or
    INT, other numbers as FLOAT (user side) or DOUBLE, the rest as STRING."""
    kinds = {}
    for c, name in enumerate(header):
        cells = [r[c] for r in rows if r[c] != "" and FG_SEPARATOR not in r[c]]
        user = sides.get(name) == "user"

        def fits(convert):
            try:
                return all(convert(v) for v in cells)
            except ValueError:
                return False
        if cells and fits(lambda v: str(int(v)) == v):
            small = all(-2**31 <= int(v) < 2**31 for v in cells)
            kinds[name] = "BIGINT" if user or not small else "INT"
        elif cells and fits(lambda v: float(v) == float(v)):
            kinds[name] = "FLOAT" if user else "DOUBLE"
        else:
            kinds[name] = "STRING"
    return kinds


def sdk_value(text, kind):
    """(value, dtype) for TorchRecRequest.add_*_fea of one CSV cell."""
    if FG_SEPARATOR in text:
        parts = text.split(FG_SEPARATOR)
        if kind in ("BIGINT", "INT"):
            return [int(p) for p in parts], "LIST<BIGINT>"
        return parts, "LIST<STRING>"
    if text == "":
        return "", "STRING"
    if kind in ("BIGINT", "INT"):
        return int(text), kind
    if kind in ("FLOAT", "DOUBLE"):
        return float(text), kind
    return text, "STRING"


def fg_request(header, rows, sides, kinds, shared_user, first_row):
    """A TorchRecRequest for `rows`: with shared_user the user columns (equal in
    every row) go once into user_features, else per item into context_features;
    item columns into item_features, context columns into context_features.
    Item ids are "item<row number>", counted from first_row."""
    request = TorchRecRequest()
    for i in range(len(rows)):
        request.add_item_id(f"item{first_row + i}")
    for c, name in enumerate(header):
        side = sides.get(name)
        if side is None:
            continue  # a label or an unused column
        if side == "user" and shared_user:
            values = {r[c] for r in rows}
            assert len(values) == 1, f"rows disagree on user column {name}"
            request.add_user_fea(name, *sdk_value(rows[0][c], kinds[name]))
            continue
        for r in rows:
            value, dtype = sdk_value(r[c], kinds[name])
            if side == "item":
                request.add_item_fea(name, value, dtype)
            else:
                request.add_context_fea(name, value, dtype)
    return request


def serve_rows(header, rows, sides, groups):
    """The rows the FG-mode requests send: within each (start, end, shared_user)
    group with shared_user, every row takes the group's first row's user columns."""
    rows = [list(r) for r in rows]
    user_cols = [c for c, name in enumerate(header) if sides.get(name) == "user"]
    for start, end, shared_user in groups:
        if shared_user:
            for r in rows[start + 1:end]:
                for c in user_cols:
                    r[c] = rows[start][c]
    return rows


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def predict_outputs(export_dir, input_path, output_path):
    """{output name: [value per row]} of `tzrec predict` with the export."""
    run(["predict", "--scripted_model_path", export_dir, "--predict_input_path", input_path,
         "--predict_output_path", output_path])
    header, rows = read_csv(output_path)
    return {name: [float(r[c]) for r in rows] for c, name in enumerate(header)}


def export_model(root, config_text, num_rows, env):
    """gen_data, train_eval and export under root; returns the export dir."""
    os.makedirs(root)
    config = os.path.join(root, "pipeline.config")
    with open(config, "w") as f:
        f.write(config_text)
    run(["gen_data", "--pipeline_config_path", config, "--output_dir", os.path.join(root, "data"),
         "--num_rows", str(num_rows), "--seed", "7"])
    run(["train_eval", "--pipeline_config_path", config])
    export_dir = os.path.join(root, "export")
    run(["export", "--pipeline_config_path", config, "--export_dir", export_dir], env)
    return export_dir


def model_input_spec(export_dir):
    """(sparse {feature: buckets}, dense [feature]) of an export's model inputs,
    from fg.json: id features and bucketized raw features are sparse
    ("<name>.values"/"<name>.lengths", int64), other raw features dense
    ("<name>.values", float32 [batch, 1])."""
    sparse, dense = {}, []
    for feature in fg_features(export_dir):
        name = feature["feature_name"]
        if "boundaries" in feature:
            sparse[name] = len(feature["boundaries"]) + 1
        elif feature["feature_type"] == "raw_feature":
            dense.append(name)
        else:
            sparse[name] = feature.get("num_buckets") or feature["hash_bucket_size"]
    return sparse, dense


class ServerTestCase(unittest.TestCase):
    """A temp root holding the exports, servers started by the class (all must
    exit 0 on SIGTERM at the end). Subclasses build in set_up_class()."""

    ROOT_PREFIX = "tzrec_serve_"

    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix=cls.ROOT_PREFIX)
        cls.servers = []
        try:
            cls.set_up_class()
        except BaseException:
            try:
                cls.tearDownClass()
            except AssertionError:
                pass  # the setup failure is the one to report
            raise

    @classmethod
    def start(cls, export_dir, *flags):
        server = Server(export_dir, flags, os.path.join(cls.root, f"serve{len(cls.servers)}.log"))
        cls.servers.append(server)
        return server

    @classmethod
    def tearDownClass(cls):
        try:
            stop_all(cls.servers)
        finally:
            shutil.rmtree(cls.root, ignore_errors=True)


class FgModeTest(ServerTestCase):
    """`--fg_mode normal`: raw features in, through the EAS SDK's TorchRecRequest."""

    ROOT_PREFIX = "tzrec_serve_fg_"

    @classmethod
    def set_up_class(cls):
        deepfm = os.path.join(cls.root, "deepfm")
        cls.deepfm_export = export_model(deepfm, DEEPFM_CONFIG.format(root=deepfm), 400,
                                         {"QUANT_EMB": "FP32"})
        mmoe = os.path.join(cls.root, "mmoe")
        cls.mmoe_export = export_model(mmoe, mmoe_small_config(mmoe), 600, {"QUANT_EMB": "0"})
        cls.deepfm_server = cls.start(cls.deepfm_export, "--fg_mode", "normal",
                                      "--max_items", str(MAX_ITEMS))
        cls.mmoe_server = cls.start(cls.mmoe_export, "--fg_mode", "normal")

    def check_against_predict(self, export_dir, server, groups, edit_rows=None, count=None,
                              data_dir=None):
        """Sends the eval rows of `export_dir`'s model as one SDK request per
        (start, end, shared_user) group and compares each item's outputs with
        `tzrec predict` on the same rows (data_dir: where the rows are, by
        default beside the export)."""
        data_dir = data_dir or os.path.join(os.path.dirname(export_dir), "data")
        header, rows = read_csv(os.path.join(data_dir, "eval.csv"))
        n = groups[-1][1]
        self.assertGreaterEqual(len(rows), n, "gen_data wrote too few eval rows")
        sides = fg_sides(export_dir)
        rows = serve_rows(header, rows[:n], sides, groups)
        if edit_rows:
            edit_rows(header, rows)
        work = tempfile.mkdtemp(prefix="serve_check_", dir=data_dir)  # one per call
        input_path = os.path.join(work, "serve_input.csv")
        write_csv(input_path, header, rows)
        expected = predict_outputs(export_dir, input_path, os.path.join(work, "serve_out.csv"))
        kinds = column_kinds(header, rows, sides)
        client = sdk_client(server, service_name="tzrec_fg")
        try:
            for start, end, shared_user in groups:
                request = fg_request(header, rows[start:end], sides, kinds, shared_user, start)
                response = client.predict(request)  # a PBResponse
                where = f"rows {start}-{end - 1} (shared user: {shared_user})"
                self.assertEqual(list(response.item_ids), [f"item{i}" for i in range(start, end)],
                                 where)
                self.assertEqual(set(response.map_outputs.keys()), set(expected.keys()), where)
                for name, values in expected.items():
                    array = response.map_outputs[name]
                    self.assertEqual(array.dtype, DT_FLOAT, f"{where}: {name}")
                    self.assertEqual(list(array.array_shape.dim), [end - start], f"{where}: {name}")
                    torch.testing.assert_close(
                        torch.tensor(list(array.float_val), dtype=torch.float64),
                        torch.tensor(values[start:end], dtype=torch.float64),
                        rtol=0, atol=1e-6, msg=lambda m: f"{where}, output {name}: {m}")
        finally:
            client.destroy()
        if count is not None:
            self.assertGreater(len(set(expected[count][:n])), 5, "trained, not constant")

    def test_deepfm_matches_predict(self):
        def lists_and_empties(header, rows):
            tags = header.index("tags")
            rows[1][tags] = rows[1][tags] + FG_SEPARATOR + rows[2][tags]  # a list value
            rows[7][tags] = rows[7][tags] + FG_SEPARATOR + rows[8][tags] + FG_SEPARATOR + rows[9][tags]
            rows[3][tags] = ""  # an empty one
            rows[21][tags] = rows[21][tags] + FG_SEPARATOR + rows[22][tags]
        # Rows 0-19: one user per request (user_features); 20-29: every column per item.
        self.check_against_predict(
            self.deepfm_export, self.deepfm_server,
            [(0, 6, True), (6, 12, True), (12, 20, True), (20, 20 + MAX_ITEMS, False)],
            edit_rows=lists_and_empties, count="probs")

    def test_input_tile_exports_match_predict(self):
        """INPUT_TILE=2 and =3 exports of the same model: requests with the user
        in user_features run its FG once and let the model tile it; requests
        sending user columns per item run row by row. Both equal predict."""
        config = os.path.join(os.path.dirname(self.deepfm_export), "pipeline.config")
        for tile in ("2", "3"):
            export_dir = os.path.join(self.root, f"deepfm_tile{tile}")
            run(["export", "--pipeline_config_path", config, "--export_dir", export_dir],
                {"QUANT_EMB": "FP32", "INPUT_TILE": tile})
            server = self.start(export_dir, "--fg_mode", "normal", "--max_items", str(MAX_ITEMS))
            with self.subTest(input_tile=tile):
                self.check_against_predict(export_dir, server,
                                           [(0, 6, True), (6, 16, True), (16, 16 + MAX_ITEMS, False)],
                                           data_dir=os.path.join(os.path.dirname(self.deepfm_export), "data"))

    def test_mmoe_matches_predict_for_both_tasks(self):
        self.check_against_predict(self.mmoe_export, self.mmoe_server,
                                   [(0, 8, True), (8, 13, True), (13, 24, False)], count="probs_ctr")

    def test_item_features_from_the_item_table_and_unknown_ids(self):
        """Requests that send user features and item ids only: the item columns
        come from --item_feature_path by id, an id it lacks scores
        --item_empty_score, and the others equal predict on the same rows."""
        data_dir = os.path.join(os.path.dirname(self.deepfm_export), "data")
        header, rows = read_csv(os.path.join(data_dir, "eval.csv"))
        sides = fg_sides(self.deepfm_export)
        rows = serve_rows(header, rows[:12], sides, [(0, 12, True)])
        input_path = os.path.join(data_dir, "item_table_input.csv")
        write_csv(input_path, header, rows)
        expected = predict_outputs(self.deepfm_export, input_path,
                                   os.path.join(data_dir, "item_table_out.csv"))
        item_cols = [c for c, name in enumerate(header) if sides.get(name) == "item"]
        self.assertTrue(item_cols, "the DeepFM config has item-side columns")
        table_dir = os.path.join(data_dir, "items")
        os.makedirs(table_dir)
        # Two part files, to read a directory as predict does.
        for part, part_rows in enumerate((rows[:5], rows[5:])):
            first = 0 if part == 0 else 5
            write_csv(os.path.join(table_dir, f"part-{part}.csv"), ["iid"] + [header[c] for c in item_cols],
                      [[f"item{first + i}"] + [r[c] for c in item_cols] for i, r in enumerate(part_rows)])
        server = self.start(self.deepfm_export, "--fg_mode", "normal", "--item_feature_path",
                            table_dir, "--item_id_field", "iid", "--item_empty_score", "-7")
        kinds = column_kinds(header, rows, sides)
        request = TorchRecRequest()
        ids = [f"item{i}" for i in range(12)]
        ids.insert(3, "no-such-item")
        for item_id in ids:
            request.add_item_id(item_id)
        for c, name in enumerate(header):
            if sides.get(name) == "user":
                request.add_user_fea(name, *sdk_value(rows[0][c], kinds[name]))
            elif sides.get(name) == "context":
                for item_id in ids:
                    row = rows[0] if item_id == "no-such-item" else rows[int(item_id[4:])]
                    request.add_context_fea(name, *sdk_value(row[c], kinds[name]))
        client = sdk_client(server, service_name="tzrec_items")
        try:
            response = client.predict(request)
        finally:
            client.destroy()
        self.assertEqual(list(response.item_ids), ids)
        for name, values in expected.items():
            want = values[:3] + [-7.0] + values[3:12]
            torch.testing.assert_close(
                torch.tensor(list(response.map_outputs[name].float_val), dtype=torch.float64),
                torch.tensor(want, dtype=torch.float64), rtol=0, atol=1e-6,
                msg=lambda m: f"output {name}: {m}")

    def test_concurrent_requests_share_model_calls_and_match_predict(self):
        """Requests sent at once from several threads are batched into shared
        model calls (the metrics say so) and each still gets predict's scores."""
        data_dir = os.path.join(os.path.dirname(self.deepfm_export), "data")
        header, rows = read_csv(os.path.join(data_dir, "eval.csv"))
        sides = fg_sides(self.deepfm_export)
        groups = [(4 * i, 4 * i + 4, False) for i in range(8)]
        rows = rows[:32]
        input_path = os.path.join(data_dir, "concurrent_input.csv")
        write_csv(input_path, header, rows)
        expected = predict_outputs(self.deepfm_export, input_path,
                                   os.path.join(data_dir, "concurrent_out.csv"))
        # A model call waits up to 200 ms for more requests to share it.
        server = self.start(self.deepfm_export, "--fg_mode", "normal", "--threads", "8",
                            "--batch_timeout_us", "200000")
        kinds = column_kinds(header, rows, sides)
        bodies = [fg_request(header, rows[a:b], sides, kinds, False, a).to_string()
                  for a, b, _ in groups]
        results = [None] * len(groups)
        barrier = threading.Barrier(len(groups))

        def send(i):
            barrier.wait()
            results[i] = server.request("POST", "/api/predict/svc", body=bodies[i])
        threads = [threading.Thread(target=send, args=(i,)) for i in range(len(groups))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i, (a, b, _) in enumerate(groups):
            status, body = results[i]
            self.assertEqual(status, 200, body)
            response = TorchRecRequest().parse_response(body)
            for name, values in expected.items():
                torch.testing.assert_close(
                    torch.tensor(list(response.map_outputs[name].float_val), dtype=torch.float64),
                    torch.tensor(values[a:b], dtype=torch.float64), rtol=0, atol=1e-6,
                    msg=lambda m: f"request {i}, output {name}: {m}")
        status, text = server.request("GET", "/metrics")
        self.assertEqual(status, 200)
        counts = dict(re.findall(r"^(tzrec_serve_model_call\w*_total) (\d+)$", text.decode(), re.M))
        # The warm-up runs before the batcher: its calls are the requests'.
        self.assertEqual(int(counts["tzrec_serve_model_call_requests_total"]), len(groups))
        self.assertEqual(int(counts["tzrec_serve_model_call_rows_total"]), 32)
        self.assertLess(int(counts["tzrec_serve_model_calls_total"]), len(groups))

    def test_new_model_versions_swap_under_load_and_broken_ones_are_skipped(self):
        """--model_base_dir: the newest published export is served; a newer one
        is loaded in the background and swapped in with no failed request; a
        broken one is logged and the old version keeps serving."""
        base = os.path.join(self.root, "versions")
        os.makedirs(base)

        def publish(export_dir, name, corrupt=False):
            # Copied without the old times (the manifest's time says which is
            # newest), then renamed into place whole, as a deployment would.
            staging = os.path.join(base, "." + name)
            shutil.copytree(export_dir, staging, copy_function=shutil.copy)
            if corrupt:
                with open(os.path.join(staging, "scripted_model.pt"), "r+b") as f:
                    f.truncate(100)
            os.rename(staging, os.path.join(base, name))

        publish(self.deepfm_export, "v1")
        server = self.start(None, "--model_base_dir", base, "--model_poll_ms", "100",
                            "--fg_mode", "normal")
        request = TorchRecRequest()
        for i in range(3):
            request.add_item_id(f"item{i}")  # no features: FG defaults, valid for any model
        body = request.to_string()
        seen, statuses, stop = [], [], threading.Event()

        def load():
            while not stop.is_set():
                status, answer = server.request("POST", "/predict", body=body)
                statuses.append(status)
                if status == 200:
                    keys = tuple(sorted(TorchRecRequest().parse_response(answer).map_outputs.keys()))
                    if not seen or seen[-1] != keys:
                        seen.append(keys)
        thread = threading.Thread(target=load)
        thread.start()
        try:
            time.sleep(1)
            publish(self.mmoe_export, "v2", corrupt=True)
            time.sleep(2)
            self.assertIn("cannot be served", server.stderr())
            self.assertEqual(seen, [("logits", "probs")], "the broken version was not served")
            publish(self.mmoe_export, "v3")
            deadline = time.time() + 60
            while len(seen) < 2 and time.time() < deadline:
                time.sleep(0.1)
            time.sleep(0.5)
        finally:
            stop.set()
            thread.join()
        self.assertEqual(set(statuses), {200}, "a request failed during the swaps")
        self.assertEqual(seen, [("logits", "probs"),
                                ("logits_ctr", "logits_cvr", "probs_ctr", "probs_cvr")])

    def one_item_request(self):
        header, rows = read_csv(os.path.join(os.path.dirname(self.deepfm_export), "data", "eval.csv"))
        sides = fg_sides(self.deepfm_export)
        return header, rows, sides, column_kinds(header, rows, sides)

    def test_debug_level_returns_each_items_fg_inputs_and_outputs(self):
        header, rows, sides, kinds = self.one_item_request()
        request = fg_request(header, rows[:3], sides, kinds, False, 0)
        request.set_debug_level(1)
        client = sdk_client(self.deepfm_server, service_name="debug")
        try:
            response = client.predict(request)
        finally:
            client.destroy()
        features = {f["feature_name"] for f in fg_features(self.deepfm_export)}
        self.assertEqual(set(response.raw_features.keys()), {"item0", "item1", "item2"})
        for i in range(3):
            raw = json.loads(response.raw_features[f"item{i}"])
            for c, name in enumerate(header):
                if name in sides:  # an FG input: the cell as sent
                    expected = rows[i][c]
                    if kinds[name] in ("FLOAT", "DOUBLE") and expected:
                        self.assertAlmostEqual(float(raw[name]), float(expected), places=5)
                    else:
                        self.assertEqual(raw[name], expected, name)
            generated = json.loads(response.generate_features[f"item{i}"])
            self.assertEqual(set(generated), features)
        # Without debug_level, neither map is filled.
        plain = fg_request(header, rows[:1], sides, kinds, False, 0)
        client = sdk_client(self.deepfm_server, service_name="debug")
        try:
            response = client.predict(plain)
        finally:
            client.destroy()
        self.assertEqual(len(response.raw_features), 0)
        self.assertEqual(len(response.generate_features), 0)

    def test_too_many_items_is_400_and_serving_goes_on(self):
        header, rows, sides, kinds = self.one_item_request()
        too_many = (rows * (MAX_ITEMS + 1))[:MAX_ITEMS + 1]
        body = fg_request(header, too_many, sides, kinds, False, 0).to_string()
        status, text = self.deepfm_server.request("POST", "/api/predict/tzrec_fg", body)
        self.assertEqual(status, 400, text)
        assert_one_line_text(self, text)
        body = fg_request(header, rows[:MAX_ITEMS], sides, kinds, False, 0).to_string()
        status, text = self.deepfm_server.request("POST", "/api/predict/tzrec_fg", body)
        self.assertEqual(status, 200, text)

    def test_garbage_is_400_and_serving_goes_on(self):
        header, rows, sides, kinds = self.one_item_request()
        for garbage in [b"\x0a\x05abc", b"not a protobuf \xff\xfe"]:
            status, text = self.deepfm_server.request("POST", "/api/predict/tzrec_fg", garbage)
            self.assertEqual(status, 400, text)
            assert_one_line_text(self, text)
            request = fg_request(header, rows[:2], sides, kinds, False, 0)
            status, body = self.deepfm_server.request("POST", "/predict", request.to_string())
            self.assertEqual(status, 200, body)
            response = request.parse_response(body)
            self.assertEqual(list(response.item_ids), ["item0", "item1"])

    def test_health_and_metrics(self):
        status, text = self.deepfm_server.request("GET", "/health")
        self.assertEqual((status, text.decode().strip()), (200, "ok"))
        header, rows, sides, kinds = self.one_item_request()
        body = fg_request(header, rows[:1], sides, kinds, False, 0).to_string()
        self.assertEqual(self.deepfm_server.request("POST", "/predict", body)[0], 200)
        status, text = self.deepfm_server.request("GET", "/metrics")
        self.assertEqual(status, 200)
        totals = [float(m.group(1)) for m in re.finditer(
            r"^tzrec_serve_requests_total(?:\{[^}]*\})?\s+(\S+)", text.decode(), re.MULTILINE)]
        self.assertTrue(totals, text.decode()[:2000])
        self.assertGreaterEqual(sum(totals), 1)

    def test_outputs_flag_limits_the_outputs(self):
        server = self.start(self.deepfm_export, "--fg_mode", "normal", "--outputs", "probs")
        header, rows, sides, kinds = self.one_item_request()
        client = sdk_client(server, service_name="only_probs")
        try:
            response = client.predict(fg_request(header, rows[:3], sides, kinds, False, 0))
        finally:
            client.destroy()
        self.assertEqual(set(response.map_outputs.keys()), {"probs"})
        self.assertEqual(len(response.map_outputs["probs"].float_val), 3)


class RetrievalTest(ServerTestCase):
    """A DSSM user/ export served with the FAISS index of its item embeddings:
    the neighbours equal a brute-force search over the same embeddings."""

    ROOT_PREFIX = "tzrec_serve_retrieval_"

    @classmethod
    def set_up_class(cls):
        root = cls.root
        rng = random.Random(7)
        header = ["user_id", "item_id", "tag", "clk"]
        for name, n in (("train", 3000), ("eval", 300)):
            write_csv(f"{root}/{name}.csv", header, [(u, i, i % retrieval.NUM_GROUPS, 1)
                                                     for u, i in retrieval.positive_pairs(rng, n)])
        write_csv(f"{root}/items.csv", ["item_id", "tag"],
                  [(i, i % retrieval.NUM_GROUPS) for i in range(retrieval.NUM_ITEMS)])
        users = list(range(0, retrieval.NUM_USERS, 9))
        write_csv(f"{root}/users.csv", ["user_id"], [(u,) for u in users])
        config = f"{root}/pipeline.config"
        with open(config, "w") as f:
            f.write(retrieval.CONFIG.format(root=root, users=retrieval.NUM_USERS,
                                            items=retrieval.NUM_ITEMS, groups=retrieval.NUM_GROUPS))
        run(["train_eval", "--pipeline_config_path", config])
        run(["export", "--pipeline_config_path", config, "--export_dir", f"{root}/export"])
        for tower, source, reserved in (("item", "items.csv", "item_id"), ("user", "users.csv", "user_id")):
            run(["predict", "--scripted_model_path", f"{root}/export/{tower}",
                 "--predict_input_path", f"{root}/{source}",
                 "--predict_output_path", f"{root}/{tower}_emb.csv", "--reserved_columns", reserved])
        run(["create_faiss_index", "--embedding_input_path", f"{root}/item_emb.csv",
             "--index_output_dir", f"{root}/index", "--id_field", "item_id",
             "--embedding_field", "item_tower_emb", "--index_type", "FlatIP"])
        cls.server = cls.start(f"{root}/export/user", "--fg_mode", "normal",
                               "--faiss_index_dir", f"{root}/index", "--faiss_neigh_num", "5")

    def embeddings(self, tower, id_field):
        header, rows = read_csv(f"{self.root}/{tower}_emb.csv")
        ids, emb = header.index(id_field), header.index(f"{tower}_tower_emb")
        return [r[ids] for r in rows], torch.tensor([[float(v) for v in r[emb].split(",")]
                                                     for r in rows], dtype=torch.float64)

    def test_neighbours_equal_brute_force_search(self):
        item_ids, items = self.embeddings("item", "item_id")
        user_ids, users = self.embeddings("user", "user_id")
        client = sdk_client(self.server, service_name="retrieval")
        try:
            for u, user in zip(user_ids, users):
                for k in (0, 7):  # 0: the server's --faiss_neigh_num
                    request = TorchRecRequest()
                    request.add_user_fea("user_id", int(u), "BIGINT")
                    if k:
                        request.set_faiss_neigh_num(k)
                    response = client.predict(request)
                    scores = items @ user
                    top = torch.topk(scores, k or 5)
                    where = f"user {u}, k {k}"
                    self.assertEqual(list(response.item_ids), [item_ids[i] for i in top.indices.tolist()],
                                     where)
                    torch.testing.assert_close(
                        torch.tensor(list(response.map_outputs["scores"].float_val), dtype=torch.float64),
                        top.values, rtol=0, atol=1e-5, msg=lambda m: f"{where}: {m}")
        finally:
            client.destroy()


def generate_documented_protos(out_dir):
    """Imports torch_predict_pb2 (the documentation's numbering: map_inputs = 2)
    generated by protoc from our src/serve/protos into out_dir."""
    os.makedirs(out_dir, exist_ok=True)
    subprocess.run(["protoc", f"-I{PROTO_DIR}", f"--python_out={out_dir}",
                    os.path.join(PROTO_DIR, TORCH_PROTO)], check=True)
    sys.path.insert(0, out_dir)
    from serve.protos import torch_predict_pb2
    return torch_predict_pb2


def array_proto(array, tensor, dtypes):
    """Fills an ArrayProto (either proto's) with a tensor."""
    array.array_shape.dim.extend(list(tensor.shape))
    flat = tensor.flatten().tolist()
    if tensor.dtype == torch.float32:
        array.dtype = dtypes.DT_FLOAT
        array.float_val.extend(flat)
    elif tensor.dtype == torch.int64:
        array.dtype = dtypes.DT_INT64
        array.int64_val.extend(flat)
    else:
        raise AssertionError(f"no ArrayProto mapping for {tensor.dtype}")


class BypassModeTest(ServerTestCase):
    """The default mode: the scripted model's input tensors in, with a token
    and a body limit."""

    ROOT_PREFIX = "tzrec_serve_bypass_"

    @classmethod
    def set_up_class(cls):
        deepfm = os.path.join(cls.root, "deepfm")
        cls.export_dir = export_model(deepfm, DEEPFM_CONFIG.format(root=deepfm), 300,
                                      {"QUANT_EMB": "FP32"})
        cls.model = torch.jit.load(os.path.join(cls.export_dir, "scripted_model.pt"))
        cls.model.eval()
        cls.spec = model_input_spec(cls.export_dir)
        cls.doc_pb = generate_documented_protos(os.path.join(cls.root, "gen"))
        cls.server = cls.start(cls.export_dir, "--token", TOKEN, "--max_body_bytes",
                               str(MAX_BODY), "--threads", "2")

    def inputs(self, batch_size, seed):
        return random_inputs(*self.spec, batch_size=batch_size, seed=seed)

    def expected(self, inputs):
        with torch.no_grad():
            return {k: v for k, v in self.model(inputs).items()}

    def assert_outputs(self, map_outputs, expected, where):
        self.assertEqual(set(map_outputs.keys()), set(expected.keys()), where)
        for name, tensor in expected.items():
            array = map_outputs[name]
            self.assertEqual(array.dtype, DT_FLOAT, f"{where}: {name}")
            self.assertEqual(list(array.array_shape.dim), list(tensor.shape), f"{where}: {name}")
            self.assertEqual(len(array.float_val), tensor.numel(), f"{where}: {name}")
            torch.testing.assert_close(torch.tensor(list(array.float_val)).reshape(tensor.shape),
                                       tensor, rtol=0, atol=1e-6,
                                       msg=lambda m: f"{where}, output {name}: {m}")

    def sdk_request(self, inputs, compressed=False):
        """A TorchRequest (the SDK's pytorch_predict.proto: map_inputs = 3);
        `compressed`: the SDK snappy-compresses the body (TorchRequest(True))."""
        request = TorchRequest(compressed)
        for name, tensor in inputs.items():
            dtype = TorchRequest.DT_FLOAT if tensor.dtype == torch.float32 else TorchRequest.DT_INT64
            request.add_feed_map(name, list(tensor.shape), dtype, tensor.flatten().tolist())
        return request

    def documented_request(self, inputs):
        request = self.doc_pb.PredictRequest()
        for name, tensor in inputs.items():
            array_proto(request.map_inputs[name], tensor, self.doc_pb)
        return request

    def valid_body(self):
        return self.documented_request(self.inputs(4, seed=99)).SerializeToString()

    def assert_still_serving(self):
        status, body = self.server.request("POST", "/predict", self.valid_body(),
                                           {"Authorization": TOKEN})
        self.assertEqual(status, 200, body)

    def test_sdk_torch_request(self):
        # custom_url: the SDK posts there and sends the token itself as Authorization.
        url = f"http://{self.server.endpoint}/api/predict/tzrec_bypass"
        client = sdk_client(self.server, token=TOKEN, custom_url=url)
        try:
            for batch_size, seed, compressed in [(8, 1, False), (1, 2, False), (33, 3, False),
                                                 (8, 4, True), (33, 5, True)]:
                inputs = self.inputs(batch_size, seed)
                request = self.sdk_request(inputs, compressed)
                if compressed:
                    self.assertNotEqual(request.to_string(), request.request_data.SerializeToString())
                response = client.predict(request)  # a TorchResponse
                self.assert_outputs(response.response.map_outputs, self.expected(inputs),
                                    f"SDK TorchRequest{'(compressed)' if compressed else ''}, "
                                    f"batch {batch_size}")
                self.assertEqual(response.get_tensor_shape_map("probs"), [batch_size])
        finally:
            client.destroy()

    def test_documented_numbering_over_raw_http(self):
        for path in ["/api/predict/any_service_name", "/predict"]:
            inputs = self.inputs(8, seed=len(path))
            body = self.documented_request(inputs).SerializeToString()
            status, data = self.server.request("POST", path, body, {"Authorization": TOKEN})
            self.assertEqual(status, 200, data)
            response = self.doc_pb.PredictResponse()
            response.ParseFromString(data)
            self.assert_outputs(response.map_outputs, self.expected(inputs), f"documented, {path}")

    def test_sdk_numbering_over_raw_http(self):
        inputs = self.inputs(8, seed=11)
        request = self.sdk_request(inputs)
        body = request.to_string()
        self.assertNotEqual(body, self.documented_request(inputs).SerializeToString())
        status, data = self.server.request("POST", "/api/predict/x", body, {"Authorization": TOKEN})
        self.assertEqual(status, 200, data)
        self.assert_outputs(request.parse_response(data).response.map_outputs,
                            self.expected(inputs), "SDK numbering over raw HTTP")

    def test_garbage_is_400_and_serving_goes_on(self):
        for garbage in [b"\x0a\x05abc", b"not a protobuf \xff\xfe"]:
            status, text = self.server.request("POST", "/api/predict/x", garbage,
                                               {"Authorization": TOKEN})
            self.assertEqual(status, 400, text)
            assert_one_line_text(self, text)
            self.assert_still_serving()

    def test_oversized_body_is_413_and_serving_goes_on(self):
        status, text = self.server.request("POST", "/api/predict/x", b"\0" * (MAX_BODY + 4096),
                                           {"Authorization": TOKEN})
        self.assertEqual(status, 413, text)
        self.assert_still_serving()

    def test_a_port_in_use_is_refused(self):
        # A second server on the same port would serve (and hang here): time-limited.
        result = subprocess.run([TZREC, "serve", "--scripted_model_path", self.export_dir,
                                 "--host", "127.0.0.1", "--port", str(self.server.port)],
                                capture_output=True, text=True, timeout=120)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(f"cannot listen on 127.0.0.1:{self.server.port}", result.stderr)

    def test_missing_or_wrong_token_is_401(self):
        body = self.valid_body()
        for headers in [{}, {"Authorization": "wrong"}, {"Authorization": TOKEN + "x"}]:
            status, text = self.server.request("POST", "/api/predict/x", body, headers)
            self.assertEqual(status, 401, f"{headers}: {text}")
            self.assert_still_serving()
        url = f"http://{self.server.endpoint}/api/predict/x"
        client = sdk_client(self.server, token="not-the-token", custom_url=url)
        try:
            with self.assertRaises(PredictException) as caught:
                client.predict(self.sdk_request(self.inputs(2, seed=5)))
            self.assertEqual(caught.exception.code, 401)
        finally:
            client.destroy()

    def test_sdk_signed_token(self):
        """Without custom_url the SDK does not send the token: it signs each
        request, Authorization "EAS " + base64(HMAC-SHA1(token, "POST\\n" +
        md5hex(body) + "\\n" + Content-Type + "\\n" + Date + "\\n" +
        "/api/predict/<service_name>")), with those headers (and Content-MD5)
        on the request."""
        inputs = self.inputs(5, seed=21)
        client = sdk_client(self.server, service_name="signed_service", token=TOKEN)
        try:
            response = client.predict(self.sdk_request(inputs))
        finally:
            client.destroy()
        self.assert_outputs(response.response.map_outputs, self.expected(inputs), "signed")
        client = sdk_client(self.server, service_name="signed_service", token=TOKEN + "x")
        try:
            with self.assertRaises(PredictException) as caught:
                client.predict(self.sdk_request(inputs))
            self.assertEqual(caught.exception.code, 401)
        finally:
            client.destroy()

    def test_sigterm_and_sigint_exit_0(self):
        for sig in [signal.SIGTERM, signal.SIGINT]:
            flags = ["--fg_mode", "bypass"] if sig == signal.SIGINT else []
            server = Server(self.export_dir, flags, os.path.join(self.root, f"stop{int(sig)}.log"))
            try:
                inputs = self.inputs(3, seed=int(sig))
                status, data = server.request(
                    "POST", "/predict", self.documented_request(inputs).SerializeToString())
                self.assertEqual(status, 200, data)
            finally:
                code, rest = server.stop(sig)
            self.assertEqual(code, 0, f"signal {sig}; stderr:\n{server.stderr()}")
            self.assertEqual(rest, [], "stdout holds only the listening line")


if __name__ == "__main__":
    unittest.main()
