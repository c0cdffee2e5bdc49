#!/usr/bin/env python3
"""Bad inputs to every `tzrec` subcommand: one table, run against the real binary.

Trains a tiny DeepFM once (FG_NONE CSV from `tzrec gen_data`), exports it once,
writes a small item-embedding CSV, then runs each case of CASES below and checks:

- the exit code: 2 for an invalid config, flag or environment setting, 1 for a
  runtime failure (missing or corrupt file, bad data), as src/common/error.h;
- the error is one line: stderr's last non-empty line starts with "tzrec: error: "
  and names the file / flag / field / value at fault (each `names` substring),
  and every other stderr line is a log line ("[date] [level] ..."), so no stack
  trace or multi-line message slips through;
- nothing is half-written: the tree under the test's root (fixture and the
  case's own inputs) is the same, path for path, size and mtime, after the
  failed command as before it: no output file or directory, no model_dir, no
  `*.tmp-<pid>` staging left behind.

`--print-table` prints the cases as the markdown table docs/reliability.md
holds (id | command | bad input | exit code | what the error names), so the
documentation and the test come from one list. Needs no torch: runs under the
venv (tests/py/run_in_venv.sh) or any python3. TZREC_BINARY names the binary.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from tzrec_cli import SMALL_DEEPFM_MODEL, TZREC, small_config_head

CONFIG = small_config_head("label", 64, tags_dim=8) + SMALL_DEEPFM_MODEL
EVAL_HEADER = "user_id,age,item_id,tags,price,label"  # gen_data's columns for CONFIG
GOOD_ROW = "24,2.3,25,29,2.0,0"
SERVE_TIMEOUT_S = 60  # a serve case that starts listening instead of failing
RUN_TIMEOUT_S = 120


# ---- what the cases set up in their own folder ({c}) -------------------------

def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


def eval_csv_with(*rows):
    """A setup writing {c}/in.csv: the header, one good row, then `rows`."""
    return lambda fx, c: write(f"{c}/in.csv", "\n".join([EVAL_HEADER, GOOD_ROW, *rows]) + "\n")


def config_with(old, new):
    """A setup writing {c}/pipeline.config: CONFIG with `old` replaced by `new`."""
    def setup(fx, c):
        text = read(fx.config)
        assert old in text, old
        write(f"{c}/pipeline.config", text.replace(old, new, 1))
    return setup


def copied_export(edit):
    """A setup copying the export to {c}/export and applying `edit(path)`."""
    def setup(fx, c):
        shutil.copytree(fx.export, f"{c}/export")
        edit(f"{c}/export")
    return setup


def copied_checkpoint(edit):
    """A setup copying the latest checkpoint to {c}/model.ckpt-5 and applying `edit(path)`."""
    def setup(fx, c):
        shutil.copytree(fx.ckpt, f"{c}/model.ckpt-5")
        edit(f"{c}/model.ckpt-5")
    return setup


def read(path):
    with open(path) as f:
        return f.read()


def truncate(path, size):
    with open(path, "r+b") as f:
        f.truncate(size)


def remove(path):
    os.remove(path)


def garbage(n):
    # Fixed bytes (not os.urandom): the same error every run.
    return bytes((i * 167 + 13) % 256 for i in range(n))


def embeddings_with(*rows):
    """A setup writing {c}/emb.csv: item_id,emb with two good rows, then `rows`."""
    good = ['1,"0.1,0.2,0.3,0.4"', '2,"0.5,0.6,0.7,0.8"']
    return lambda fx, c: write(f"{c}/emb.csv", "\n".join(["item_id,emb", *good, *rows]) + "\n")


def both(*setups):
    def setup(fx, c):
        for s in setups:
            s(fx, c)
    return setup


class Case:
    def __init__(self, id, args, exit_code, names, bad, setup=None, env=None, root_can_read=False):
        self.id = id
        self.args = args            # after `tzrec`, with {placeholders} (Fixture.placeholders)
        self.exit_code = exit_code
        self.names = names          # substrings the error line must contain
        self.bad = bad              # the bad input, in words (the table's column)
        self.setup = setup          # setup(fixture, case_dir): writes the case's inputs
        self.env = env or {}
        self.root_can_read = root_can_read  # chmod 000 denies nothing to root: skipped there

    def command(self):
        env = "".join(f"{k}={v} " for k, v in self.env.items())
        return env + "tzrec " + " ".join(self.args)


FAISS = ["create_faiss_index", "--index_output_dir", "{c}/out/index", "--id_field", "item_id",
         "--embedding_field", "emb", "--index_type", "FlatIP"]
PREDICT_EXPORT = ["predict", "--scripted_model_path", "{export}", "--predict_output_path", "{c}/out/pred.csv"]
EXPORT = ["export", "--pipeline_config_path", "{config}", "--export_dir", "{c}/out/export"]
TRAIN = ["train_eval", "--pipeline_config_path", "{config}", "--model_dir", "{c}/out/model"]
SERVE = ["serve", "--port", "0"]

CASES = [
    # ---- flags and environment (exit 2) ----
    Case("export.unknown_flag", EXPORT + ["--bogus", "1"], 2, ["--bogus"], "unknown flag"),
    Case("export.missing_flag", ["export", "--pipeline_config_path", "{config}"], 2,
         ["--export_dir", "required"], "required flag missing"),
    Case("predict.flag_wrong_type", PREDICT_EXPORT + ["--predict_input_path", "{eval}", "--batch_size", "abc"],
         2, ["--batch_size", "abc"], "--batch_size not an integer"),
    Case("predict.batch_size_negative", PREDICT_EXPORT + ["--predict_input_path", "{eval}", "--batch_size", "-1"],
         2, ["--batch_size", "-1"], "--batch_size -1"),
    Case("predict.bad_dataset_type", PREDICT_EXPORT + ["--predict_input_path", "{eval}", "--dataset_type", "Foo"],
         2, ["Foo"], "unknown --dataset_type"),
    Case("predict.bad_writer_type", PREDICT_EXPORT + ["--predict_input_path", "{eval}", "--writer_type", "Foo"],
         2, ["Foo"], "unknown --writer_type"),
    Case("predict.edit_config_json", PREDICT_EXPORT + ["--predict_input_path", "{eval}",
                                                      "--edit_config_json", "x"],
         2, ["--edit_config_json"], "unsupported flag"),
    Case("export.quant_emb_int3", EXPORT, 2, ["QUANT_EMB", "INT3"], "env QUANT_EMB=INT3",
         env={"QUANT_EMB": "INT3"}),
    Case("export.input_tile_5", EXPORT, 2, ["INPUT_TILE", "5"], "env INPUT_TILE=5", env={"INPUT_TILE": "5"}),
    Case("export.use_rtp", EXPORT, 2, ["USE_RTP=1"], "env USE_RTP=1 (closed RTP export)",
         env={"USE_RTP": "1"}),
    Case("create_fg_json.unknown_flag", ["create_fg_json", "--pipeline_config_path", "{config}",
                                         "--fg_output_dir", "{c}/out/fg", "--bogus"], 2, ["--bogus"], "unknown flag"),
    Case("create_fg_json.odps_upload", ["create_fg_json", "--pipeline_config_path", "{config}",
                                        "--fg_output_dir", "{c}/out/fg", "--odps_project_name", "p",
                                        "--fg_resource_name", "r.json"],
         2, ["--odps_project_name", "--fg_resource_name"], "ODPS upload asked for"),
    Case("create_faiss_index.bad_index_type", FAISS[:-1] + ["IVFPQ", "--embedding_input_path", "{emb}"],
         2, ["IVFPQ"], "unknown --index_type"),
    Case("serve.bad_fg_mode", SERVE + ["--scripted_model_path", "{export}", "--fg_mode", "raw"], 2,
         ["--fg_mode", "raw"], "--fg_mode not normal/bypass"),
    Case("serve.conflicting_flags", SERVE + ["--scripted_model_path", "{export}", "--model_base_dir", "{root}"],
         2, ["--scripted_model_path", "--model_base_dir"], "two model sources"),
    Case("serve.threads_zero", SERVE + ["--scripted_model_path", "{export}", "--threads", "0"], 2,
         ["threads", "0"], "--threads 0"),
    Case("gen_data.negative_rows", ["gen_data", "--pipeline_config_path", "{config}", "--output_dir", "{c}/out/data",
                                    "--num_rows", "-5"], 2, ["num_rows", "-5"], "--num_rows -5"),

    # ---- pipeline.config (exit 2) ----
    Case("export.missing_config", ["export", "--pipeline_config_path", "{c}/nope.config",
                                   "--export_dir", "{c}/out/export"], 2, ["nope.config"], "config file missing"),
    Case("export.empty_config", ["export", "--pipeline_config_path", "{c}/empty.config",
                                 "--export_dir", "{c}/out/export"], 2, ["model_config"], "empty config file",
         setup=lambda fx, c: write(f"{c}/empty.config", "")),
    Case("train_eval.garbage_config", ["train_eval", "--pipeline_config_path", "{c}/garbage.config",
                                       "--model_dir", "{c}/out/model"], 2, ["garbage.config:1"],
         "binary garbage as config", setup=lambda fx, c: write(f"{c}/garbage.config", garbage(300))),
    Case("eval.unknown_config_field", ["eval", "--pipeline_config_path", "{c}/pipeline.config"], 2,
         ["pipeline.config:", "bogus_field"], "unknown config field",
         setup=lambda fx, c: write(f"{c}/pipeline.config", read(fx.config) + "bogus_field: 1\n")),
    Case("validate_config.truncated_config", ["validate_config", "--pipeline_config_path", "{c}/pipeline.config"],
         2, ["pipeline.config:"], "config cut mid-message",
         setup=lambda fx, c: write(f"{c}/pipeline.config", read(fx.config)[:700])),
    Case("train_eval.unknown_feature_in_group",
         ["train_eval", "--pipeline_config_path", "{c}/pipeline.config", "--model_dir", "{c}/out/model"], 2,
         ["nope"], "feature group names an unknown feature",
         setup=config_with('feature_names: "age"', 'feature_names: "nope"')),
    Case("create_fg_json.duplicate_feature",
         ["create_fg_json", "--pipeline_config_path", "{c}/pipeline.config", "--fg_output_dir", "{c}/out/fg"], 2,
         ["duplicate feature name 'user_id'"], "two features named user_id",
         setup=config_with('feature_name: "age"', 'feature_name: "user_id"')),
    Case("train_eval.wrong_type_field",
         ["train_eval", "--pipeline_config_path", "{c}/pipeline.config", "--model_dir", "{c}/out/model"], 2,
         ["pipeline.config:", '"many"'], "batch_size: \"many\"",
         setup=config_with("batch_size: 64", 'batch_size: "many"')),

    # ---- missing, unreadable or misplaced files (exit 1) ----
    Case("export.missing_checkpoint", EXPORT + ["--checkpoint_path", "{c}/nope"], 1, ["nope"],
         "--checkpoint_path does not exist"),
    Case("export.existing_export_dir", ["export", "--pipeline_config_path", "{config}", "--export_dir", "{export}"],
         1, ["export", "exist"], "export_dir already exists"),
    Case("export.empty_checkpoint_dir", EXPORT + ["--checkpoint_path", "{c}/empty"], 1, ["empty"],
         "--checkpoint_path an empty directory", setup=lambda fx, c: os.makedirs(f"{c}/empty")),
    Case("predict.missing_export", ["predict", "--scripted_model_path", "{c}/nope", "--predict_input_path",
                                    "{eval}", "--predict_output_path", "{c}/out/pred.csv"], 1, ["nope"],
         "export dir missing"),
    Case("predict.missing_input", PREDICT_EXPORT + ["--predict_input_path", "{c}/nope.csv"], 1, ["nope.csv"],
         "input file missing"),
    Case("predict.input_under_a_file", PREDICT_EXPORT + ["--predict_input_path", "{eval}/part.csv"], 1,
         ["part.csv"], "input path below a file (fails for root too)"),
    Case("predict.unreadable_input", PREDICT_EXPORT + ["--predict_input_path", "{c}/in.csv"], 1, ["in.csv"],
         "input file mode 000 (skipped as root)",
         setup=both(eval_csv_with(), lambda fx, c: os.chmod(f"{c}/in.csv", 0)), root_can_read=True),
    Case("predict.existing_output", ["predict", "--scripted_model_path", "{export}", "--predict_input_path",
                                     "{eval}", "--predict_output_path", "{eval}"], 1, ["eval.csv", "exists"],
         "output path already exists"),
    Case("create_fg_json.output_is_a_file", ["create_fg_json", "--pipeline_config_path", "{config}",
                                             "--fg_output_dir", "{eval}"], 1, ["eval.csv"],
         "--fg_output_dir is a file"),
    Case("train_eval.missing_train_input", TRAIN + ["--train_input_path", "{c}/nope.csv"], 1, ["nope.csv"],
         "train input missing"),
    Case("train_eval.missing_eval_input", TRAIN + ["--eval_input_path", "{c}/nope.csv"], 1, ["nope.csv"],
         "eval input missing"),
    Case("train_eval.model_dir_is_a_file", ["train_eval", "--pipeline_config_path", "{config}", "--model_dir",
                                            "{eval}"], 1, ["eval.csv"], "--model_dir is a file"),
    Case("train_eval.existing_checkpoints", ["train_eval", "--pipeline_config_path", "{config}"], 1,
         ["--continue_train", "model"], "model_dir already trained"),
    Case("train_eval.missing_fine_tune_checkpoint", TRAIN + ["--fine_tune_checkpoint", "{c}/nope"], 1,
         ["nope"], "--fine_tune_checkpoint missing"),
    Case("eval.missing_checkpoint", ["eval", "--pipeline_config_path", "{config}", "--checkpoint_path",
                                     "{c}/nope"], 1, ["nope"], "--checkpoint_path missing"),
    Case("create_faiss_index.missing_input", FAISS + ["--embedding_input_path", "{c}/nope.csv"], 1,
         ["nope.csv"], "embedding file missing"),
    Case("serve.missing_export", SERVE + ["--scripted_model_path", "{c}/nope"], 1, ["nope"],
         "export dir missing"),
    Case("serve.missing_item_features", SERVE + ["--scripted_model_path", "{export}", "--fg_mode", "normal",
                                                 "--item_feature_path", "{c}/nope.csv",
                                                 "--item_id_field", "item_id"], 1,
         ["nope.csv"],
         "--item_feature_path missing"),

    # ---- corrupt or incomplete artifacts (exit 1) ----
    Case("export.corrupt_checkpoint", EXPORT + ["--checkpoint_path", "{c}/model.ckpt-5"], 1,
         ["__0_0.distcp"], "checkpoint data overwritten with garbage",
         setup=copied_checkpoint(lambda p: write(f"{p}/model/__0_0.distcp", garbage(5000)))),
    Case("export.truncated_checkpoint", EXPORT + ["--checkpoint_path", "{c}/model.ckpt-5"], 1,
         ["__0_0.distcp", "bytes"], "checkpoint data cut to 3000 bytes",
         setup=copied_checkpoint(lambda p: truncate(f"{p}/model/__0_0.distcp", 3000))),
    Case("eval.checkpoint_without_metadata", ["eval", "--pipeline_config_path", "{config}", "--checkpoint_path",
                                              "{c}/model.ckpt-5"], 1, ["model.ckpt-5", ".metadata"],
         "checkpoint's .metadata deleted",
         setup=copied_checkpoint(lambda p: remove(f"{p}/model/.metadata"))),
    Case("eval.garbage_checkpoint_metadata", ["eval", "--pipeline_config_path", "{config}", "--checkpoint_path",
                                              "{c}/model.ckpt-5"], 1, [".metadata"],
         "checkpoint's .metadata garbage",
         setup=copied_checkpoint(lambda p: write(f"{p}/model/.metadata", garbage(100)))),
    Case("eval.wrong_shape_checkpoint", ["eval", "--pipeline_config_path", "{c}/pipeline.config"], 1,
         ["deep_mlp", "[16, 26]", "[12, 26]"], "checkpoint of another shape (hidden_units 16 -> 12)",
         setup=config_with("hidden_units: [16, 8]", "hidden_units: [12, 8]")),
    Case("predict.export_without_fg_json", ["predict", "--scripted_model_path", "{c}/export",
                                            "--predict_input_path", "{eval}", "--predict_output_path",
                                            "{c}/out/pred.csv"], 1, ["fg.json"], "export's fg.json deleted",
         setup=copied_export(lambda p: remove(f"{p}/fg.json"))),
    Case("predict.truncated_scripted_model", ["predict", "--scripted_model_path", "{c}/export",
                                              "--predict_input_path", "{eval}", "--predict_output_path",
                                              "{c}/out/pred.csv"], 1, ["scripted_model.pt", "1000"],
         "scripted_model.pt cut to 1000 bytes",
         setup=copied_export(lambda p: truncate(f"{p}/scripted_model.pt", 1000))),
    Case("predict.export_without_manifest", ["predict", "--scripted_model_path", "{c}/export",
                                             "--predict_input_path", "{eval}", "--predict_output_path",
                                             "{c}/out/pred.csv"], 1, ["export_manifest.json"],
         "export_manifest.json deleted (unfinished export)",
         setup=copied_export(lambda p: remove(f"{p}/export_manifest.json"))),
    Case("serve.export_without_fg_json", SERVE + ["--scripted_model_path", "{c}/export"], 1, ["fg.json"],
         "export's fg.json deleted", setup=copied_export(lambda p: remove(f"{p}/fg.json"))),
    Case("serve.garbage_scripted_model", SERVE + ["--scripted_model_path", "{c}/export"], 1,
         ["scripted_model.pt"], "scripted_model.pt replaced by garbage",
         setup=copied_export(lambda p: write(f"{p}/scripted_model.pt", garbage(35192)))),

    # ---- bad data (exit 1) ----
    Case("predict.empty_csv", PREDICT_EXPORT + ["--predict_input_path", "{c}/in.csv"], 1, ["in.csv", "empty"],
         "empty CSV file", setup=lambda fx, c: write(f"{c}/in.csv", "")),
    Case("predict.ragged_row", PREDICT_EXPORT + ["--predict_input_path", "{c}/in.csv"], 1,
         ["in.csv:3", "6 fields", "got 2"], "CSV row with 2 of 6 fields", setup=eval_csv_with("1,2")),
    Case("predict.garbage_parquet", PREDICT_EXPORT + ["--predict_input_path", "{c}/in.parquet"], 1,
         ["in.parquet", "Parquet"], "garbage .parquet file",
         setup=lambda fx, c: write(f"{c}/in.parquet", garbage(2000))),
    Case("predict.value_not_a_number", PREDICT_EXPORT + ["--predict_input_path", "{c}/in.csv"], 1,
         ["in.csv:3", "age", "abc"], "dense value 'abc'", setup=eval_csv_with("24,abc,25,29,2.0,0")),
    Case("predict.nan_value", PREDICT_EXPORT + ["--predict_input_path", "{c}/in.csv"], 1,
         ["in.csv:3", "age", "nan"], "dense value 'nan'", setup=eval_csv_with("24,nan,25,29,2.0,0")),
    Case("predict.id_out_of_range", PREDICT_EXPORT + ["--predict_input_path", "{c}/in.csv"], 1,
         ["in.csv:3", "item_id", "999", "[0, 40)"], "id 999 of 40 buckets",
         setup=eval_csv_with("24,1.0,999,29,2.0,0")),
    Case("predict.negative_id", PREDICT_EXPORT + ["--predict_input_path", "{c}/in.csv"], 1,
         ["in.csv:3", "user_id", "-3"], "id -3", setup=eval_csv_with("-3,1.0,9,29,2.0,0")),
    Case("predict.missing_column", PREDICT_EXPORT + ["--predict_input_path", "{c}/in.csv"], 1,
         ["in.csv", "price"], "input lacks a feature's column",
         setup=lambda fx, c: write(f"{c}/in.csv", "user_id,age,item_id,tags,label\n24,2.3,25,29,0\n")),
    Case("train_eval.ragged_row", TRAIN + ["--train_input_path", "{c}/in.csv"], 1,
         ["in.csv:3", "got 2"], "train CSV row with 2 of 6 fields", setup=eval_csv_with("1,2")),
    Case("train_eval.nan_label", TRAIN + ["--train_input_path", "{c}/in.csv"], 1,
         ["in.csv:3", "label", "nan"], "label 'nan'", setup=eval_csv_with("24,2.3,25,29,2.0,nan")),
    Case("train_eval.missing_label_column", TRAIN + ["--train_input_path", "{c}/in.csv"], 1,
         ["in.csv", "label"], "train CSV without the label column",
         setup=lambda fx, c: write(f"{c}/in.csv", "user_id,age,item_id,tags,price\n24,2.3,25,29,2.0\n")),
    Case("eval.inf_value", ["eval", "--pipeline_config_path", "{config}", "--eval_input_path", "{c}/in.csv"], 1,
         ["in.csv:3", "price", "inf"], "dense value 'inf'", setup=eval_csv_with("24,2.3,25,29,inf,0")),
    Case("create_faiss_index.empty_input", FAISS + ["--embedding_input_path", "{c}/emb.csv"], 1, ["emb.csv"],
         "empty embedding file", setup=lambda fx, c: write(f"{c}/emb.csv", "")),
    Case("create_faiss_index.ragged_dims", FAISS + ["--embedding_input_path", "{c}/emb.csv"], 1,
         ["emb.csv", "3"], "embedding of 3 values among 4-value ones", setup=embeddings_with('3,"0.1,0.2,0.3"')),
    Case("create_faiss_index.not_a_number", FAISS + ["--embedding_input_path", "{c}/emb.csv"], 1,
         ["emb.csv", "x"], "embedding value 'x'", setup=embeddings_with('3,"0.1,x,0.3,0.4"')),
    Case("create_faiss_index.nan_embedding", FAISS + ["--embedding_input_path", "{c}/emb.csv"], 1,
         ["emb.csv", "nan"], "embedding value 'nan'", setup=embeddings_with('3,"0.1,nan,0.3,0.4"')),
    Case("create_faiss_index.missing_id_column", ["create_faiss_index", "--index_output_dir", "{c}/out/index",
                                                  "--id_field", "nope", "--embedding_field", "emb",
                                                  "--embedding_input_path", "{emb}"], 2,
         ["emb.csv", "nope", "--id_field"], "--id_field not a column of the file"),
]


class Fixture:
    """The trained model, its export and inputs the cases read."""

    def __init__(self, root):
        self.root = root
        self.config = f"{root}/pipeline.config"
        write(self.config, CONFIG.format(root=root))
        self.model = f"{root}/model"
        self.export = f"{root}/export"
        self.train = f"{root}/data/train.csv"
        self.eval = f"{root}/data/eval.csv"
        self.emb = f"{root}/emb.csv"

    def build(self):
        tzrec(["gen_data", "--pipeline_config_path", self.config, "--output_dir", f"{self.root}/data",
               "--num_rows", "300", "--seed", "5"], check=True)
        tzrec(["train_eval", "--pipeline_config_path", self.config], check=True)
        tzrec(["export", "--pipeline_config_path", self.config, "--export_dir", self.export], check=True)
        steps = sorted(int(d.split("-")[1]) for d in os.listdir(self.model) if d.startswith("model.ckpt-"))
        self.ckpt = f"{self.model}/model.ckpt-{steps[-1]}"
        write(self.emb, "item_id,emb\n" + "".join(f'{i},"{i * 0.1},{i * 0.2},0.5,{1 - i * 0.01}"\n'
                                                   for i in range(1, 21)))

    def placeholders(self, case_dir):
        return {"root": self.root, "c": case_dir, "config": self.config, "export": self.export,
                "model": self.model, "ckpt": self.ckpt, "train": self.train, "eval": self.eval,
                "emb": self.emb}


def tzrec(args, env=None, check=False, timeout=RUN_TIMEOUT_S):
    full_env = dict(os.environ)
    full_env.update(env or {})
    result = subprocess.run([TZREC] + args, capture_output=True, text=True, env=full_env, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"tzrec {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result


def tree(root):
    """Every path under root: directories, and files with size and mtime."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            out[os.path.join(dirpath, name)] = "dir"
        for name in filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            out[path] = (st.st_size, st.st_mtime_ns)
    return out


def is_log_line(line):
    return line.startswith("[") and "] [" in line[:40]


class BadInputsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="tzrec_bad_inputs_")
        cls.fx = Fixture(cls.root)
        try:
            cls.fx.build()
        except BaseException:
            shutil.rmtree(cls.root, ignore_errors=True)  # tearDownClass does not run
            raise

    @classmethod
    def tearDownClass(cls):
        for dirpath, _, filenames in os.walk(cls.root):  # mode-000 inputs
            for name in filenames:
                os.chmod(os.path.join(dirpath, name), 0o644)
        shutil.rmtree(cls.root, ignore_errors=True)

    def test_case_ids_are_unique_and_cover_every_subcommand(self):
        ids = [case.id for case in CASES]
        self.assertEqual(len(ids), len(set(ids)))
        self.assertGreaterEqual(len(ids), 40)
        commands = {case.args[0] for case in CASES}
        for sub in ["export", "predict", "train_eval", "eval", "create_fg_json", "create_faiss_index", "serve"]:
            self.assertIn(sub, commands)
        for case in CASES:
            self.assertEqual(case.id.split(".")[0], case.args[0], case.id)
            self.assertIn(case.exit_code, (1, 2), case.id)

    def test_docs_table_is_this_case_list(self):
        docs = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "reliability.md")
        with open(docs) as f:
            self.assertIn(markdown_table(), f.read(),
                          "docs/reliability.md's table differs: paste `test_bad_inputs.py --print-table`")

    def check_case(self, case):
        if case.root_can_read and os.geteuid() == 0:
            self.skipTest("runs as root, whom mode 000 does not deny")
        case_dir = os.path.join(self.root, "cases", case.id)
        os.makedirs(case_dir)
        if case.setup:
            case.setup(self.fx, case_dir)
        values = self.fx.placeholders(case_dir)
        args = [a.format(**values) for a in case.args]
        before = tree(self.root)
        try:
            result = tzrec(args, env=case.env, timeout=SERVE_TIMEOUT_S if case.args[0] == "serve"
                           else RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.fail(f"{case.id}: tzrec {' '.join(args)} did not fail within its timeout")
        what = f"{case.id}: tzrec {' '.join(args)}\nexit {result.returncode}, stderr:\n{result.stderr}"
        self.assertEqual(result.returncode, case.exit_code, what)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        self.assertTrue(lines, what)
        error = lines[-1]
        self.assertTrue(error.startswith("tzrec: error: "), what)
        self.assertEqual([line for line in lines[:-1] if not is_log_line(line)], [], what)
        for name in case.names:
            self.assertIn(name.format(**values), error, what)
        after = tree(self.root)
        self.assertEqual(sorted(set(after) - set(before)), [], f"{what}\nleft new paths behind")
        self.assertEqual(sorted(set(before) - set(after)), [], f"{what}\nremoved paths")
        changed = [p for p in before if before[p] != after[p]]
        self.assertEqual(changed, [], f"{what}\nchanged files")


def add_case_tests():
    for case in CASES:
        name = "test_" + case.id.replace(".", "__")
        setattr(BadInputsTest, name, lambda self, case=case: self.check_case(case))


add_case_tests()


def markdown_table():
    def cell(text):
        return text.replace("|", "\\|")
    legend = ("Placeholders: `{config}`, `{model}`, `{ckpt}`, `{export}`, `{eval}`, `{emb}`: the tiny DeepFM's "
              "pipeline.config, model_dir, latest checkpoint, export, eval CSV and an item-embedding CSV; "
              "`{c}`: the case's own folder, holding its bad input; `{root}`: the test's folder. "
              "Every case also checks that the error is stderr's one last line, `tzrec: error: ...`, and "
              "that the failed command left no file or directory behind (no output, no model_dir, no "
              "`*.tmp-<pid>` staging).\n\n")
    rows = ["| id | command | bad input | exit code | what the error names |",
            "|---|---|---|---|---|"]
    for case in CASES:
        names = ", ".join(f"`{n}`" for n in case.names)
        rows.append(f"| `{case.id}` | `{cell(case.command())}` | {cell(case.bad)} | {case.exit_code} | "
                    f"{cell(names)} |")
    return legend + "\n".join(rows) + "\n"


if __name__ == "__main__":
    if "--print-table" in sys.argv[1:]:
        sys.stdout.write(markdown_table())
        sys.exit(0)
    unittest.main()
