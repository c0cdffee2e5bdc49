// `tzrec gen_data`: example train/eval CSVs shaped like a pipeline.config's inputs.
#include <spdlog/spdlog.h>

#include "cli/subcommand.h"
#include "config/pipeline_config.h"
#include "data/gen_data.h"

namespace tzrec::cli {
namespace {

std::function<int()> Setup(CLI::App& app) {
  struct Flags {
    std::string pipeline_config_path;
    data::GenDataOptions options;
  };
  auto flags = std::make_shared<Flags>();
  app.add_option("--pipeline_config_path", flags->pipeline_config_path,
                 "pipeline.config whose features and labels define the columns")
      ->required();
  app.add_option("--output_dir", flags->options.output_dir,
                 "directory to write train.csv and eval.csv into (created if missing)")
      ->required();
  app.add_option("--num_rows", flags->options.num_rows,
                 "total rows over both files; eval.csv gets --eval_rows of them")
      ->required();
  app.add_option("--eval_rows", flags->options.eval_rows,
                 "rows of eval.csv (default: 10% of --num_rows, at least 1)");
  app.add_option("--seed", flags->options.seed,
                 "random seed; the same config and seed give identical files");
  app.add_option("--format", flags->options.format,
                 "csv (train.csv, eval.csv) or parquet (train.parquet, eval.parquet)")
      ->check(CLI::IsMember({"csv", "parquet"}));
  app.add_option("--num_threads", flags->options.num_threads,
                 "threads generating rows (output does not depend on it)");
  app.footer(
      "Columns: for fg_mode FG_DAG/FG_NORMAL the raw inputs the features read (\"user:age\" ->\n"
      "column age; grouped sequence inputs <sequence_name>__<input>, elements joined by\n"
      "sequence_delim; multi-values by the feature's separator, default \\x1d); for FG_NONE one\n"
      "encoded column per feature (ids in range; multi-values joined by\n"
      "data_config.fg_encoded_multival_sep, default \\x03); then label_fields and\n"
      "sample_weight_fields. data_config.input_fields, delimiter and with_header are honoured.\n"
      "Each label is a noisy logistic function of 2-4 chosen columns (logged at start).\n"
      "With data_config.negative_sampler, also item_gl: the item table it draws from.");
  return [flags]() {
    protos::EasyRecConfig config = LoadPipelineConfig(flags->pipeline_config_path);
    data::GenDataSummary summary = data::GenerateData(config, flags->options);
    spdlog::info("gen_data: wrote {} ({} rows) and {} ({} rows), {} columns", summary.train_path,
                 summary.train_rows, summary.eval_path, summary.eval_rows, summary.columns.size());
    if (!summary.item_table_path.empty()) {
      spdlog::info("gen_data: wrote {} ({} items) for data_config.negative_sampler.input_path",
                   summary.item_table_path, summary.item_table_items);
    }
    return 0;
  };
}

const bool kRegistered = Register(
    {"gen_data", "write example train.csv/eval.csv with the columns a pipeline.config reads", Setup});

}  // namespace
}  // namespace tzrec::cli
