"""Stock PyTorch loads tzrec's scripted DeepFM (FP32 and INT8 tables) with
torch.jit.load and predicts what the checkpoint model predicts.

Artifacts come from the train_tests binary (test PythonArtifacts.Write):
a checkpoint, scripted_model_FP32.pt / scripted_model_INT8.pt restored from
it, and io.pt with inputs and the checkpoint model's outputs.
"""
import os
import subprocess
import sys
import tempfile
import unittest

import torch


class ScriptedDeepFMTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        build_dir = os.path.dirname(os.environ["TZREC_BINARY"])
        env = dict(os.environ, TZREC_PY_ARTIFACT_DIR=cls.tmp.name)
        subprocess.run([os.path.join(build_dir, "train_tests"),
                        "--gtest_filter=PythonArtifacts.*"],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        # A file our own test wrote with libtorch's pickler (typed dicts).
        io = torch.load(os.path.join(cls.tmp.name, "io.pt"), weights_only=False)
        cls.inputs = {k[len("input:"):]: v for k, v in io.items() if k.startswith("input:")}
        cls.expected = {k[len("output:"):]: v for k, v in io.items() if k.startswith("output:")}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def predict(self, name):
        model = torch.jit.load(os.path.join(self.tmp.name, name))
        self.assertFalse(model.training)
        with torch.no_grad():
            return model(self.inputs)

    def test_fp32_matches_checkpoint_within_1e6(self):
        out = self.predict("scripted_model_FP32.pt")
        self.assertEqual(sorted(out.keys()), ["logits", "probs"])
        self.assertEqual(tuple(out["probs"].shape), (100,))
        for key in ("logits", "probs"):
            diff = (out[key] - self.expected[key]).abs().max().item()
            self.assertLessEqual(diff, 1e-6, key)

    def test_int8_close_to_checkpoint(self):
        out = self.predict("scripted_model_INT8.pt")
        diff = (out["probs"] - self.expected["probs"]).abs().max().item()
        self.assertLess(diff, 1e-2)
        model = torch.jit.load(os.path.join(self.tmp.name, "scripted_model_INT8.pt"))
        table = model.embedding_group.emb_impls.__getattr__("__BASE__").ebc.embedding_bags.cat_a_emb
        self.assertIn("embedding_bag_byte_rowwise_offsets", table.code)
        self.assertEqual(table.weight.dtype, torch.uint8)

    def test_batch_of_one(self):
        model = torch.jit.load(os.path.join(self.tmp.name, "scripted_model_FP32.pt"))
        one = {
            "cat_a.values": torch.tensor([3]), "cat_a.lengths": torch.tensor([1]),
            "cat_b.values": torch.tensor([], dtype=torch.int64), "cat_b.lengths": torch.tensor([0]),
            "price.values": torch.tensor([[0.5]]),
        }
        out = model(one)
        self.assertEqual(tuple(out["probs"].shape), (1,))
        self.assertTrue(0.0 < out["probs"].item() < 1.0)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])
