"""Stock PyTorch reads tzrec checkpoints with torch.distributed.checkpoint,
as TorchEasyRec's restore does.

The checkpoint is written by the train_tests binary (test
PythonArtifacts.Write), found beside TZREC_BINARY in the build directory.
"""
import os
import subprocess
import sys
import tempfile
import unittest

import torch

from tzrec_cli import load_dcp


def write_artifacts(out_dir):
    build_dir = os.path.dirname(os.environ["TZREC_BINARY"])
    tests = os.path.join(build_dir, "train_tests")
    env = dict(os.environ, TZREC_PY_ARTIFACT_DIR=out_dir)
    subprocess.run([tests, "--gtest_filter=PythonArtifacts.*"], env=env, check=True,
                   stdout=subprocess.DEVNULL)


class CheckpointTorchLoadTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        write_artifacts(cls.tmp.name)
        cls.ckpt = os.path.join(cls.tmp.name, "model_dir", "model.ckpt-49")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_model_state_has_upstream_names(self):
        state = load_dcp(os.path.join(self.ckpt, "model"))
        table = "model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags.cat_a_emb.weight"
        self.assertEqual(tuple(state[table].shape), (10, 4))
        self.assertEqual(state[table].dtype, torch.float32)
        self.assertEqual(tuple(state["model.deep_mlp.mlp.0.perceptron.0.weight"].shape), (16, 9))
        self.assertIn("model.output_mlp.bias", state)
        for name, tensor in state.items():
            self.assertTrue(name.startswith("model."), name)
            self.assertFalse(tensor.requires_grad, name)

    def test_optimizer_state_names_params(self):
        state = load_dcp(os.path.join(self.ckpt, "optimizer"))
        table = "model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags.cat_a_emb.weight"
        # torchrec's fused optimizer names: "state.<param>.<table>.momentum1".
        self.assertEqual(tuple(state[f"state.{table}.cat_a_emb.momentum1"].shape), (10, 4))
        self.assertEqual(float(state["state.model.output_mlp.weight.step"]), 50.0)  # adam steps

    def test_dcp_load_fills_a_state_dict_in_place(self):
        # What TorchEasyRec's restore does: dcp.load into the model's own
        # state dict (here plain tensors of the right shapes).
        import torch.distributed.checkpoint as dcp
        reference = load_dcp(os.path.join(self.ckpt, "model"))
        target = {k: torch.zeros_like(v) for k, v in reference.items()}
        dcp.load(target, checkpoint_id=os.path.join(self.ckpt, "model"), no_dist=True)
        for k, v in reference.items():
            torch.testing.assert_close(target[k], v, rtol=0, atol=0)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])
