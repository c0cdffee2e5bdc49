#!/usr/bin/env python3
"""`USE_DISTRIBUTED_EMBEDDING=1 tzrec export` judged by numpy and stock PyTorch.

Trains a tiny DeepFM with tzrec, then exports it three ways: the normal FP32
export, the distributed-embedding export (one shard, as upstream), and the
distributed export with DIST_QUANT=INT8 in two row shards (--num_shards 2).
Checks, independently of tzrec's own reader:
  - numpy.load of the npz shards: names, shapes, dtypes and rows equal the
    checkpoint's tables (torch.load), INT8 rows equal a numpy encoding of the
    checkpoint written from the format's definition;
  - the json metadata (per shard, merged, features, dense_meta, model_acc);
  - torch.jit.load of the dense graph, fed with embeddings pooled in Python
    from the npz rows, gives the normal export's probabilities (1e-6);
  - `tzrec predict` on the distributed exports matches the FP32 export
    (1e-6; INT8 within 1e-2);
  - bad input (unknown DIST_QUANT, a match model, a table missing from the
    checkpoint) is a one-line error that publishes nothing.

Run with /usr/bin/python3 (Debian's python3-torch and python3-numpy);
TZREC_BINARY names the tzrec binary.
"""
import glob
import json
import os
import shutil
import tempfile
import unittest

import numpy as np
import torch
import torch.distributed.checkpoint

from tzrec_cli import SMALL_DEEPFM_MODEL, load_dcp, read_csv, run, small_config_head

CONFIG = small_config_head('label', 64, tags_dim=8) + SMALL_DEEPFM_MODEL

BAGS = "model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags."
SPARSE = ["user_id", "item_id", "tags"]
DENSE = ["age", "price"]
ENCODED_SEP = "\x03"
DIST = {"USE_DISTRIBUTED_EMBEDDING": "1"}


def read_json(path):
    with open(path) as f:
        return json.load(f)


def quantize_rows(x):
    """QUint8RowwiseF16 from its definition: [uint8 q][fp16 scale][fp16 offset]."""
    x = x.astype(np.float32)
    lo = x.min(axis=1, keepdims=True)
    hi = x.max(axis=1, keepdims=True)
    offset16 = lo.astype(np.float16)
    offset = offset16.astype(np.float32)
    value_range = (hi - offset).astype(np.float32)
    scale = np.where(value_range != 0, value_range / np.float32(255.0), np.float32(1.0))
    scale16 = scale.astype(np.float32).astype(np.float16)
    scale = scale16.astype(np.float32)
    scale = np.where(scale == 0, np.float32(1.0), scale).astype(np.float32)
    scale16 = scale.astype(np.float16)
    q = np.clip(np.rint((x - offset) / scale), 0, 255).astype(np.uint8)
    return np.concatenate([q, scale16.view(np.uint8), offset16.view(np.uint8)], axis=1)


def dequantize_rows(stored, dim):
    scale = np.ascontiguousarray(stored[:, dim:dim + 2]).view(np.float16).astype(np.float32)
    offset = np.ascontiguousarray(stored[:, dim + 2:dim + 4]).view(np.float16).astype(np.float32)
    return stored[:, :dim].astype(np.float32) * scale + offset


class DistributedExportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="tzrec_dist_py_")
        cls.config_path = os.path.join(cls.root, "pipeline.config")
        with open(cls.config_path, "w") as f:
            f.write(CONFIG.format(root=cls.root))
        run(["gen_data", "--pipeline_config_path", cls.config_path,
             "--output_dir", os.path.join(cls.root, "data"), "--num_rows", "600", "--seed", "3"])
        run(["train_eval", "--pipeline_config_path", cls.config_path])
        cls.checkpoint = sorted(glob.glob(os.path.join(cls.root, "model", "model.ckpt-*")),
                                key=lambda p: int(p.rsplit("-", 1)[1]))[-1]
        cls.state = load_dcp(os.path.join(cls.checkpoint, "model"))
        cls.exports = {}
        for name, env, extra in [("fp32", {"QUANT_EMB": "0"}, []),
                                 ("dist", DIST, []),
                                 ("int8", dict(DIST, DIST_QUANT="INT8"), ["--num_shards", "2"])]:
            path = os.path.join(cls.root, "export_" + name)
            run(["export", "--pipeline_config_path", cls.config_path, "--export_dir", path] + extra,
                env_extra=env)
            cls.exports[name] = path
        cls.input_path = os.path.join(cls.root, "data", "eval.csv")
        cls.predictions = {}
        for name, path in cls.exports.items():
            out = os.path.join(cls.root, "out", name + ".csv")
            run(["predict", "--scripted_model_path", path, "--predict_input_path", cls.input_path,
                 "--predict_output_path", out])
            _, rows = read_csv(out)
            cls.predictions[name] = torch.tensor([float(r[1]) for r in rows], dtype=torch.float64)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def tables(self):
        return {name[:-len(".weight")]: t for name, t in self.state.items()
                if name.startswith(BAGS) and name.endswith(".weight")}

    def test_npz_shard_holds_the_checkpoint_tables(self):
        sparse = os.path.join(self.exports["dist"], "sparse")
        self.assertEqual(sorted(os.listdir(sparse)),
                         ["sparse_embedding.json", "sparse_embeddings-00-of-01.json",
                          "sparse_embeddings-00-of-01.npz", "sparse_features.json"])
        npz = np.load(os.path.join(sparse, "sparse_embeddings-00-of-01.npz"))
        tables = self.tables()
        self.assertEqual(sorted(npz.files), sorted(tables))
        self.assertIn(BAGS + "user_id_emb_wide", npz.files)
        for name, weight in tables.items():
            array = npz[name]
            self.assertEqual(array.dtype, np.float32, name)
            self.assertEqual(list(array.shape), list(weight.shape), name)
            np.testing.assert_array_equal(array[:3], weight[:3].numpy())
            np.testing.assert_array_equal(array, weight.numpy())

    def test_shard_and_merged_metadata(self):
        sparse = os.path.join(self.exports["dist"], "sparse")
        shard = read_json(os.path.join(sparse, "sparse_embeddings-00-of-01.json"))
        merged = read_json(os.path.join(sparse, "sparse_embedding.json"))
        user = shard[BAGS + "user_id_emb"]
        self.assertEqual(list(user)[:7], ["feat_name_impl", "dense", "is_dynamic", "dimension",
                                          "dtype", "memory", "shape"])
        self.assertEqual(user["dtype"], "float32")
        self.assertEqual(user["shape"], [50, 8])
        self.assertEqual(user["memory"], 50 * 8 * 4)
        self.assertEqual(user["feat_name_impl"], ["user_id@user_id_emb__ebc"])
        self.assertEqual(merged[BAGS + "user_id_emb"]["shards"],
                         [{"file": "sparse_embeddings-00-of-01.npz", "row_range": [0, 50]}])
        features = read_json(os.path.join(sparse, "sparse_features.json"))
        self.assertEqual(features["tags@tags_emb__ebc"],
                         {"embedding_name": BAGS + "tags_emb", "pooling": "MEAN"})
        self.assertEqual(features["user_id@user_id_emb_wide__ebc"]["pooling"], "SUM")
        with open(os.path.join(self.exports["dist"], "model_acc.json")) as f:
            acc = json.load(f)
        self.assertEqual(list(acc.items())[0], ("SPARSE_INT64", "1"))
        self.assertEqual(acc["INPUT_TILE"], "3")
        self.assertEqual(list(acc.items())[-1], ("DISTRIBUTED_EMBEDDING", "1"))
        dense_meta = read_json(os.path.join(self.exports["dist"], "dense_meta.json"))
        self.assertEqual(dense_meta["sequence__ec"], [])
        self.assertEqual(sorted(k for k in dense_meta if k != "sequence__ec"), sorted(features))

    def test_int8_shards_split_rows_and_encode_like_the_definition(self):
        sparse = os.path.join(self.exports["int8"], "sparse")
        merged = read_json(os.path.join(sparse, "sparse_embedding.json"))
        with open(os.path.join(self.exports["int8"], "model_acc.json")) as f:
            self.assertEqual(json.load(f)["DIST_QUANT"], "INT8")
        for name, weight in self.tables().items():
            meta = merged[name]
            dim = weight.shape[1]
            self.assertEqual(meta["dtype"], "QUint8RowwiseF16")
            self.assertEqual(meta["storage_dtype"], "uint8")
            self.assertEqual(meta["row_bytes"], dim + 4)
            self.assertEqual(meta["storage_shape"], [weight.shape[0], dim + 4])
            self.assertEqual(meta["quant"], {"enabled": True, "format": "QUint8RowwiseF16",
                                             "scale_offset_dtype": "float16",
                                             "output_dtype": "float16"})
            parts = []
            for shard in meta["shards"]:
                array = np.load(os.path.join(sparse, shard["file"]))[name]
                self.assertEqual(array.dtype, np.uint8)
                begin, end = shard["row_range"]
                self.assertEqual(array.shape, (end - begin, dim + 4))
                parts.append(array)
            self.assertEqual([s["row_range"][0] for s in meta["shards"]], [0, weight.shape[0] // 2])
            stored = np.concatenate(parts)
            np.testing.assert_array_equal(stored, quantize_rows(weight.numpy()), err_msg=name)
            back = dequantize_rows(stored, dim)
            self.assertLess(np.abs(back - weight.numpy()).max(), 1e-2)

    def test_dense_graph_in_stock_pytorch(self):
        """Embeddings pooled here from the npz rows, fed to torch.jit.load'ed dense graph."""
        export = self.exports["dist"]
        npz = np.load(os.path.join(export, "sparse", "sparse_embeddings-00-of-01.npz"))
        features = read_json(os.path.join(export, "sparse", "sparse_features.json"))
        header, rows = read_csv(self.input_path)
        col = {name: i for i, name in enumerate(header)}
        data = {}
        for key, meta in features.items():
            feature = key[:-len("__ebc")].split("@")[0]
            table = torch.from_numpy(npz[meta["embedding_name"]])
            pooled = []
            for row in rows:
                cell = row[col[feature]]
                ids = [int(v) for v in cell.split(ENCODED_SEP)] if cell else []
                vec = table[ids].sum(0) if ids else torch.zeros(table.shape[1])
                if meta["pooling"] == "MEAN" and ids:
                    vec = vec / len(ids)
                pooled.append(vec)
            data[key] = torch.stack(pooled)
        for name in DENSE:
            data[f"{name}.values"] = torch.tensor([[float(r[col[name]])] for r in rows])
        data["batch_size"] = torch.tensor(1)
        model = torch.jit.load(os.path.join(export, "scripted_model.pt"))
        model.eval()
        with torch.no_grad():
            out = model(data)
        probs = out["probs"].double()
        self.assertLessEqual((probs - self.predictions["fp32"]).abs().max().item(), 1e-6)
        # User-side embeddings sent once are tiled to the batch (INPUT_TILE=3).
        one_user = {k: v[:1] if k.startswith("user_id@") or k == "age.values" else v[:5]
                    for k, v in data.items() if k != "batch_size"}
        one_user["batch_size"] = torch.tensor(5)
        tiled = {k: (v.repeat(5, 1) if k.startswith("user_id@") or k == "age.values" else v)
                 for k, v in one_user.items() if k != "batch_size"}
        tiled["batch_size"] = torch.tensor(1)
        with torch.no_grad():
            torch.testing.assert_close(model(one_user)["probs"], model(tiled)["probs"])

    def test_predict_matches_the_fp32_export(self):
        fp32 = self.predictions["fp32"]
        self.assertGreater(len(set(fp32.tolist())), 10)
        self.assertLessEqual((self.predictions["dist"] - fp32).abs().max().item(), 1e-6)
        int8_diff = (self.predictions["int8"] - fp32).abs().max().item()
        self.assertLess(int8_diff, 1e-2)
        self.assertGreater(int8_diff, 0.0)

    def test_errors_are_one_line_and_publish_nothing(self):
        dssm_config = os.path.join(self.root, "dssm.config")
        with open(dssm_config, "w") as f:
            f.write((small_config_head("label", 64) + """
model_config {{
  feature_groups {{ group_name: "user" feature_names: "user_id" feature_names: "age" group_type: DEEP }}
  feature_groups {{ group_name: "item" feature_names: "item_id" feature_names: "tags" feature_names: "price" group_type: DEEP }}
  dssm {{ user_tower {{ input: "user" mlp {{ hidden_units: [8] }} }} item_tower {{ input: "item" mlp {{ hidden_units: [8] }} }} output_dim: 4 }}
  metrics {{ recall_at_k {{ top_k: 1 }} }}
  losses {{ softmax_cross_entropy {{}} }}
}}
""").format(root=self.root))
        # A checkpoint without one table.
        broken = os.path.join(self.root, "broken", "model.ckpt-1")
        os.makedirs(os.path.join(broken, "model"))
        state = {k: v for k, v in self.state.items() if not k.endswith("tags_emb.weight")}
        torch.distributed.checkpoint.save(state, checkpoint_id=os.path.join(broken, "model"), no_dist=True)
        cases = [
            (self.config_path, [], dict(DIST, DIST_QUANT="FP16"), 2, 'DIST_QUANT="FP16" is not supported'),
            (dssm_config, ["--checkpoint_path", self.checkpoint], DIST, 2,
             "does not support match models"),
            (self.config_path, ["--checkpoint_path", broken], DIST, 1,
             "embedding table " + BAGS + "tags_emb.weight is missing"),
        ]
        for i, (config, extra, env, code, message) in enumerate(cases):
            export_dir = os.path.join(self.root, "bad_export_%d" % i)
            result = run(["export", "--pipeline_config_path", config, "--export_dir", export_dir]
                         + extra, env_extra=env, check=False)
            self.assertEqual(result.returncode, code, result.stderr)
            last = result.stderr.rstrip("\n").split("\n")[-1]
            self.assertTrue(last.startswith("tzrec: "), result.stderr)
            self.assertIn(message, last)
            self.assertFalse(os.path.exists(export_dir))
            self.assertEqual([p for p in os.listdir(self.root) if p.startswith("bad_export_%d" % i)], [])


if __name__ == "__main__":
    unittest.main()
