#!/usr/bin/env python3
"""Upstream's example configs (../shared/upstream/*/pipeline.config, byte for
byte as TorchEasyRec ships them) run as a user would: the config unchanged
except its input paths and model_dir, then gen_data (Parquet) -> train_eval
-> export (QUANT_EMB default INT8) -> predict (Parquet in, Parquet out).

- Every config of a model tzrec has runs end to end; the two Criteo ones (BIG)
  only on a machine with the memory their tables need, skipped by name
  elsewhere.
- Every config of a model tzrec does not have is refused by
  `validate_config --strict`, naming the model.
- A config upstream's own code cannot build (wukong_criteo) is refused by
  `validate_config`, saying why.
"""
import os
import re
import shutil
import tempfile
import unittest

import pyarrow.parquet as pq

from tzrec_cli import run

UPSTREAM = os.path.join(os.environ.get("TZREC_SHARED_DIR", "../shared"), "upstream")

RUNS = ["multi_tower_taobao", "multi_tower_din_taobao", "mmoe_taobao", "dbmtl_taobao", "dbmtl_taobao_seq",
        "dbmtl_taobao_jrc", "ple_taobao", "dssm_taobao", "pepnet_taobao", "mind_taobao", "dssm_v2_taobao"]
# Criteo-sized tables (204M rows in all, x 16 plus the wide x 4) and their
# Adagrad state take ~33 GB to train, as upstream's own run does: they run
# where the machine has the memory, and are named as skipped elsewhere.
BIG = ["deepfm_criteo", "dlrm_criteo", "masknet_criteo", "rocket_launching_criteo"]
BIG_MEMORY_BYTES = 48 << 30
# Configs upstream's own code refuses, with the reason tzrec gives.
BROKEN = {"wukong_criteo": "the last dense_mlp.hidden_units (128) must equal the sparse embedding width (16"}
REFUSED = {"tdm_taobao": "tdm"}


def local_config(name, work):
    with open(os.path.join(UPSTREAM, name, "pipeline.config")) as f:
        text = f.read()
    text = re.sub(r'(?m)^train_input_path:.*$', f'train_input_path: "{work}/data/train.parquet"', text)
    text = re.sub(r'(?m)^eval_input_path:.*$', f'eval_input_path: "{work}/data/eval.parquet"', text)
    text = re.sub(r'(?m)^model_dir:.*$', f'model_dir: "{work}/model"', text)
    # A negative sampler's item table: the one gen_data writes beside the rows.
    text = re.sub(r'input_path: "odps://[^"]*"', f'input_path: "{work}/data/item_gl"', text)
    path = os.path.join(work, "pipeline.config")
    with open(path, "w") as f:
        f.write(text)
    return path


class UpstreamExamplesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.isdir(UPSTREAM):
            raise unittest.SkipTest(f"no {UPSTREAM}")
        cls.root = tempfile.mkdtemp(prefix="tzrec_upstream_")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def test_every_example_is_covered(self):
        self.assertEqual(sorted(RUNS + BIG + list(BROKEN) + list(REFUSED)),
                         sorted(d for d in os.listdir(UPSTREAM) if os.path.isdir(os.path.join(UPSTREAM, d))))

    def test_supported_examples_run_end_to_end(self):
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        runs = RUNS + (BIG if memory >= BIG_MEMORY_BYTES else [])
        if memory < BIG_MEMORY_BYTES:
            print(f"skipped for memory ({memory >> 30} GiB < {BIG_MEMORY_BYTES >> 30} GiB): {', '.join(BIG)}")
        for name in runs:
            with self.subTest(config=name):
                work = os.path.join(self.root, name)
                os.makedirs(work)
                config = local_config(name, work)
                run(["validate_config", "--pipeline_config_path", config, "--strict"])
                run(["gen_data", "--pipeline_config_path", config, "--output_dir", os.path.join(work, "data"),
                     "--num_rows", "2000", "--format", "parquet"])
                run(["train_eval", "--pipeline_config_path", config])
                export = os.path.join(work, "export")
                run(["export", "--pipeline_config_path", config, "--export_dir", export])
                # A match model exports its towers apart; each predicts on its own.
                towers = [t for t in ("user", "item") if os.path.isdir(os.path.join(export, t))]
                for model in [os.path.join(export, t) for t in towers] or [export]:
                    output = os.path.join(work, "predictions", os.path.basename(model))
                    run(["predict", "--scripted_model_path", model, "--predict_input_path",
                         os.path.join(work, "data", "eval.parquet"), "--predict_output_path", output])
                    table = pq.read_table(os.path.join(output, "part-0.parquet"))
                    self.assertEqual(table.num_rows, 200)
                    expected = f"{os.path.basename(model)}_tower_emb" if towers else "probs"
                    self.assertTrue(any(c.startswith(expected) for c in table.column_names), table.column_names)
                shutil.rmtree(work)

    def test_broken_examples_are_refused_with_the_reason(self):
        for name, reason in BROKEN.items():
            with self.subTest(config=name):
                work = os.path.join(self.root, "broken_" + name)
                os.makedirs(work)
                result = run(["validate_config", "--pipeline_config_path", local_config(name, work)],
                             check=False)
                self.assertEqual(result.returncode, 2, result.stderr)
                self.assertIn(reason, result.stderr)

    def test_other_models_are_refused_by_name(self):
        for name, model in REFUSED.items():
            with self.subTest(config=name):
                work = os.path.join(self.root, "refused_" + name)
                os.makedirs(work)
                result = run(["validate_config", "--pipeline_config_path", local_config(name, work), "--strict"],
                             check=False)
                self.assertNotEqual(result.returncode, 0)
                self.assertIn(model, result.stderr)


if __name__ == "__main__":
    unittest.main()
