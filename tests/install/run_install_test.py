"""The install test (ctest -R '^install$'): `cmake --install` into a temporary
prefix, then use what is there the way a user would.

- The installed `tzrec` (which execs the installed `tzrec-full`, which loads
  Arrow from the prefix's private lib/tzrec/) trains a tiny DeepFM, exports it
  and predicts eval.csv.
- A program outside the tree (tests/install/main.cc) is built with
  find_package(tzrec) against the prefix alone, loads the export through tzrec's
  artifacts API and scores one row: each output equals `tzrec predict`'s value
  for that row within 1e-6.
- Every installed header's quoted includes resolve inside the prefix (no test
  helper or source-only header leaks in).
- The Debian package's Depends (CMakeLists.txt, TZREC_DEBIAN_DEPENDS) are
  exactly the packages holding the shared libraries the two commands load.

Environment (set by CMakeLists.txt): TZREC_BUILD_DIR, TZREC_SOURCE_DIR,
CMAKE_COMMAND, TZREC_CCACHE (ccache or empty), TZREC_DEBIAN_DEPENDS.
Debian's python3 only; no torch needed.
"""
import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

BUILD_DIR = os.environ["TZREC_BUILD_DIR"]
SOURCE_DIR = os.environ["TZREC_SOURCE_DIR"]
CMAKE = os.environ.get("CMAKE_COMMAND", "cmake")
CCACHE = os.environ.get("TZREC_CCACHE", "")
DEPENDS = [d.strip() for d in os.environ["TZREC_DEBIAN_DEPENDS"].split(",") if d.strip()]

sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "py"))
from tzrec_cli import SMALL_DEEPFM_MODEL, read_csv, small_config_head  # noqa: E402

CONFIG = small_config_head("label", 64) + SMALL_DEEPFM_MODEL
ROW = 3  # the eval.csv row (0-based, after the header) the consumer scores


def sh(args, env_extra=None, cwd=None):
    """Runs a command; a non-zero exit fails with its output."""
    env = dict(os.environ)
    env.update(env_extra or {})
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env, cwd=cwd)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} failed ({result.returncode}):\n"
                             f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result.stdout


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.timings = []
        cls.root = tempfile.mkdtemp(prefix="tzrec_install_")
        cls.prefix = os.path.join(cls.root, "prefix")
        cls.timed("install", lambda: sh([CMAKE, "--install", BUILD_DIR, "--prefix", cls.prefix]))
        cls.tzrec = os.path.join(cls.prefix, "bin", "tzrec")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)
        print("timings: " + ", ".join(f"{name} {s:.1f}s" for name, s in cls.timings), file=sys.stderr)

    @classmethod
    def timed(cls, name, fn):
        start = time.monotonic()
        result = fn()
        cls.timings.append((name, time.monotonic() - start))
        return result

    def test_layout(self):
        for path in ["bin/tzrec", "bin/tzrec-full", "lib/libtzrec_proto.a", "lib/libtzrec_serve.a",
                     "lib/cmake/tzrec/tzrecConfig.cmake", "lib/cmake/tzrec/tzrecTargets.cmake",
                     "include/tzrec/artifacts/exported_model.h",
                     "include/tzrec/config/protos/pipeline.pb.h"]:
            self.assertTrue(os.path.exists(os.path.join(self.prefix, path)), path)
        self.assertFalse(os.path.exists(os.path.join(self.prefix, "include/tzrec/common/test_support.h")))

    def test_headers_resolve_inside_prefix(self):
        include = os.path.join(self.prefix, "include", "tzrec")
        missing = []
        for dirpath, _, files in os.walk(include):
            for name in files:
                path = os.path.join(dirpath, name)
                with open(path, encoding="utf-8") as f:
                    for target in re.findall(r'^\s*#\s*include\s+"([^"]+)"', f.read(), re.M):
                        if not (os.path.exists(os.path.join(include, target))
                                or os.path.exists(os.path.join(dirpath, target))):
                            missing.append(f"{os.path.relpath(path, include)}: {target}")
        self.assertEqual(missing, [])

    def test_debian_depends_are_the_loaded_libraries(self):
        """Depends == the packages of the commands' NEEDED libraries (a package
        that Provides the soname, e.g. OpenBLAS for libblas.so.3, covers it);
        Arrow resolves inside the prefix."""
        private = os.path.join(self.prefix, "lib", "tzrec")
        provides = {}
        for package in DEPENDS:
            out = sh(["dpkg-query", "-W", "-f", "${Provides}", package])
            provides[package] = {p.strip().split(" ")[0] for p in out.split(",") if p.strip()}
        needed_packages, unowned = set(), []
        for binary in ["tzrec", "tzrec-full"]:
            path = os.path.join(self.prefix, "bin", binary)
            needed = re.findall(r"\(NEEDED\).*\[(.+)\]", sh(["readelf", "-d", path]))
            resolved = dict(re.findall(r"^\s*(\S+) => (\S+)", sh(["ldd", path]), re.M))
            for soname in needed:
                self.assertIn(soname, resolved, f"{binary}: {soname} not found")
                location = os.path.realpath(resolved[soname])
                if location.startswith(os.path.realpath(private) + os.sep):
                    continue  # Arrow, shipped inside the package
                owner = [p for p, provided in provides.items() if soname in provided]
                if owner:
                    needed_packages.update(owner)
                    continue
                result = subprocess.run(["dpkg", "-S", location], capture_output=True, text=True)
                if result.returncode != 0:  # /lib vs /usr/lib (merged /usr)
                    result = subprocess.run(["dpkg", "-S", resolved[soname]], capture_output=True, text=True)
                if result.returncode != 0:
                    unowned.append(f"{binary}: {soname} ({location})")
                    continue
                needed_packages.add(result.stdout.split(":")[0])
        self.assertEqual(unowned, [], "libraries outside any Debian package and the prefix")
        self.assertEqual(sorted(needed_packages), sorted(DEPENDS))

    def test_program_built_against_prefix_scores_like_predict(self):
        root = self.root
        config_path = os.path.join(root, "pipeline.config")
        with open(config_path, "w") as f:
            f.write(CONFIG.format(root=root))
        data = os.path.join(root, "data")
        export_dir = os.path.join(root, "export")
        predicted_path = os.path.join(root, "predicted.csv")

        def train_export_predict():
            sh([self.tzrec, "gen_data", "--pipeline_config_path", config_path, "--output_dir", data,
                "--num_rows", "400", "--seed", "3"])
            sh([self.tzrec, "train_eval", "--pipeline_config_path", config_path])
            sh([self.tzrec, "export", "--pipeline_config_path", config_path, "--export_dir", export_dir])
            sh([self.tzrec, "predict", "--scripted_model_path", export_dir,
                "--predict_input_path", os.path.join(data, "eval.csv"),
                "--predict_output_path", predicted_path])
        self.timed("tzrec gen_data/train_eval/export/predict", train_export_predict)

        consumer = os.path.join(root, "consumer")
        configure = [CMAKE, "-S", os.path.join(SOURCE_DIR, "tests", "install"), "-B", consumer,
                     "-DCMAKE_BUILD_TYPE=Release", f"-DCMAKE_PREFIX_PATH={self.prefix}"]
        if shutil.which("ninja"):
            configure += ["-G", "Ninja"]
        if CCACHE and os.path.exists(CCACHE):
            configure.append(f"-DCMAKE_CXX_COMPILER_LAUNCHER={CCACHE}")
        # Paths under the temporary root become relative, so the cache hits
        # from one run to the next.
        ccache_env = {"CCACHE_BASEDIR": root}
        self.timed("consumer configure", lambda: sh(configure, ccache_env))
        self.timed("consumer build", lambda: sh([CMAKE, "--build", consumer], ccache_env))

        header, rows = read_csv(os.path.join(data, "eval.csv"))
        one_row = os.path.join(root, "one_row.csv")
        with open(one_row, "w", newline="") as f:
            csv.writer(f).writerows([header, rows[ROW]])
        out = self.timed("consumer run", lambda: sh(
            [os.path.join(consumer, "score_one_row"), export_dir, one_row]))
        scored = {line.split()[0]: [float(v) for v in line.split()[1:]] for line in out.splitlines()}

        columns, predicted = read_csv(predicted_path)
        self.assertEqual(len(predicted), len(rows))
        expected = {name: [float(v) for v in predicted[ROW][i].split(",")]
                    for i, name in enumerate(columns)}
        self.assertEqual(sorted(scored), sorted(expected))
        for name, values in expected.items():
            self.assertEqual(len(scored[name]), len(values), name)
            for got, want in zip(scored[name], values):
                self.assertAlmostEqual(got, want, delta=1e-6, msg=name)


if __name__ == "__main__":
    unittest.main()
