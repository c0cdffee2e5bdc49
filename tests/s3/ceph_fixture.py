"""A throwaway one-machine Ceph cluster with an S3 gateway (radosgw), for the
remote-export tests: one monitor, one in-memory OSD (memstore, pool size 1)
and radosgw, all bound to 127.0.0.1, authentication off inside the cluster.
The gateway still checks S3 signatures against a user made with radosgw-admin,
so it judges tzrec's SigV4 requests as a real object store would.

Everything lives in one temporary directory; stop() ends the daemons by pid
and removes it. The gateway alone can be killed, frozen (SIGSTOP), resumed and
restarted, for fault tests.

    python3 tests/s3/ceph_fixture.py   # start one, print its environment, wait for Ctrl-C
"""
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
import uuid

DAEMONS = ("ceph-mon", "ceph-osd", "radosgw", "radosgw-admin")

ACCESS_KEY = "TZRECTESTACCESSKEY01"
SECRET_KEY = "tzrec-test-secret-key-0123456789abcdefghij"
REGION = "us-east-1"


def _die_with_parent():
    """Daemons end with the test process, even when it is killed (ctest timeout)."""
    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def missing_binaries():
    """The Ceph programs not on PATH (empty when the fixture can run)."""
    return [d for d in DAEMONS if shutil.which(d) is None]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CephCluster:
    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="tzrec_ceph_")
        self.mon_port = free_port()
        self.rgw_port = free_port()
        self.conf = os.path.join(self.root, "ceph.conf")
        self.procs = {}
        self.logs = []
        self.started_s = None

    # ---- lifecycle -----------------------------------------------------------
    def start(self, timeout=120):
        begin = time.monotonic()
        try:
            self._write_conf()
            self._start_mon()
            self._start_osd()
            self.start_gateway()
            self._create_user()
            self.wait_gateway(timeout - (time.monotonic() - begin))
        except BaseException:
            logs = self.log_tail()
            self.stop()
            raise RuntimeError("ceph fixture did not start:\n" + logs)
        self.started_s = time.monotonic() - begin
        return self

    def stop(self):
        for name in reversed(list(self.procs)):
            self._end(name)
        for log in self.logs:
            log.close()
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.rgw_port}"

    def env(self):
        """What a client needs, under the AWS SDKs' names."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint,
        }

    # ---- the gateway, for fault tests -----------------------------------------
    def start_gateway(self):
        self._spawn("radosgw", ["radosgw", "-f", "-n", "client.rgw", "-c", self.conf])

    def kill_gateway(self):
        self._end("radosgw", sig=signal.SIGKILL)

    def freeze_gateway(self):
        self.procs["radosgw"].send_signal(signal.SIGSTOP)

    def thaw_gateway(self):
        self.procs["radosgw"].send_signal(signal.SIGCONT)

    def wait_gateway(self, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            proc = self.procs.get("radosgw")
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"radosgw exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(self.endpoint, timeout=2) as reply:
                    reply.read()
                return
            except urllib.error.HTTPError:
                return  # any HTTP answer (403 for anonymous) means it serves
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"radosgw not answering on {self.endpoint}")
                time.sleep(0.2)

    def log_tail(self, lines=20):
        out = []
        log_dir = os.path.join(self.root, "log")
        if os.path.isdir(log_dir):
            for name in sorted(os.listdir(log_dir)):
                with open(os.path.join(log_dir, name), errors="replace") as f:
                    tail = f.readlines()[-lines:]
                out.append(f"--- {name}\n" + "".join(tail))
        return "\n".join(out)

    # ---- internals ------------------------------------------------------------
    def _path(self, *parts):
        return os.path.join(self.root, *parts)

    def _write_conf(self):
        for d in ("run", "log", "mon", "osd"):
            os.makedirs(self._path(d), exist_ok=True)
        fsid = uuid.uuid4()
        with open(self.conf, "w") as f:
            f.write(f"""[global]
fsid = {fsid}
mon host = v2:127.0.0.1:{self.mon_port}
public addr = 127.0.0.1
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
auth supported = none
ms client mode = crc
ms mon client mode = crc
ms cluster mode = crc
ms service mode = crc
run dir = {self._path("run")}
admin socket = {self._path("run")}/$name.asok
log file = {self._path("log")}/$name.log
pid file = {self._path("run")}/$name.pid
keyring = {self._path("keyring")}
mon data = {self._path("mon")}/$id
osd data = {self._path("osd")}/$id
osd objectstore = memstore
memstore device bytes = 2147483648
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon pg warn min per osd = 0
osd max object name len = 256
osd max object namespace len = 64
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:{self.rgw_port}
rgw data = {self._path("rgw")}
rgw enable usage log = false
rgw multipart min part size = 5242880
""")
        subprocess.run(["ceph-authtool", "--create-keyring", self._path("keyring"),
                        "--gen-key", "-n", "mon.", "--cap", "mon", "allow *"],
                       check=True, capture_output=True)
        subprocess.run(["monmaptool", "--create", "--fsid", str(fsid), "--addv", "a",
                        f"[v2:127.0.0.1:{self.mon_port}]", self._path("monmap")],
                       check=True, capture_output=True)

    def _run(self, args):
        result = subprocess.run(args + ["-c", self.conf], capture_output=True, text=True,
                                timeout=60)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def _start_mon(self):
        self._run(["ceph-mon", "--mkfs", "-i", "a", "--monmap", self._path("monmap")])
        self._spawn("ceph-mon", ["ceph-mon", "-f", "-i", "a", "-c", self.conf])

    def _start_osd(self):
        osd_uuid = str(uuid.uuid4())
        osd_id = self._run(["ceph", "osd", "new", osd_uuid]).strip()
        os.makedirs(self._path("osd", osd_id), exist_ok=True)
        self._run(["ceph-osd", "-i", osd_id, "--mkfs", "--osd-uuid", osd_uuid])
        self._spawn("ceph-osd", ["ceph-osd", "-f", "-i", osd_id, "-c", self.conf])

    def _create_user(self):
        self._run(["radosgw-admin", "user", "create", "--uid", "tzrec", "--display-name",
                   "tzrec tests", "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])

    def _spawn(self, name, args):
        log = open(self._path("log", f"{name}.stdout"), "ab")
        self.logs.append(log)
        self.procs[name] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)

    def _end(self, name, sig=signal.SIGTERM):
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGCONT)  # a frozen process cannot act on SIGTERM
        proc.send_signal(sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    missing = missing_binaries()
    if missing:
        raise SystemExit(f"missing: {' '.join(missing)} (apt-get install ceph-mon ceph-osd radosgw)")
    cluster = CephCluster().start()
    print(f"# started in {cluster.started_s:.1f} s; data in {cluster.root}")
    for key, value in cluster.env().items():
        print(f"export {key}={value}")
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
