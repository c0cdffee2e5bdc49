#!/usr/bin/env python3
"""Every kind of export runs in the reference runtime (this interpreter: torch
2.12 from scripts/venv.sh) and gives the outputs Debian's PyTorch 1.13, the
libtorch tzrec is built on, gives for the same inputs.

Kinds: QUANT_EMB 0 (FP32), FP16, INT8, INT4, INT2; INPUT_TILE 2 and 3; the
user/ and item/ towers of a DSSM; the dense graph of USE_DISTRIBUTED_EMBEDDING
(its inputs are the pooled embeddings). FP32 outputs must agree within 1e-6;
quantized ones within 1e-5 (torch 2.12 runs FBGEMM's quantized bag kernels,
1.13 the generic ones: the same dequantization, summed in another order).
"""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

import torch

from tzrec_cli import SMALL_DEEPFM_MODEL, SMALL_DSSM_MODEL, random_inputs, run, small_config_head

DEBIAN_PYTHON = "/usr/bin/python3"
SPARSE = {"user_id": 50, "item_id": 40, "tags": 30}
DENSE = ["age", "price"]


# Runs a scripted model on saved inputs in another interpreter.
RUNNER = """
import sys, torch
model = torch.jit.load(sys.argv[1])
model.eval()
inputs = torch.load(sys.argv[2])
with torch.no_grad():
    out = model(inputs)
torch.save({k: v for k, v in out.items()}, sys.argv[3])
"""


def trained(root, model_text, label):
    os.makedirs(root)
    config = os.path.join(root, "pipeline.config")
    with open(config, "w") as f:
        f.write((small_config_head(label, 32, tags_dim=8) + model_text).format(root=root))
    run(["gen_data", "--pipeline_config_path", config, "--output_dir", os.path.join(root, "data"),
         "--num_rows", "300", "--seed", "4"])
    run(["train_eval", "--pipeline_config_path", config])
    return config


class RuntimeParityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(DEBIAN_PYTHON) or subprocess.run(
                [DEBIAN_PYTHON, "-c", "import torch"], capture_output=True).returncode != 0:
            raise unittest.SkipTest("Debian's python3-torch is not installed")
        cls.root = tempfile.mkdtemp(prefix="tzrec_parity_")
        cls.deepfm = trained(os.path.join(cls.root, "deepfm"), SMALL_DEEPFM_MODEL, "label")
        cls.dssm = trained(os.path.join(cls.root, "dssm"), SMALL_DSSM_MODEL, "clk")
        with open(os.path.join(cls.root, "runner.py"), "w") as f:
            f.write(RUNNER)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def export(self, config, name, env):
        export_dir = os.path.join(self.root, "export_" + name)
        run(["export", "--pipeline_config_path", config, "--export_dir", export_dir], env_extra=env)
        return export_dir

    def assert_same_in_both(self, model_path, inputs, atol):
        inputs_path = model_path + ".inputs.pt"
        torch.save(inputs, inputs_path)
        out_path = model_path + ".out113.pt"
        subprocess.run([DEBIAN_PYTHON, os.path.join(self.root, "runner.py"), model_path, inputs_path,
                        out_path], check=True, capture_output=True)
        old = torch.load(out_path)
        model = torch.jit.load(model_path)
        model.eval()
        with torch.no_grad():
            new = model(inputs)
        self.assertEqual(set(new), set(old))
        for key in new:
            torch.testing.assert_close(new[key], old[key], rtol=0, atol=atol, msg=key)

    def test_rank_exports(self):
        inputs = random_inputs(SPARSE, DENSE, 24, seed=9)
        for name, env, atol in [("fp32", {"QUANT_EMB": "0"}, 1e-6), ("fp16", {"QUANT_EMB": "FP16"}, 1e-6),
                                ("int8", {}, 1e-5), ("int4", {"QUANT_EMB": "INT4"}, 1e-5),
                                ("int2", {"QUANT_EMB": "INT2"}, 1e-5)]:
            with self.subTest(kind=name):
                export_dir = self.export(self.deepfm, name, env)
                self.assert_same_in_both(os.path.join(export_dir, "scripted_model.pt"), inputs, atol)

    def test_input_tile_exports(self):
        batch = 12
        request = random_inputs(SPARSE, DENSE, batch, seed=10)
        request["user_id.values"] = request["user_id.values"][:1]
        request["user_id.lengths"] = request["user_id.lengths"][:1]
        request["age.values"] = request["age.values"][:1]
        request["batch_size"] = torch.tensor([batch])
        for mode in ["2", "3"]:
            with self.subTest(input_tile=mode):
                export_dir = self.export(self.deepfm, "tile" + mode, {"QUANT_EMB": "0", "INPUT_TILE": mode})
                self.assert_same_in_both(os.path.join(export_dir, "scripted_model.pt"), request, 1e-6)

    def test_match_towers(self):
        inputs = random_inputs(SPARSE, DENSE, 16, seed=11)
        export_dir = self.export(self.dssm, "dssm", {"QUANT_EMB": "0"})
        for tower in ["user", "item"]:
            with self.subTest(tower=tower):
                self.assert_same_in_both(os.path.join(export_dir, tower, "scripted_model.pt"), inputs, 1e-6)

    def test_distributed_dense_graph(self):
        export_dir = self.export(self.deepfm, "dist", {"USE_DISTRIBUTED_EMBEDDING": "1"})
        sparse = os.path.join(export_dir, "sparse")
        with open(os.path.join(sparse, "sparse_features.json")) as f:
            features = json.load(f)
        with open(os.path.join(sparse, "sparse_embedding.json")) as f:
            tables = json.load(f)
        # The dense graph takes each feature's pooled embedding (as a serving
        # system looks it up in the npz shards) and the dense values.
        gen = torch.Generator().manual_seed(12)
        batch = 8
        inputs = {key: torch.rand(batch, tables[meta["embedding_name"]]["dimension"], generator=gen)
                  for key, meta in features.items()}
        for name in DENSE:
            inputs[f"{name}.values"] = torch.rand(batch, 1, generator=gen)
        inputs["batch_size"] = torch.tensor(1)
        self.assert_same_in_both(os.path.join(export_dir, "scripted_model.pt"), inputs, 1e-6)

if __name__ == "__main__":
    unittest.main()
