#!/usr/bin/env python3
"""Parquet in and out (ParquetDataset), judged with pyarrow:

- the rows of a CSV file, written by pyarrow as typed Parquet (int64 ids,
  list<int64> for the multi-value feature, float32/float64 raw values) in two
  part files of a directory, continue training one checkpoint to the same
  weights as the CSV rows do (within 1e-5), export, and predict the same
  scores;
- `tzrec predict` on Parquet input writes <output>/part-0.parquet, which
  pyarrow reads with float32 outputs then the reserved columns in their
  input types;
- `gen_data --format parquet` writes typed Parquet that trains;
- an OdpsDataset table path is refused with how to use local files.
"""
import os
import shutil
import tempfile
import unittest

import pyarrow as pa
import pyarrow.parquet as pq
import torch

from tzrec_cli import SMALL_DEEPFM_MODEL, load_dcp, read_csv, run, small_config_head

ENCODED_SEP = "\x03"
BATCH = 64


def to_table(header, rows):
    """The CSV rows as typed Arrow columns, the way upstream's data looks."""
    col = {name: i for i, name in enumerate(header)}
    arrays, fields = [], []
    for name in header:
        cells = [r[col[name]] for r in rows]
        if name == "tags":
            arrays.append(pa.array([[int(v) for v in c.split(ENCODED_SEP)] if c else [] for c in cells],
                                   type=pa.list_(pa.int64())))
        elif name in ("user_id", "item_id", "label"):
            arrays.append(pa.array([int(c) if c else None for c in cells], type=pa.int64()))
        elif name == "age":
            arrays.append(pa.array([float(c) for c in cells], type=pa.float32()))
        else:
            arrays.append(pa.array([float(c) for c in cells], type=pa.float64()))
        fields.append(name)
    return pa.table(dict(zip(fields, arrays)))


class ParquetDataTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="tzrec_parquet_")
        cls.csv_config = cls.config("csv", small_config_head("label", BATCH, tags_dim=8))
        run(["gen_data", "--pipeline_config_path", cls.csv_config, "--output_dir",
             os.path.join(cls.root, "csv", "data"), "--num_rows", "600", "--seed", "5"])
        # The same rows as Parquet part files written by pyarrow.
        for split in ["train", "eval"]:
            header, rows = read_csv(os.path.join(cls.root, "csv", "data", f"{split}.csv"))
            table = to_table(header, rows)
            out = os.path.join(cls.root, "pq", "data", split)
            os.makedirs(out)
            cut = 2 * BATCH  # a batch boundary: batches stay the CSV's
            pq.write_table(table.slice(0, cut), os.path.join(out, "part-0.parquet"), row_group_size=50)
            pq.write_table(table.slice(cut), os.path.join(out, "part-1.parquet"), row_group_size=50)
        # One reader: batches come in the CSV's order (several readers would take turns
        # between the part files).
        head = small_config_head("label", BATCH, tags_dim=8, data_extra="num_workers: 1").replace(
            "dataset_type: CsvDataset", "dataset_type: ParquetDataset").replace(
            "{root}/data/train.csv", "{root}/data/train").replace("{root}/data/eval.csv", "{root}/data/eval")
        cls.pq_config = cls.config("pq", head)
        # Initialisation is random: both continue from one CSV-trained checkpoint.
        run(["train_eval", "--pipeline_config_path", cls.csv_config])
        shutil.copytree(os.path.join(cls.root, "csv", "model"), os.path.join(cls.root, "pq", "model"))
        cls.csv_more = cls.config("csv_more", small_config_head("label", BATCH, tags_dim=8).replace(
            "num_steps: 6", "num_steps: 9").replace("{root}/data", cls.root + "/csv/data"))
        shutil.copytree(os.path.join(cls.root, "csv", "model"), os.path.join(cls.root, "csv_more", "model"))
        with open(cls.pq_config) as f:
            text = f.read().replace("num_steps: 6", "num_steps: 9")
        with open(cls.pq_config, "w") as f:
            f.write(text)
        run(["train_eval", "--pipeline_config_path", cls.csv_more, "--continue_train"])
        run(["train_eval", "--pipeline_config_path", cls.pq_config, "--continue_train"])

    @classmethod
    def config(cls, name, head):
        root = os.path.join(cls.root, name)
        os.makedirs(root, exist_ok=True)
        path = os.path.join(root, "pipeline.config")
        with open(path, "w") as f:
            f.write((head + SMALL_DEEPFM_MODEL).format(root=root))
        return path

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def latest(self, name):
        model_dir = os.path.join(self.root, name, "model")
        step = max(int(d.split("-")[-1]) for d in os.listdir(model_dir) if d.startswith("model.ckpt-"))
        return os.path.join(model_dir, f"model.ckpt-{step}")

    def test_parquet_trains_the_same_model_as_csv(self):
        self.assertTrue(self.latest("pq").endswith("model.ckpt-8"))
        a = load_dcp(os.path.join(self.latest("csv_more"), "model"))
        b = load_dcp(os.path.join(self.latest("pq"), "model"))
        self.assertEqual(sorted(a), sorted(b))
        for key in a:
            torch.testing.assert_close(b[key], a[key], rtol=0, atol=1e-5, msg=key)

    def test_predict_parquet_in_parquet_out(self):
        export = os.path.join(self.root, "pq", "export")
        run(["export", "--pipeline_config_path", self.pq_config, "--export_dir", export])
        out_pq = os.path.join(self.root, "pq", "predictions")
        run(["predict", "--scripted_model_path", export, "--predict_input_path",
             os.path.join(self.root, "pq", "data", "eval"), "--predict_output_path", out_pq,
             "--reserved_columns", "user_id,label"])
        table = pq.read_table(os.path.join(out_pq, "part-0.parquet"))
        self.assertEqual(table.column_names, ["logits", "probs", "user_id", "label"])
        self.assertEqual(table.schema.field("probs").type, pa.float32())
        # Reserved columns keep their input types, as upstream's writer.
        self.assertEqual(table.schema.field("user_id").type, pa.int64())
        # The same export on the CSV rows (CSV out) gives the same scores.
        out_csv = os.path.join(self.root, "pq", "predictions.csv")
        run(["predict", "--scripted_model_path", export, "--predict_input_path",
             os.path.join(self.root, "csv", "data", "eval.csv"), "--predict_output_path", out_csv,
             "--reserved_columns", "user_id"])
        header, rows = read_csv(out_csv)
        self.assertEqual(table.num_rows, len(rows))
        csv_probs = torch.tensor([float(r[header.index("probs")]) for r in rows])
        torch.testing.assert_close(torch.tensor(table.column("probs").to_pylist()), csv_probs, rtol=0, atol=1e-6)
        self.assertEqual(table.column("user_id").to_pylist(), [int(r[header.index("user_id")]) for r in rows])

    def test_parquet_dataset_files_without_extension_give_parquet_output(self):
        # Part files named without .parquet are Parquet by the export's dataset_type, and
        # the output follows the input's type, as upstream derives the writer from it.
        export = os.path.join(self.root, "pq", "export_noext")
        run(["export", "--pipeline_config_path", self.pq_config, "--export_dir", export])
        inputs = os.path.join(self.root, "pq", "noext")
        os.makedirs(inputs)
        shutil.copy(os.path.join(self.root, "pq", "data", "eval", "part-0.parquet"), os.path.join(inputs, "part-0"))
        out = os.path.join(self.root, "pq", "predictions_noext")
        run(["predict", "--scripted_model_path", export, "--predict_input_path", inputs,
             "--predict_output_path", out])
        table = pq.read_table(os.path.join(out, "part-0.parquet"))
        self.assertEqual(table.num_rows, pq.read_table(os.path.join(inputs, "part-0")).num_rows)

    def test_gen_data_writes_typed_parquet_that_trains(self):
        root = os.path.join(self.root, "gen")
        head = small_config_head("label", BATCH, tags_dim=8).replace(
            "dataset_type: CsvDataset", "dataset_type: ParquetDataset").replace(
            "train.csv", "train.parquet").replace("eval.csv", "eval.parquet")
        config = self.config("gen", head)
        run(["gen_data", "--pipeline_config_path", config, "--output_dir", os.path.join(root, "data"),
             "--num_rows", "300", "--format", "parquet"])
        table = pq.read_table(os.path.join(root, "data", "train.parquet"))
        self.assertEqual(table.num_rows, 270)
        self.assertEqual(table.schema.field("user_id").type, pa.int64())
        # Multi-value columns are lists where the data has several values.
        self.assertIn(table.schema.field("tags").type, [pa.int64(), pa.list_(pa.int64())])
        self.assertEqual(table.schema.field("price").type, pa.float64())
        self.assertFalse([n for n in os.listdir(os.path.join(root, "data")) if n.endswith(".tmp")])
        run(["train_eval", "--pipeline_config_path", config])

    def test_odps_tables_are_refused_with_the_way_out(self):
        config = self.config("odps", small_config_head("label", BATCH).replace(
            "dataset_type: CsvDataset", "dataset_type: OdpsDataset").replace(
            "{root}/data/train.csv", "odps://project/tables/train").replace(
            "{root}/data/eval.csv", "odps://project/tables/eval"))
        result = run(["train_eval", "--pipeline_config_path", config], check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("OdpsDataset reads MaxCompute (ODPS) tables", result.stderr)
        self.assertIn("--train_input_path", result.stderr)


if __name__ == "__main__":
    unittest.main()
