#!/usr/bin/env python3
"""TensorBoard reads the curves tzrec writes, under upstream's tags: train_eval
writes loss/<name>, loss/total, lr/g0 (sparse) and lr/g1 (dense) every
log_step_count_steps into model_dir, and metric/<name> after each evaluation
into model_dir/eval_val; eval writes metric/<name> into model_dir/eval. Read
with tensorboard's own EventAccumulator; the values must equal what tzrec
logged (its log lines and its eval result files).
"""
import json
import os
import re
import shutil
import tempfile
import unittest

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tzrec_cli import SMALL_DEEPFM_MODEL, run, small_config_head

STEP_LINE = re.compile(r"\] step (\d+) epoch \d+ lr sparse:(\S+) dense:(\S+) (.*) total_loss: (\S+)")


def scalars(directory):
    """{tag: [(step, value), ...]} of every event file in `directory`."""
    accumulator = EventAccumulator(directory)
    accumulator.Reload()
    return {tag: [(e.step, e.value) for e in accumulator.Scalars(tag)]
            for tag in accumulator.Tags()["scalars"]}


class TensorBoardTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="tzrec_tensorboard_")
        text = (small_config_head("label", 32) + SMALL_DEEPFM_MODEL).format(root=cls.root)
        text = text.replace("num_steps: 6\n", "num_steps: 9\n  log_step_count_steps: 2\n", 1)
        cls.config = os.path.join(cls.root, "pipeline.config")
        with open(cls.config, "w") as f:
            f.write(text)
        run(["gen_data", "--pipeline_config_path", cls.config, "--output_dir",
             os.path.join(cls.root, "data"), "--num_rows", "300", "--seed", "5"])
        cls.train_log = run(["train_eval", "--pipeline_config_path", cls.config]).stderr
        cls.model_dir = os.path.join(cls.root, "model")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def test_training_scalars_equal_the_logged_losses_and_learning_rates(self):
        logged = [m.groups() for m in STEP_LINE.finditer(self.train_log)]
        self.assertEqual([int(m[0]) for m in logged], [0, 2, 4, 6, 8])
        got = scalars(self.model_dir)
        self.assertEqual(set(got), {"loss/binary_cross_entropy", "loss/total", "lr/g0", "lr/g1"})
        for step, sparse_lr, dense_lr, losses, total in logged:
            step = int(step)
            expected = {"lr/g0": float(sparse_lr), "lr/g1": float(dense_lr), "loss/total": float(total)}
            for name, value in re.findall(r"(\S+):(\S+)", losses):
                expected[f"loss/{name}"] = float(value)
            for tag, value in expected.items():
                points = dict(got[tag])
                self.assertIn(step, points, tag)
                # The log prints 5-6 significant digits; the event holds a float32.
                self.assertAlmostEqual(points[step], value, delta=1e-5 + 1e-5 * abs(value), msg=tag)

    def test_evaluation_metrics_equal_the_eval_log(self):
        with open(os.path.join(self.model_dir, "train_eval_result_v2.txt")) as f:
            evals = [json.loads(line) for line in f]
        self.assertEqual([e["global_step"] for e in evals], [3, 6, 8])
        got = scalars(os.path.join(self.model_dir, "eval_val"))
        self.assertEqual(set(got), {"metric/auc", "metric/binary_cross_entropy"})
        for tag in got:
            name = tag.split("/", 1)[1]
            self.assertEqual([s for s, _ in got[tag]], [e["global_step"] for e in evals])
            for (step, value), e in zip(got[tag], evals):
                self.assertAlmostEqual(value, e[name], places=5, msg=f"{tag} at {step}")

    def test_eval_writes_into_model_dir_eval(self):
        run(["eval", "--pipeline_config_path", self.config])
        with open(os.path.join(self.model_dir, "eval_result.txt")) as f:
            result = json.loads(f.readlines()[-1])
        got = scalars(os.path.join(self.model_dir, "eval"))
        self.assertEqual(got["metric/auc"][-1][0], 8)
        self.assertAlmostEqual(got["metric/auc"][-1][1], result["auc"], places=5)

    def test_use_tensorboard_false_writes_no_events(self):
        root = os.path.join(self.root, "quiet")
        with open(self.config) as f:
            text = f.read().replace(self.root, root).replace(
                "log_step_count_steps: 2", "log_step_count_steps: 2\n  use_tensorboard: false")
        os.makedirs(root)
        config = os.path.join(root, "pipeline.config")
        with open(config, "w") as f:
            f.write(text)
        shutil.copytree(os.path.join(self.root, "data"), os.path.join(root, "data"))
        run(["train_eval", "--pipeline_config_path", config])
        events = [name for _, _, names in os.walk(os.path.join(root, "model"))
                  for name in names if name.startswith("events.out.tfevents.")]
        self.assertEqual(events, [])


if __name__ == "__main__":
    unittest.main()
