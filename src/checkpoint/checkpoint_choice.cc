#include "checkpoint/checkpoint_choice.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "checkpoint/checkpoint.h"
#include "common/error.h"

namespace tzrec::checkpoint {

namespace fs = std::filesystem;

namespace {

bool IsDirectory(const fs::path& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

std::string MetricNames(const nlohmann::ordered_json& metrics) {
  std::string names;
  for (const auto& [key, value] : metrics.items()) {
    if (!names.empty()) names += ", ";
    names += key;
  }
  return names.empty() ? "no metrics" : names;
}

std::string PathOf(const ModelDirListing& listing, const std::string& name) {
  return (fs::path(listing.model_dir) / name).string();
}

bool Holds(const ModelDirListing& listing, const std::string& name) {
  return std::find(listing.subdirectories.begin(), listing.subdirectories.end(), name) !=
         listing.subdirectories.end();
}

std::optional<CheckpointChoice> Latest(const ModelDirListing& listing) {
  std::optional<std::pair<int64_t, std::string>> latest;
  size_t count = 0;
  for (const std::string& name : listing.subdirectories) {
    const std::optional<int64_t> step = CheckpointStep(name);
    if (!step) continue;
    ++count;
    if (!latest || *step > latest->first) latest = std::make_pair(*step, name);
  }
  if (latest) {
    return CheckpointChoice{PathOf(listing, latest->second), latest->first,
                            fmt::format("latest of {} checkpoint(s) in {}", count, listing.model_dir)};
  }
  // A model_dir that is itself a checkpoint (model/ and optimizer/ inside).
  if (Holds(listing, kModelSubdir) || Holds(listing, kOptimizerSubdir)) {
    return CheckpointChoice{listing.model_dir, 0,
                            fmt::format("{} holds a checkpoint directly ({}/ inside)", listing.model_dir,
                                        kModelSubdir)};
  }
  return std::nullopt;
}

std::optional<CheckpointChoice> Best(const ModelDirListing& listing, const protos::ExportConfig& rules) {
  const std::string log_path = PathOf(listing, kEvalResultFile);
  auto fall_back = [&](const std::string& why) -> std::optional<CheckpointChoice> {
    std::optional<CheckpointChoice> latest = Latest(listing);
    if (latest) latest->reason = fmt::format("{}, so the {}", why, latest->reason);
    return latest;
  };
  if (!listing.eval_log) return fall_back(fmt::format("exporter_type best but no eval log {}", log_path));

  const std::string& metric = rules.best_exporter_metric();
  const bool larger_is_better = rules.metric_larger_is_better();
  // Step -> metric value, in order of first appearance; a step logged again
  // takes the later value (as a Python dict keyed by step does upstream).
  std::vector<std::pair<int64_t, double>> step_values;
  std::map<int64_t, size_t> index;
  for (const EvalRecord& record : ParseEvalLog(*listing.eval_log, log_path)) {
    auto value = record.metrics.find(metric);
    if (value == record.metrics.end()) {
      FailConfig("{}:{}: export_config.best_exporter_metric \"{}\" is not in the eval log; the entry has: {}",
                 log_path, record.line, metric, MetricNames(record.metrics));
    }
    if (!value->is_number()) {
      Fail("{}:{}: metric \"{}\" is not a number: {}", log_path, record.line, metric, value->dump());
    }
    const double number = value->get<double>();
    auto [it, inserted] = index.emplace(record.global_step, step_values.size());
    if (inserted) {
      step_values.emplace_back(record.global_step, number);
    } else {
      step_values[it->second].second = number;
    }
  }
  if (step_values.empty()) {
    return fall_back(fmt::format("exporter_type best but eval log {} has no entries", log_path));
  }
  size_t best = 0;
  for (size_t i = 1; i < step_values.size(); ++i) {
    const double candidate = step_values[i].second;
    const double current = step_values[best].second;
    if (larger_is_better ? candidate > current : candidate < current) best = i;
  }
  const auto [step, value] = step_values[best];
  const std::string name = fmt::format("{}{}", kCheckpointPrefix, step);
  if (!Holds(listing, name)) {
    Fail("the best checkpoint by {} ({}={}) is step {}, but {} does not exist", log_path, metric, value, step,
         PathOf(listing, name));
  }
  return CheckpointChoice{PathOf(listing, name), step,
                          fmt::format("best {}={} ({} is better) among {} evaluated step(s) in {}", metric,
                                      value, larger_is_better ? "larger" : "smaller", step_values.size(),
                                      log_path)};
}

void CheckExporterType(const protos::ExportConfig& rules) {
  const std::string& type = rules.exporter_type();
  if (type != "latest" && type != "best") {
    FailConfig("export_config.exporter_type \"{}\" is not one of: latest, best", type);
  }
}

}  // namespace

ModelDirListing ListModelDir(const std::string& model_dir) {
  ModelDirListing listing;
  listing.model_dir = model_dir;
  std::error_code ec;
  if (!fs::is_directory(model_dir, ec)) return listing;
  for (const auto& entry : fs::directory_iterator(model_dir, ec)) {
    if (entry.is_directory()) listing.subdirectories.push_back(entry.path().filename().string());
  }
  std::sort(listing.subdirectories.begin(), listing.subdirectories.end());
  const fs::path log = fs::path(model_dir) / kEvalResultFile;
  if (fs::is_regular_file(log, ec)) {
    std::ifstream in(log);
    if (!in) Fail("cannot read eval log {}", log.string());
    std::stringstream text;
    text << in.rdbuf();
    listing.eval_log = text.str();
  }
  return listing;
}

std::optional<CheckpointChoice> ChooseFromListing(const ModelDirListing& listing,
                                                  const protos::ExportConfig& rules) {
  CheckExporterType(rules);
  return rules.exporter_type() == "best" ? Best(listing, rules) : Latest(listing);
}

std::optional<CheckpointChoice> LatestCheckpoint(const std::string& model_dir) {
  if (model_dir.find(kCheckpointPrefix) != std::string::npos) {
    return CheckpointChoice{model_dir, CheckpointStep(model_dir).value_or(0),
                            fmt::format("{} names a checkpoint directory", model_dir)};
  }
  return ChooseFromListing(ListModelDir(model_dir), protos::ExportConfig());
}

CheckpointChoice ChooseCheckpoint(const std::string& model_dir, const protos::ExportConfig& export_config,
                                  const std::string& checkpoint_path) {
  if (!checkpoint_path.empty()) {
    if (!IsDirectory(checkpoint_path)) Fail("--checkpoint_path {} is not a checkpoint directory", checkpoint_path);
    return CheckpointChoice{checkpoint_path, CheckpointStep(checkpoint_path).value_or(0),
                            "given by --checkpoint_path"};
  }
  if (model_dir.empty()) {
    FailConfig("model_dir is not set in the pipeline config and no --checkpoint_path was given");
  }
  CheckExporterType(export_config);
  // A model_dir naming a checkpoint directory is that checkpoint, whatever the rules.
  std::optional<CheckpointChoice> choice = model_dir.find(kCheckpointPrefix) != std::string::npos
                                               ? LatestCheckpoint(model_dir)
                                               : ChooseFromListing(ListModelDir(model_dir), export_config);
  if (!choice) {
    Fail("no checkpoint in model_dir {}: expected {}<step> directories (train first, or pass --checkpoint_path)",
         model_dir, kCheckpointPrefix);
  }
  if (!IsDirectory(choice->path)) Fail("checkpoint {} does not exist", choice->path);
  return *choice;
}

}  // namespace tzrec::checkpoint
