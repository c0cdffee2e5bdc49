#include "checkpoint/checkpoint.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <spdlog/spdlog.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include "common/error.h"

namespace fs = std::filesystem;

namespace tzrec::checkpoint {

std::string CheckpointPath(const std::string& model_dir, int64_t step) {
  return (fs::path(model_dir) / (kCheckpointPrefix + std::to_string(step))).string();
}

std::optional<int64_t> CheckpointStep(const std::string& path) {
  std::string name = fs::path(path).filename().string();
  if (name.empty()) name = fs::path(path).parent_path().filename().string();  // trailing '/'
  const std::string prefix = kCheckpointPrefix;
  if (name.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  std::string digits = name.substr(prefix.size());
  if (digits.empty() || digits.size() > 18 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  return std::stoll(digits);
}

std::vector<std::pair<int64_t, std::string>> ListCheckpoints(const std::string& model_dir) {
  std::vector<std::pair<int64_t, std::string>> out;
  std::error_code ec;
  if (!fs::is_directory(model_dir, ec)) return out;
  for (const auto& entry : fs::directory_iterator(model_dir, ec)) {
    if (!entry.is_directory()) continue;
    if (auto step = CheckpointStep(entry.path().string())) out.emplace_back(*step, entry.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<std::string> LatestCheckpoint(const std::string& model_dir) {
  if (model_dir.find(kCheckpointPrefix) != std::string::npos) return model_dir;
  auto all = ListCheckpoints(model_dir);
  if (all.empty()) return std::nullopt;
  return all.back().second;
}

void WriteTensorFile(const std::string& path, const NamedTensors& tensors) {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [name, tensor] : tensors) dict.insert(name, tensor.detach().contiguous());
  std::vector<char> bytes = torch::jit::pickle_save(dict);
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) Fail("cannot write {}", path);
}

models::TensorMap ReadTensorFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail("cannot read {}: no such file", path);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  c10::IValue value;
  try {
    value = torch::jit::pickle_load(bytes);
  } catch (const std::exception& e) {
    Fail("cannot read {}: not a PyTorch tensor file ({})", path,
         std::string(e.what()).substr(0, std::string(e.what()).find('\n')));
  }
  if (!value.isGenericDict()) Fail("cannot read {}: expected a dict of tensors", path);
  models::TensorMap out;
  for (const auto& item : value.toGenericDict()) {
    if (!item.key().isString() || !item.value().isTensor()) {
      Fail("cannot read {}: expected a dict of str -> tensor", path);
    }
    out[item.key().toStringRef()] = item.value().toTensor();
  }
  return out;
}

std::string SaveCheckpoint(const std::string& model_dir, int64_t step, const NamedTensors& model_state,
                           const models::TensorMap& optimizer_state, uint32_t keep_checkpoint_max) {
  const fs::path final_path = CheckpointPath(model_dir, step);
  const fs::path tmp = final_path.string() + ".tmp";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp / kModelSubdir, ec);
  fs::create_directories(tmp / kOptimizerSubdir, ec);
  if (ec) Fail("cannot create checkpoint directory {}: {}", tmp.string(), ec.message());
  WriteTensorFile((tmp / kModelSubdir / kStateFile).string(), model_state);
  // Sorted names make the file deterministic.
  NamedTensors optimizer(optimizer_state.begin(), optimizer_state.end());
  std::sort(optimizer.begin(), optimizer.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  WriteTensorFile((tmp / kOptimizerSubdir / kStateFile).string(), optimizer);
  fs::remove_all(final_path, ec);
  fs::rename(tmp, final_path, ec);
  if (ec) Fail("cannot move checkpoint into {}: {}", final_path.string(), ec.message());
  spdlog::info("saved checkpoint {}", final_path.string());
  PruneCheckpoints(model_dir, keep_checkpoint_max);
  return final_path.string();
}

void PruneCheckpoints(const std::string& model_dir, uint32_t keep) {
  if (keep == 0) return;
  auto all = ListCheckpoints(model_dir);
  for (size_t i = 0; i + keep < all.size(); ++i) {
    std::error_code ec;
    fs::remove_all(all[i].second, ec);
    if (ec) spdlog::warn("cannot remove old checkpoint {}: {}", all[i].second, ec.message());
  }
}

models::TensorMap ReadModelState(const std::string& checkpoint_path) {
  if (!fs::is_directory(checkpoint_path)) Fail("checkpoint {} does not exist", checkpoint_path);
  return ReadTensorFile((fs::path(checkpoint_path) / kModelSubdir / kStateFile).string());
}

models::TensorMap ReadOptimizerState(const std::string& checkpoint_path) {
  const fs::path path = fs::path(checkpoint_path) / kOptimizerSubdir / kStateFile;
  if (!fs::exists(path)) return {};
  return ReadTensorFile(path.string());
}

void RestoreModel(models::Model& model, const std::string& checkpoint_path) {
  model.LoadStateDict(ReadModelState(checkpoint_path), "checkpoint " + checkpoint_path);
}

}  // namespace tzrec::checkpoint
