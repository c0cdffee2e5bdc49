"""The OpenBLAS kernels tzrec runs with (src/common/blas_kernels.h): where
Debian's OpenBLAS does not recognise the CPU it falls back to its Prescott
(SSE3) kernels; tzrec must run the AVX2/AVX-512 ones the CPU has, and keep a
core type the user chose. OPENBLAS_VERBOSE=2 makes OpenBLAS print its choice."""
import os
import re
import subprocess
import unittest

from tzrec_cli import TZREC


def cpu_flags():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


def openblas_cores(args, binary=TZREC, coretype=None):
    """The cores OpenBLAS reported, in order (tzrec-full started directly
    starts once more with the right ones: the last is the one that runs)."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    env["OPENBLAS_VERBOSE"] = "2"
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    result = subprocess.run([binary] + args, capture_output=True, text=True, env=env, check=True)
    return re.findall(r"^Core: (\S+)$", result.stdout + result.stderr, re.M)


class BlasKernelsTest(unittest.TestCase):
    def setUp(self):
        if not openblas_cores(["--version"]):
            self.skipTest("libblas.so.3 is not OpenBLAS (it printed no core)")

    @unittest.skipUnless({"avx2", "fma"} <= cpu_flags(), "the CPU has no AVX2/FMA: Prescott is right")
    def test_runs_the_cpus_vector_kernels(self):
        for binary in ("tzrec", "tzrec-full"):
            path = os.path.join(os.path.dirname(TZREC), binary)
            self.assertNotEqual(openblas_cores(["--version"], path)[-1].lower(), "prescott", binary)

    def test_keeps_the_users_core_type(self):
        self.assertEqual(openblas_cores(["--version"], coretype="Haswell")[-1].lower(), "haswell")

    def test_config_only_subcommands_do_not_load_it(self):
        self.assertEqual(openblas_cores(["validate_config", "--help"]), [])


if __name__ == "__main__":
    unittest.main()
