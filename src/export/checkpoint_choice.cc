#include "export/checkpoint_choice.h"

#include <filesystem>
#include <fstream>
#include <map>

#include <fmt/format.h>

#include "checkpoint/checkpoint.h"
#include "common/error.h"

namespace tzrec::exporting {

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

}  // namespace

std::vector<EvalRecord> ReadEvalLog(const std::string& path) {
  std::ifstream in(path);
  if (!in) Fail("cannot read eval log {}", path);
  std::vector<EvalRecord> records;
  std::string text;
  int line = 0;
  while (std::getline(in, text)) {
    ++line;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::ordered_json parsed;
    try {
      parsed = nlohmann::ordered_json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
      Fail("{}:{}: not a JSON line of the eval log: {}", path, line, text);
    }
    if (!parsed.is_object()) Fail("{}:{}: expected a JSON object, got: {}", path, line, text);
    auto step = parsed.find("global_step");
    if (step == parsed.end() || !step->is_number_integer()) {
      Fail("{}:{}: the entry has no integer \"global_step\": {}", path, line, text);
    }
    EvalRecord record;
    record.global_step = step->get<int64_t>();
    record.line = line;
    parsed.erase("global_step");
    record.metrics = std::move(parsed);
    records.push_back(std::move(record));
  }
  return records;
}

int64_t CheckpointStep(const std::string& path) {
  return checkpoint::CheckpointStep(path).value_or(0);
}

std::optional<CheckpointChoice> LatestCheckpoint(const std::string& model_dir) {
  if (model_dir.find(checkpoint::kCheckpointPrefix) != std::string::npos) {
    return CheckpointChoice{model_dir, CheckpointStep(model_dir),
                            fmt::format("{} names a checkpoint directory", model_dir)};
  }
  const auto checkpoints = checkpoint::ListCheckpoints(model_dir);  // by increasing step
  std::optional<CheckpointChoice> latest;
  if (!checkpoints.empty()) {
    latest = CheckpointChoice{checkpoints.back().second, checkpoints.back().first, ""};
  }
  const size_t count = checkpoints.size();
  if (latest) {
    latest->reason = fmt::format("latest of {} checkpoint(s) in {}", count, model_dir);
    return latest;
  }
  // A model_dir that is itself a checkpoint (model/ and optimizer/ inside).
  if (IsDirectory(fs::path(model_dir) / "model") || IsDirectory(fs::path(model_dir) / "optimizer")) {
    return CheckpointChoice{model_dir, 0,
                            fmt::format("{} holds a checkpoint directly (model/ inside)", model_dir)};
  }
  return std::nullopt;
}

std::optional<CheckpointChoice> BestCheckpoint(const std::string& model_dir,
                                               const protos::ExportConfig& export_config) {
  const std::string log_path = (fs::path(model_dir) / kEvalLogFileName).string();
  std::error_code ec;
  auto fall_back = [&](const std::string& why) -> std::optional<CheckpointChoice> {
    std::optional<CheckpointChoice> latest = LatestCheckpoint(model_dir);
    if (latest) latest->reason = fmt::format("{}, so the {}", why, latest->reason);
    return latest;
  };
  if (!fs::is_regular_file(log_path, ec)) {
    return fall_back(fmt::format("exporter_type best but no eval log {}", log_path));
  }

  const std::string& metric = export_config.best_exporter_metric();
  const bool larger_is_better = export_config.metric_larger_is_better();
  // Step -> metric value, in order of first appearance; a step logged again
  // takes the later value (as a Python dict keyed by step does upstream).
  std::vector<std::pair<int64_t, double>> step_values;
  std::map<int64_t, size_t> index;
  for (const EvalRecord& record : ReadEvalLog(log_path)) {
    auto value = record.metrics.find(metric);
    if (value == record.metrics.end()) {
      FailConfig(
          "{}:{}: export_config.best_exporter_metric \"{}\" is not in the eval log; "
          "the entry has: {}",
          log_path, record.line, metric, MetricNames(record.metrics));
    }
    if (!value->is_number()) {
      Fail("{}:{}: metric \"{}\" is not a number: {}", log_path, record.line, metric,
           value->dump());
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
  const fs::path path = fs::path(model_dir) / fmt::format("{}{}", checkpoint::kCheckpointPrefix, step);
  if (!IsDirectory(path)) {
    Fail("the best checkpoint by {} ({}={}) is step {}, but {} does not exist", log_path, metric,
         value, step, path.string());
  }
  return CheckpointChoice{
      path.string(), step,
      fmt::format("best {}={} ({} is better) among {} evaluated step(s) in {}", metric, value,
                  larger_is_better ? "larger" : "smaller", step_values.size(), log_path)};
}

CheckpointChoice ChooseCheckpoint(const std::string& model_dir,
                                  const protos::ExportConfig& export_config,
                                  const std::string& checkpoint_path) {
  if (!checkpoint_path.empty()) {
    if (!IsDirectory(checkpoint_path)) {
      Fail("--checkpoint_path {} is not a checkpoint directory", checkpoint_path);
    }
    return CheckpointChoice{checkpoint_path, CheckpointStep(checkpoint_path),
                            "given by --checkpoint_path"};
  }
  const std::string& type = export_config.exporter_type();
  if (type != "latest" && type != "best") {
    FailConfig("export_config.exporter_type \"{}\" is not one of: latest, best", type);
  }
  if (model_dir.empty()) {
    FailConfig("model_dir is not set in the pipeline config and no --checkpoint_path was given");
  }
  std::optional<CheckpointChoice> choice =
      type == "best" ? BestCheckpoint(model_dir, export_config) : LatestCheckpoint(model_dir);
  if (!choice) {
    Fail("no checkpoint in model_dir {}: expected {}<step> directories (train first, or pass "
         "--checkpoint_path)",
         model_dir, checkpoint::kCheckpointPrefix);
  }
  if (!IsDirectory(choice->path)) Fail("checkpoint {} does not exist", choice->path);
  return *choice;
}

}  // namespace tzrec::exporting
