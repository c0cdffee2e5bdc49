// `tzrec predict`: flags as upstream's `python -m tzrec.predict`.
#include <memory>
#include <string>

#include <spdlog/spdlog.h>

#include "cli/subcommand.h"
#include "common/strings.h"
#include "common/error.h"
#include "export/remote/published_export.h"
#include "export/remote/remote_url.h"
#include "export/serving_executor.h"
#include "predict/predictor.h"

namespace tzrec::cli {
namespace {

struct PredictFlags {
  predict::PredictRequest request;
  std::string reserved_columns;
  std::string output_columns;
  std::string edit_config_json;
  bool is_profiling = false;
  int debug_level = 0;
};

const bool kRegistered = Register({
    "predict",
    "Predict CSV rows with an export directory or a checkpoint; writes one CSV file",
    [](CLI::App& app) -> std::function<int()> {
      auto flags = std::make_shared<PredictFlags>();
      auto& request = flags->request;
      app.add_option("--scripted_model_path", request.scripted_model_path,
                     "export directory (scripted_model.pt, fg.json, pipeline.config) to predict with");
      app.add_option("--pipeline_config_path", request.pipeline_config_path,
                     "pipeline.config: predict with a checkpoint instead of an export");
      app.add_option("--checkpoint_path", request.checkpoint_path,
                     "checkpoint (model.ckpt-<step>) for --pipeline_config_path; default: latest in model_dir");
      app.add_option("--predict_input_path", request.predict_input_path,
                     "input CSV or Parquet files: comma-separated paths, glob patterns or directories")
          ->required();
      app.add_option("--predict_output_path", request.predict_output_path,
                     "output CSV file, or directory for Parquet output; must not exist")
          ->required();
      app.add_option("--reserved_columns", flags->reserved_columns,
                     "comma-separated input columns copied to the output (after the output columns)");
      app.add_option("--output_columns", flags->output_columns,
                     "comma-separated model outputs to write; default: all, sorted by name");
      app.add_option("--batch_size", request.batch_size,
                     "rows per batch; default: data_config eval_batch_size, else batch_size");
      app.add_option("--predict_threads", request.predict_threads,
                     "FG parsing threads; default: data_config num_workers");
      app.add_option("--predict_steps", request.predict_steps, "stop after this many batches");
      app.add_option("--dataset_type", request.dataset_type,
                     "CsvDataset or ParquetDataset; default: data_config.dataset_type (*.parquet files are Parquet)");
      app.add_option("--writer_type", request.writer_type,
                     "CsvWriter (a CSV file) or ParquetWriter (<predict_output_path>/part-0.parquet); default: "
                     "ParquetWriter for Parquet input");
      app.add_option("--edit_config_json", flags->edit_config_json, "not supported");
      app.add_flag("--is_profiling", flags->is_profiling, "accepted; tzrec does not profile");
      app.add_option("--debug_level", flags->debug_level, "accepted; no effect");
      return [flags] {
        auto& f = *flags;
        if (!f.edit_config_json.empty()) {
          FailConfig("--edit_config_json is not supported by tzrec predict; edit the pipeline.config");
        }
        if (f.is_profiling) spdlog::warn("--is_profiling is ignored");
        exporting::UseServingGraphExecutor();
        f.request.reserved_columns = SplitList(f.reserved_columns);
        f.request.output_columns = SplitList(f.output_columns);
        // An s3:// / oss:// export is read from a verified local copy.
        std::unique_ptr<exporting::remote::PublishedExport> published;
        if (exporting::remote::IsRemoteUrl(f.request.scripted_model_path)) {
          published = exporting::remote::PublishedExport::Fetch(f.request.scripted_model_path);
          f.request.scripted_model_path = published->local_dir();
        }
        predict::Predict(f.request);
        return 0;
      };
    },
});

}  // namespace
}  // namespace tzrec::cli
