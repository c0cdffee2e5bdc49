#!/usr/bin/env python3
"""End to end for retrieval: train a small DSSM with tzrec on generated data
with a known user-item structure, export it, predict item and user tower
embeddings with `tzrec predict`, index the items with
`tzrec create_faiss_index`, and measure recall@k with `tzrec hitrate`.

Data: NUM_USERS users and NUM_ITEMS items fall into NUM_GROUPS groups
(id % NUM_GROUPS); a user's positive items are items of its own group. The
model sees only ids (and the item's tag), so it has to learn the groups from
the co-occurrences. Random retrieval of TOP_K of NUM_ITEMS items finds
TOP_K / NUM_ITEMS of a user's gt items; the test asserts the trained model
does several times better, and that `tzrec hitrate` computes exactly what a
brute-force search over the predicted embeddings gives.

Run with /usr/bin/python3 (Debian's python3-torch); TZREC_BINARY names the
tzrec binary.
"""
import csv
import os
import random
import shutil
import tempfile
import unittest

import torch

from tzrec_cli import run

NUM_USERS, NUM_ITEMS, NUM_GROUPS = 100, 200, 10
TOP_K = 20
RANDOM_HITRATE = TOP_K / NUM_ITEMS  # 0.1

CONFIG = """
train_input_path: "{root}/train.csv"
eval_input_path: "{root}/eval.csv"
model_dir: "{root}/model"
train_config {{
  sparse_optimizer {{ adagrad_optimizer {{ lr: 0.1 }} constant_learning_rate {{}} }}
  dense_optimizer {{ adam_optimizer {{ lr: 0.005 }} constant_learning_rate {{}} }}
  num_epochs: 3
  save_checkpoints_steps: 1000
}}
eval_config {{ num_steps: 2 }}
data_config {{
  batch_size: 64
  dataset_type: CsvDataset
  with_header: true
  fg_mode: FG_NONE
  label_fields: "clk"
}}
feature_configs {{ id_feature {{ feature_name: "user_id" expression: "user:user_id" hash_bucket_size: {users} embedding_dim: 16 }} }}
feature_configs {{ id_feature {{ feature_name: "item_id" expression: "item:item_id" hash_bucket_size: {items} embedding_dim: 16 }} }}
feature_configs {{ id_feature {{ feature_name: "tag" expression: "item:tag" hash_bucket_size: {groups} embedding_dim: 4 }} }}
model_config {{
  feature_groups {{ group_name: "user" feature_names: "user_id" group_type: DEEP }}
  feature_groups {{ group_name: "item" feature_names: "item_id" feature_names: "tag" group_type: DEEP }}
  dssm {{
    user_tower {{ input: "user" mlp {{ hidden_units: [32] }} }}
    item_tower {{ input: "item" mlp {{ hidden_units: [32] }} }}
    output_dim: 16
    similarity: COSINE
    temperature: 0.1
    in_batch_negative: true
  }}
  metrics {{ recall_at_k {{ top_k: 1 }} }}
  losses {{ softmax_cross_entropy {{}} }}
}}
"""


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def positive_pairs(rng, n):
    pairs = []
    for _ in range(n):
        user = rng.randrange(NUM_USERS)
        item = rng.randrange(NUM_ITEMS // NUM_GROUPS) * NUM_GROUPS + user % NUM_GROUPS
        pairs.append((user, item))
    return pairs


class HitrateDSSMTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = root = tempfile.mkdtemp(prefix="tzrec_hitrate_")
        rng = random.Random(7)
        header = ["user_id", "item_id", "tag", "clk"]
        write_csv(f"{root}/train.csv", header,
                  [(u, i, i % NUM_GROUPS, 1) for u, i in positive_pairs(rng, 4000)])
        eval_pairs = positive_pairs(rng, 600)
        write_csv(f"{root}/eval.csv", header, [(u, i, i % NUM_GROUPS, 1) for u, i in eval_pairs])
        # Ground truth per user: the items of its eval rows (upstream's gt_items).
        gt = {}
        for user, item in eval_pairs:
            gt.setdefault(user, set()).add(item)
        cls.gt = gt
        write_csv(f"{root}/user_gt.csv", ["request_id", "user_id", "gt_items"],
                  [(u, u, ",".join(str(i) for i in sorted(items))) for u, items in sorted(gt.items())])
        write_csv(f"{root}/items.csv", ["item_id", "tag"], [(i, i % NUM_GROUPS) for i in range(NUM_ITEMS)])

        cls.config = f"{root}/pipeline.config"
        with open(cls.config, "w") as f:
            f.write(CONFIG.format(root=root, users=NUM_USERS, items=NUM_ITEMS, groups=NUM_GROUPS))
        run(["train_eval", "--pipeline_config_path", cls.config])
        run(["export", "--pipeline_config_path", cls.config, "--export_dir", f"{root}/export"])
        run(["predict", "--scripted_model_path", f"{root}/export/item",
             "--predict_input_path", f"{root}/items.csv",
             "--predict_output_path", f"{root}/item_emb.csv", "--reserved_columns", "item_id"])
        run(["predict", "--scripted_model_path", f"{root}/export/user",
             "--predict_input_path", f"{root}/user_gt.csv",
             "--predict_output_path", f"{root}/user_emb.csv",
             "--reserved_columns", "request_id,gt_items"])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def hitrate(self, name, index_args, extra=()):
        out = f"{self.root}/{name}"
        run(["hitrate", "--user_gt_input", f"{self.root}/user_emb.csv",
             "--top_k", str(TOP_K), "--total_hitrate_output", f"{out}_total.csv",
             "--hitrate_details_output", f"{out}_details.csv"] + index_args + list(extra))
        total = read_csv(f"{out}_total.csv")
        self.assertEqual(len(total), 1)
        return float(total[0]["hitrate"]), read_csv(f"{out}_details.csv")

    def brute_force_hitrate(self):
        """Exact inner-product top-k over the predicted embeddings, in torch."""
        items = read_csv(f"{self.root}/item_emb.csv")
        item_ids = [row["item_id"] for row in items]
        item_emb = torch.tensor([[float(v) for v in row["item_tower_emb"].split(",")] for row in items])
        users = read_csv(f"{self.root}/user_emb.csv")
        user_emb = torch.tensor([[float(v) for v in row["user_tower_emb"].split(",")] for row in users])
        top = torch.topk(user_emb @ item_emb.t(), TOP_K, dim=1).indices
        hits = gt_count = 0
        for row, idx in zip(users, top.tolist()):
            gt = set(row["gt_items"].split(","))
            hits += len(gt & {item_ids[i] for i in idx})
            gt_count += len(gt)
        return hits / gt_count

    def test_index_from_create_faiss_index_beats_random(self):
        index_dir = f"{self.root}/index_ivf"
        run(["create_faiss_index", "--embedding_input_path", f"{self.root}/item_emb.csv",
             "--index_output_dir", index_dir, "--id_field", "item_id",
             "--embedding_field", "item_tower_emb", "--index_type", "IVFFlatIP", "--ivf_nlist", "8"])
        with open(f"{index_dir}/id_mapping") as f:
            self.assertEqual(len(f.read().split()), NUM_ITEMS)
        # nprobe = nlist: every list is searched, so IVF is exact here.
        rate, details = self.hitrate("ivf", ["--index_input_dir", index_dir], ["--ivf_nprobe", "8"])
        print(f"\nDSSM hitrate@{TOP_K}: {rate:.3f} (random: {RANDOM_HITRATE:.3f})")
        self.assertGreater(rate, 4 * RANDOM_HITRATE)
        self.assertAlmostEqual(rate, self.brute_force_hitrate(), places=6)

        self.assertEqual(len(details), len(self.gt))
        for row in details:
            topk = row["topk_ids"].split(",")
            self.assertEqual(len(topk), TOP_K)
            self.assertEqual(len(set(topk)), TOP_K)
            dists = [float(d) for d in row["topk_dists"].split(",")]
            self.assertEqual(dists, sorted(dists, reverse=True))
            gt = {str(i) for i in self.gt[int(row["id"])]}
            hits = set(row["hit_ids"].split(",")) if row["hit_ids"] else set()
            self.assertEqual(hits, gt & set(topk))
            self.assertAlmostEqual(float(row["hitrate"]), len(hits) / len(gt))

    def test_index_built_from_item_embeddings_matches_exact_search(self):
        rate, _ = self.hitrate("flat", ["--item_embedding_input", f"{self.root}/item_emb.csv",
                                        "--index_type", "FlatIP"])
        self.assertAlmostEqual(rate, self.brute_force_hitrate(), places=6)

    def test_bad_input_is_one_clear_error(self):
        result = run(["hitrate", "--user_gt_input", f"{self.root}/user_emb.csv",
                      "--item_embedding_input", f"{self.root}/item_emb.csv",
                      "--index_type", "FlatIP", "--gt_items_field", "positives"], check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("no column 'positives'", result.stderr)
        result = run(["hitrate", "--user_gt_input", f"{self.root}/user_emb.csv",
                      "--index_input_dir", f"{self.root}/nowhere"], check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("faiss_index", result.stderr)


if __name__ == "__main__":
    unittest.main()
