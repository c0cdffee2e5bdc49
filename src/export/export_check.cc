#include "export/export_check.h"

#include <filesystem>
#include <memory>

#include <spdlog/spdlog.h>
#include <torch/script.h>

#include "common/error.h"
#include "data/batch_iterator.h"
#include "data/data_options.h"
#include "features/fg/fg_engine.h"
#include "features/fg/fg_spec.h"
#include "models/modules/jit_module.h"

namespace tzrec::exporting {

namespace fs = std::filesystem;

void CheckExportedModel(const std::string& artifact_dir, const protos::EasyRecConfig& exported_config,
                        const ExportCheckOptions& options) {
  if (options.input_path.empty()) {
    spdlog::warn("{}: no input path to run the exported model on; publishing it unchecked", artifact_dir);
    return;
  }
  const std::string model_path = (fs::path(artifact_dir) / "scripted_model.pt").string();
  auto engine = std::make_shared<fg::FgEngine>(fg::LoadFgJson((fs::path(artifact_dir) / "fg.json").string()),
                                               data::FgEngineOptionsFromConfig(exported_config));
  data::BatchIteratorOptions batch_options = data::BatchIteratorOptionsFromConfig(
      exported_config.data_config(), options.input_path, /*num_epochs=*/1, /*for_eval=*/false);
  if (options.max_rows > 0) batch_options.batch_size = options.max_rows;
  batch_options.drop_remainder = false;
  // Features only: the check needs no labels, so item data without them works.
  data::BatchIterator batches(batch_options, engine, data::DataParserOptions{});
  data::Batch batch;
  if (!batches.Next(&batch)) Fail("export check: {} has no rows to run {} on", options.input_path, model_path);

  torch::jit::Module module;
  try {
    module = torch::jit::load(model_path);
  } catch (const c10::Error& e) {
    Fail("export check: cannot load {}: {}", model_path, e.what_without_backtrace());
  }
  module.eval();
  c10::Dict<std::string, at::Tensor> inputs;
  for (const auto& [name, tensor] : batch.inputs) inputs.insert(name, tensor);
  // One row per input row already: the tile wrapper repeats user inputs once.
  if (options.input_tile) inputs.insert("batch_size", at::scalar_tensor(1, at::kLong));

  c10::Dict<std::string, at::Tensor> outputs;
  try {
    at::NoGradGuard no_grad;
    outputs = models::ForwardDict(module, inputs);
  } catch (const c10::Error& e) {
    std::string message = e.what_without_backtrace();
    while (!message.empty() && message.back() == '\n') message.pop_back();
    Fail("export check: {} failed on {} rows of {}: {}", model_path, batch.batch_size, options.input_path,
         message.substr(message.rfind('\n') + 1));
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
