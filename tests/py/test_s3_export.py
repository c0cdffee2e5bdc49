#!/usr/bin/env python3
"""Remote export directories against a real S3 implementation: Ceph's radosgw
(tests/s3/ceph_fixture.py), started once for every case here.

What landed is judged by an independent client, Debian's python3-boto3
(path-style addressing): the objects under the export prefix are exactly the
files export_manifest.json lists, and each object's bytes hash to the manifest's
sha256. Fault cases: a missing bucket, wrong credentials, the gateway killed or
frozen (SIGSTOP) in the middle of an upload, with and without it coming back.

Run with /usr/bin/python3; TZREC_BINARY names the tzrec binary. Skipped, with
the reason, when Ceph or boto3 is not installed.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "s3"))

import ceph_fixture  # noqa: E402
from tzrec_cli import SMALL_DEEPFM_MODEL, SMALL_DSSM_MODEL, TZREC, run, small_config_head  # noqa: E402

try:
    import boto3
    from botocore.config import Config as BotoConfig
except ImportError:  # reported by setUpModule
    boto3 = None

BUCKET = "tzrec-exports"
MANIFEST = "export_manifest.json"

CONFIG = small_config_head("label", 64, tags_dim=8, data_extra="") + SMALL_DEEPFM_MODEL

DSSM_CONFIG = small_config_head("clk", 32, tags_dim=4, data_extra="") + SMALL_DSSM_MODEL

cluster = None
s3 = None
root = None
steps = []  # the trained checkpoints' steps, increasing


def setUpModule():
    global cluster, s3, root, steps
    missing = ceph_fixture.missing_binaries()
    if missing:
        raise unittest.SkipTest(
            f"Ceph is not installed ({', '.join(missing)} missing): "
            "apt-get install ceph-mon ceph-osd radosgw")
    if boto3 is None:
        raise unittest.SkipTest("python3-boto3 is not installed")
    help_text = run(["--help"], check=False).stdout + run(["--help"], check=False).stderr
    if "train_eval" not in help_text:
        raise unittest.SkipTest("tzrec has no train_eval subcommand yet")
    begin = time.monotonic()
    cluster = ceph_fixture.CephCluster().start()
    print(f"ceph fixture started in {cluster.started_s:.1f} s", file=sys.stderr)
    env = cluster.env()
    s3 = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"],
                      aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                      region_name=env["AWS_REGION"],
                      config=BotoConfig(s3={"addressing_style": "path"},
                                        retries={"max_attempts": 10}))
    s3.create_bucket(Bucket=BUCKET)

    root = tempfile.mkdtemp(prefix="tzrec_s3_py_")
    with open(os.path.join(root, "pipeline.config"), "w") as f:
        f.write(CONFIG.format(root=root))
    run(["gen_data", "--pipeline_config_path", os.path.join(root, "pipeline.config"),
         "--output_dir", os.path.join(root, "data"), "--num_rows", "600", "--seed", "5"])
    run(["train_eval", "--pipeline_config_path", os.path.join(root, "pipeline.config")])
    # The trained model_dir and a config naming it remotely, for remote inputs.
    model_dir = os.path.join(root, "model")
    steps = sorted(int(d.split("-")[-1]) for d in os.listdir(model_dir)
                   if d.startswith("model.ckpt-"))
    assert len(steps) >= 2, f"want two checkpoints to choose from, have {steps}"
    for dirpath, _, files in os.walk(model_dir):
        for name in files:
            path = os.path.join(dirpath, name)
            s3.upload_file(path, BUCKET, "train/model/" + os.path.relpath(path, model_dir))
    remote_config = CONFIG.format(root=root).replace(
        f'model_dir: "{root}/model"', f'model_dir: "s3://{BUCKET}/train/model"')
    s3.put_object(Bucket=BUCKET, Key="train/pipeline.config", Body=remote_config.encode())
    # A large asset, so that exports have a file that goes up in parts.
    with open(os.path.join(root, "big_asset.bin"), "wb") as f:
        f.write(os.urandom(12 << 20))
    print(f"setup took {time.monotonic() - begin:.1f} s", file=sys.stderr)


def tearDownModule():
    if cluster is not None:
        cluster.stop()
    if root is not None:
        shutil.rmtree(root, ignore_errors=True)


def sha256_of(data):
    return hashlib.sha256(data).hexdigest()


def keys_under(prefix):
    keys = {}
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=BUCKET, Prefix=prefix + "/"):
        for obj in page.get("Contents", []):
            keys[obj["Key"][len(prefix) + 1:]] = obj["Size"]
    return keys


def pending_uploads(prefix):
    reply = s3.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix + "/")
    return reply.get("Uploads", [])


class S3ExportTest(unittest.TestCase):
    def env(self, **extra):
        env = cluster.env()
        # Short waits, so that fault cases end in seconds.
        env.update({"TZREC_S3_LOW_SPEED_TIME": "2", "TZREC_S3_RETRY_DELAY": "0.2",
                    "TZREC_S3_CONNECT_TIMEOUT": "2", "QUANT_EMB": "0"})
        env.update(extra)
        return env

    def export_args(self, export_dir, config=None, extra=()):
        return ["export", "--pipeline_config_path", config or os.path.join(root, "pipeline.config"),
                "--export_dir", export_dir] + list(extra)

    def assert_complete(self, prefix, expect_files=None):
        """The prefix holds exactly the manifest's files, with its hashes."""
        keys = keys_under(prefix)
        self.assertIn(MANIFEST, keys, f"no manifest under {prefix}: {sorted(keys)}")
        manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=f"{prefix}/{MANIFEST}")["Body"].read())
        listed = {f["path"]: f for f in manifest["files"]}
        self.assertEqual(set(listed), set(keys) - {MANIFEST})
        for path, entry in listed.items():
            body = s3.get_object(Bucket=BUCKET, Key=f"{prefix}/{path}")["Body"].read()
            self.assertEqual(len(body), entry["size"], path)
            self.assertEqual(sha256_of(body), entry["sha256"], path)
        for name in expect_files or []:
            self.assertIn(name, listed)
        return manifest

    def assert_incomplete(self, prefix, result):
        self.assertNotEqual(result.returncode, 0, result.stderr)
        self.assertNotIn(MANIFEST, keys_under(prefix))
        # One line: the cause, and what to do about the partial upload.
        advice = [line for line in result.stderr.splitlines()
                  if f"delete everything under s3://{BUCKET}/{prefix}/" in line]
        self.assertEqual(len(advice), 1, result.stderr)
        self.assertIn(f"the export at s3://{BUCKET}/{prefix} is incomplete", advice[0])

    def start_export(self, prefix, env, extra=()):
        return subprocess.Popen([TZREC] + self.export_args(f"s3://{BUCKET}/{prefix}", extra=extra),
                                env={**os.environ, **env}, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    @staticmethod
    def watch_stderr(proc, text):
        """Collects proc's stderr in a thread; the event fires once `text` shows up."""
        lines, seen = [], threading.Event()

        def read():
            for line in proc.stderr:
                lines.append(line)
                if text in line:
                    seen.set()
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        return lines, seen, reader

    def wait_for_part_upload(self, prefix, proc, timeout=60):
        deadline = time.monotonic() + timeout
        while not pending_uploads(prefix):
            self.assertIsNone(proc.poll(), "export ended before its upload started")
            self.assertLess(time.monotonic(), deadline, "no multipart upload started")
            time.sleep(0.1)

    exported = None

    def deepfm_exports(self):
        """The DeepFM exported once locally and once to exports/deepfm (shared by tests)."""
        if S3ExportTest.exported is None:
            local_dir = os.path.join(root, "local_export")
            run(self.export_args(local_dir), env_extra=self.env())
            run(self.export_args(f"s3://{BUCKET}/exports/deepfm"), env_extra=self.env())
            S3ExportTest.exported = local_dir
        return S3ExportTest.exported

    # ---- publishing -------------------------------------------------------------
    def test_export_lands_with_manifest_last_and_matching_hashes(self):
        local_dir = self.deepfm_exports()
        env = self.env()
        manifest = self.assert_complete(
            "exports/deepfm", ["scripted_model.pt", "pipeline.config", "fg.json", "model_acc.json"])
        # The same export as a local one, file for file.
        for entry in manifest["files"]:
            with open(os.path.join(local_dir, entry["path"]), "rb") as f:
                local = f.read()
            remote = s3.get_object(Bucket=BUCKET, Key="exports/deepfm/" + entry["path"])["Body"].read()
            if entry["path"] != "scripted_model.pt":
                self.assertEqual(remote, local, entry["path"])
        # A second export there is refused before any work, and changes nothing.
        before = keys_under("exports/deepfm")
        result = run(self.export_args(f"s3://{BUCKET}/exports/deepfm"), env_extra=env, check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(f"directory s3://{BUCKET}/exports/deepfm already exist.", result.stderr)
        self.assertEqual(keys_under("exports/deepfm"), before)

    def test_large_files_go_up_in_parts(self):
        env = self.env(TZREC_S3_MULTIPART_THRESHOLD=str(8 << 20), TZREC_S3_PART_SIZE=str(5 << 20))
        run(self.export_args(f"s3://{BUCKET}/exports/parts",
                             extra=["--asset_files", os.path.join(root, "big_asset.bin")]),
            env_extra=env)
        self.assert_complete("exports/parts", ["big_asset.bin"])
        head = s3.head_object(Bucket=BUCKET, Key="exports/parts/big_asset.bin")
        self.assertTrue(head["ETag"].strip('"').endswith("-3"), head["ETag"])  # 12 MiB in 3 parts
        self.assertEqual(pending_uploads("exports/parts"), [])

    def test_remote_config_and_model_dir(self):
        cache = os.path.join(root, "cache")
        os.makedirs(cache, exist_ok=True)
        result = run(self.export_args(f"s3://{BUCKET}/exports/from_remote",
                                      config=f"s3://{BUCKET}/train/pipeline.config"),
                     env_extra=self.env(LOCAL_CACHE_DIR=cache))
        manifest = self.assert_complete("exports/from_remote")
        # Only the latest checkpoint's model files came down.
        latest = f"s3://{BUCKET}/train/model/model.ckpt-{steps[-1]}"
        self.assertEqual(manifest["checkpoint_path"], latest)
        self.assertIn(f"downloading checkpoint {latest}/model", result.stderr)
        self.assertEqual(result.stderr.count("downloading checkpoint"), 1, result.stderr)
        self.assertEqual(os.listdir(cache), [], "the work directory was not removed")
        exported = s3.get_object(Bucket=BUCKET, Key="exports/from_remote/pipeline.config")
        self.assertIn(f's3://{BUCKET}/train/model', exported["Body"].read().decode())

    def test_remote_checkpoint_into_local_dir(self):
        local_dir = os.path.join(root, "from_ckpt")
        run(self.export_args(local_dir,
                             extra=["--checkpoint_path",
                                    f"s3://{BUCKET}/train/model/model.ckpt-{steps[0]}"]),
            env_extra=self.env())
        with open(os.path.join(local_dir, "pipeline.config")) as f:
            self.assertIn("feature_name", f.read())
        if os.path.exists(os.path.join(local_dir, MANIFEST)):
            with open(os.path.join(local_dir, MANIFEST)) as f:
                self.assertEqual(json.load(f)["global_step"], steps[0])

    def test_match_model_towers(self):
        dssm_root = os.path.join(root, "dssm")
        os.makedirs(dssm_root)
        config = os.path.join(dssm_root, "pipeline.config")
        with open(config, "w") as f:
            f.write(DSSM_CONFIG.format(root=dssm_root))
        run(["gen_data", "--pipeline_config_path", config, "--output_dir",
             os.path.join(dssm_root, "data"), "--num_rows", "200", "--seed", "7"])
        run(["train_eval", "--pipeline_config_path", config])
        run(self.export_args(f"s3://{BUCKET}/exports/dssm", config=config), env_extra=self.env())
        manifest = self.assert_complete("exports/dssm")
        paths = {f["path"] for f in manifest["files"]}
        for tower in ("user", "item"):
            for name in ("scripted_model.pt", "pipeline.config", "fg.json", "model_acc.json"):
                self.assertIn(f"{tower}/{name}", paths)

    def test_predict_reads_only_published_exports(self):
        local_dir = self.deepfm_exports()
        outputs = {}
        for name, source in [("remote", f"s3://{BUCKET}/exports/deepfm"), ("local", local_dir)]:
            outputs[name] = os.path.join(root, "predict_out", name + ".csv")
            result = run(["predict", "--scripted_model_path", source,
                          "--predict_input_path", os.path.join(root, "data", "eval.csv"),
                          "--predict_output_path", outputs[name],
                          "--reserved_columns", "label,user_id"], env_extra=self.env())
            if name == "remote":
                remote_log = result.stderr
        self.assertIn("checked against export_manifest.json", remote_log)
        with open(outputs["remote"]) as a, open(outputs["local"]) as b:
            self.assertEqual(a.read(), b.read())
        # Without its manifest (an upload that did not finish), an export is refused.
        for key in keys_under("exports/deepfm"):
            if key != MANIFEST:
                s3.copy_object(Bucket=BUCKET, Key=f"exports/unpublished/{key}",
                               CopySource={"Bucket": BUCKET, "Key": f"exports/deepfm/{key}"})
        result = run(["predict", "--scripted_model_path", f"s3://{BUCKET}/exports/unpublished",
                      "--predict_input_path", os.path.join(root, "data", "eval.csv"),
                      "--predict_output_path", os.path.join(root, "predict_out", "x.csv")],
                     env_extra=self.env(), check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(f"s3://{BUCKET}/exports/unpublished: no export_manifest.json", result.stderr)
        # A file changed after publishing is caught by its hash.
        for key in keys_under("exports/deepfm"):
            s3.copy_object(Bucket=BUCKET, Key=f"exports/tampered/{key}",
                           CopySource={"Bucket": BUCKET, "Key": f"exports/deepfm/{key}"})
        s3.put_object(Bucket=BUCKET, Key="exports/tampered/fg.json", Body=b"{}")
        result = run(["predict", "--scripted_model_path", f"s3://{BUCKET}/exports/tampered",
                      "--predict_input_path", os.path.join(root, "data", "eval.csv"),
                      "--predict_output_path", os.path.join(root, "predict_out", "y.csv")],
                     env_extra=self.env(), check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(f"s3://{BUCKET}/exports/tampered/fg.json: differs from its entry", result.stderr)

    # ---- refusals ---------------------------------------------------------------
    def test_missing_bucket(self):
        result = run(self.export_args("s3://no-such-bucket/x"), env_extra=self.env(), check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("NoSuchBucket", result.stderr)
        self.assertIn("s3://no-such-bucket/", result.stderr)
        self.assertNotIn("exporting", result.stderr)  # refused before any export work

    def test_bad_export_settings_are_refused_before_any_transfer(self):
        result = run(self.export_args(f"s3://{BUCKET}/exports/bad_env",
                                      config=f"s3://{BUCKET}/train/pipeline.config"),
                     env_extra=self.env(QUANT_EMB="INT3"), check=False)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("QUANT_EMB", result.stderr)
        self.assertNotIn("download", result.stderr)

    def test_wrong_credentials_are_not_retried_or_logged(self):
        secret = "wrong-secret-key-that-must-not-be-logged"
        result = run(self.export_args(f"s3://{BUCKET}/exports/creds"),
                     env_extra=self.env(AWS_SECRET_ACCESS_KEY=secret), check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("SignatureDoesNotMatch", result.stderr)
        self.assertNotIn(secret, result.stderr + result.stdout)
        self.assertNotIn("trying again", result.stderr)
        self.assertNotIn("exporting", result.stderr)
        self.assertEqual(keys_under("exports/creds"), {})

    # ---- faults in the middle of an upload -----------------------------------------
    def slow_upload_env(self, **extra):
        return self.env(TZREC_S3_MULTIPART_THRESHOLD=str(8 << 20), TZREC_S3_PART_SIZE=str(5 << 20),
                        TZREC_S3_MAX_SEND_SPEED=str(2 << 20), TZREC_S3_PARALLEL="2", **extra)

    def test_gateway_killed_mid_upload_and_back(self):
        prefix = "exports/killed_back"
        proc = self.start_export(prefix, self.slow_upload_env(AWS_MAX_ATTEMPTS="8"),
                                 ["--asset_files", os.path.join(root, "big_asset.bin")])
        try:
            self.wait_for_part_upload(prefix, proc)
            cluster.kill_gateway()
            time.sleep(1)
            cluster.start_gateway()
            cluster.wait_gateway()
            _, stderr = proc.communicate(timeout=120)
        finally:
            proc.kill()
        self.assertEqual(proc.returncode, 0, stderr)
        self.assertIn("trying again", stderr)
        self.assert_complete(prefix, ["big_asset.bin"])

    def test_gateway_killed_for_good(self):
        prefix = "exports/killed"
        proc = self.start_export(prefix, self.slow_upload_env(AWS_MAX_ATTEMPTS="2"),
                                 ["--asset_files", os.path.join(root, "big_asset.bin")])
        try:
            self.wait_for_part_upload(prefix, proc)
            cluster.kill_gateway()
            stdout, stderr = proc.communicate(timeout=120)
        finally:
            proc.kill()
            if "radosgw" not in cluster.procs:
                cluster.start_gateway()
            cluster.wait_gateway()
        result = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
        self.assert_incomplete(prefix, result)
        self.assertIn("gave up after 2 attempts", stderr)

    def test_frozen_gateway_times_out(self):
        prefix = "exports/frozen"
        proc = self.start_export(prefix, self.slow_upload_env(AWS_MAX_ATTEMPTS="2"),
                                 ["--asset_files", os.path.join(root, "big_asset.bin")])
        try:
            self.wait_for_part_upload(prefix, proc)
            cluster.freeze_gateway()
            begin = time.monotonic()
            stdout, stderr = proc.communicate(timeout=120)
            elapsed = time.monotonic() - begin
        finally:
            cluster.thaw_gateway()
            proc.kill()
        result = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
        self.assert_incomplete(prefix, result)
        self.assertIn("no progress", stderr)
        self.assertLess(elapsed, 30)

    def test_frozen_gateway_thawed_in_time(self):
        prefix = "exports/thawed"
        proc = self.start_export(prefix, self.slow_upload_env(AWS_MAX_ATTEMPTS="6"),
                                 ["--asset_files", os.path.join(root, "big_asset.bin")])
        lines, stalled, reader = self.watch_stderr(proc, "no progress")
        try:
            self.wait_for_part_upload(prefix, proc)
            cluster.freeze_gateway()
            # Thawed once tzrec has noticed the stall (the kernel's socket
            # buffers take the first megabytes of a frozen server's upload).
            self.assertTrue(stalled.wait(timeout=60), "".join(lines))
            cluster.thaw_gateway()
            proc.wait(timeout=120)
            reader.join(timeout=10)
        finally:
            cluster.thaw_gateway()
            proc.kill()
        stderr = "".join(lines)
        self.assertEqual(proc.returncode, 0, stderr)
        self.assertIn("trying again", stderr)
        self.assert_complete(prefix, ["big_asset.bin"])


if __name__ == "__main__":
    unittest.main()
