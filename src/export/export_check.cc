#include "export/export_check.h"

#include <filesystem>
#include <memory>

#include <spdlog/spdlog.h>

#include "artifacts/exported_model.h"
#include "common/error.h"
#include "data/batch_iterator.h"
#include "data/data_options.h"

namespace tzrec::exporting {

namespace fs = std::filesystem;

void CheckExportedModel(const std::string& artifact_dir, const protos::EasyRecConfig& exported_config,
                        const ExportCheckOptions& options) {
  if (options.input_path.empty()) {
    spdlog::warn("{}: no input path to run the exported model on; publishing it unchecked", artifact_dir);
    return;
  }
  const std::string model_path = (fs::path(artifact_dir) / artifacts::kScriptedModelFile).string();
  // Read back as a server reads it (no manifest yet: it is written last).
  std::unique_ptr<artifacts::ExportedModel> model;
  try {
    model = artifacts::ExportedModel::Load(artifact_dir, {false, "export"});
  } catch (const Error& e) {
    Fail("export check: {}", e.what());
  }
  auto engine = std::make_shared<fg::FgEngine>(model->NewFgEngine());
  data::BatchIteratorOptions batch_options = data::BatchIteratorOptionsFromConfig(
      exported_config.data_config(), options.input_path, /*num_epochs=*/1, /*for_eval=*/false);
  if (options.max_rows > 0) batch_options.batch_size = options.max_rows;
  batch_options.drop_remainder = false;
  batch_options.num_workers = 1;
  // Features only: the check needs no labels, so item data without them works.
  data::BatchIterator batches(batch_options, engine, data::DataParserOptions{});
  data::Batch batch;
  if (!batches.Next(&batch)) Fail("export check: {} has no rows to run {} on", options.input_path, model_path);

  c10::Dict<std::string, at::Tensor> outputs;
  try {
    outputs = model->Run(batch.inputs);
  } catch (const Error& e) {
    Fail("export check: {} failed on {} rows of {}: {}", model_path, batch.batch_size, options.input_path,
         e.what());
  }
  for (const auto& entry : outputs) {
    const at::Tensor& value = entry.value();
    if (!value.is_floating_point()) continue;
    const int64_t bad = value.numel() - value.isfinite().sum().item<int64_t>();
    if (bad > 0) {
      Fail("export check: {} output '{}' has {} non-finite value(s) on {} rows of {}", model_path,
           entry.key(), bad, batch.batch_size, options.input_path);
    }
  }
  spdlog::info("export check: {} ran on {} rows of {}, outputs finite", model_path, batch.batch_size,
               options.input_path);
}

}  // namespace tzrec::exporting
