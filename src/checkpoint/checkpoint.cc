#include "checkpoint/checkpoint.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include "common/error.h"
#include "common/file_writer.h"
#include "common/staging.h"

namespace fs = std::filesystem;

namespace tzrec::checkpoint {

namespace {

// `base` with the tensors `top` also has taken from `top`.
class OverlayReader : public StateReader {
 public:
  OverlayReader(std::unique_ptr<StateReader> base, std::unique_ptr<StateReader> top)
      : StateReader(base->path() + " + " + top->path()), base_(std::move(base)), top_(std::move(top)) {
    for (const TensorEntry& entry : base_->entries()) {
      const TensorEntry* over = top_->Find(entry.name);
      if (over != nullptr && over->shape != entry.shape) {
        Fail("{}: tensor {} has shape {} there but [{}] in {}", top_->path(), entry.name,
             fmt::format("[{}]", fmt::join(over->shape, ", ")), fmt::join(entry.shape, ", "), base_->path());
      }
      AddEntry(over != nullptr ? *over : entry);
    }
  }
  at::Tensor Map(const std::string& name) const override { return Of(name).Map(name); }
  void Release(const std::string& name) const override { Of(name).Release(name); }

 private:
  void ReadRowsOf(const TensorEntry& entry, int64_t begin, int64_t end, void* dest) const override {
    Of(entry.name).ReadRowsInto(entry.name, begin, end, dest);
  }
  const StateReader& Of(const std::string& name) const { return top_->Find(name) ? *top_ : *base_; }

  std::unique_ptr<StateReader> base_;
  std::unique_ptr<StateReader> top_;
};

// "a, b, c" with at most `limit` names, then how many more.
std::string NameList(const std::vector<std::string>& names, size_t limit = 20) {
  std::vector<std::string> shown(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(std::min(limit, names.size())));
  std::string out = fmt::format("{}", fmt::join(shown, ", "));
  if (names.size() > limit) out += fmt::format(" and {} more", names.size() - limit);
  return out;
}

}  // namespace

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

void WriteTensorFile(const std::string& path, const NamedTensors& tensors) {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [name, tensor] : tensors) dict.insert(name, tensor.detach().contiguous());
  std::vector<char> bytes = torch::jit::pickle_save(dict);
  WriteWholeFile(path, std::string_view(bytes.data(), bytes.size()));
}

std::string SaveCheckpoint(const std::string& model_dir, int64_t step, const NamedTensors& model_state,
                           const std::vector<DcpItem>& optimizer_state, uint32_t keep_checkpoint_max) {
  const fs::path final_path = CheckpointPath(model_dir, step);
  // Saves of any step killed before their rename (their process gone), and
  // this step's from before staging names carried a pid.
  RemoveStaleStaging(model_dir, [](const std::string& target) { return CheckpointStep(target).has_value(); });
  std::error_code ec;
  fs::remove_all(final_path.string() + ".tmp", ec);
  const fs::path tmp = StagingPath(final_path.string());
  fs::remove_all(tmp, ec);  // left by a killed run with the same pid
  fs::create_directories(tmp, ec);
  if (ec) Fail("cannot create checkpoint directory {}: {}", tmp.string(), ec.message());
  try {
    std::vector<DcpItem> model;
    for (const auto& [name, tensor] : model_state) model.push_back({name, {}, tensor, {}, {}});
    WriteDcpDirectory((tmp / kModelSubdir).string(), model);
    // Sorted names make the files deterministic.
    std::vector<DcpItem> optimizer = optimizer_state;
    std::sort(optimizer.begin(), optimizer.end(), [](const DcpItem& a, const DcpItem& b) { return a.fqn < b.fqn; });
    WriteDcpDirectory((tmp / kOptimizerSubdir).string(), optimizer);
  } catch (...) {
    // A failed save (a full disk, a file size limit) leaves nothing: earlier
    // checkpoints stay as they were and no partial one is ever listed.
    fs::remove_all(tmp, ec);
    throw;
  }
  fs::remove_all(final_path, ec);
  fs::rename(tmp, final_path, ec);
  if (ec) {
    const std::string reason = ec.message();
    fs::remove_all(tmp, ec);
    Fail("cannot move checkpoint into {}: {}", final_path.string(), reason);
  }
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

std::unique_ptr<StateReader> OpenModelState(const std::string& checkpoint_path, bool use_dense_ema) {
  if (!fs::is_directory(checkpoint_path)) Fail("checkpoint {} does not exist", checkpoint_path);
  if (fs::exists(fs::path(checkpoint_path) / kDynamicEmbSubdir)) {
    // Those tables are not in model/: an export without them would be wrong.
    Fail("checkpoint {} keeps tables in {}/ (NVIDIA dynamic-embedding dumps), which tzrec does not read",
         checkpoint_path, kDynamicEmbSubdir);
  }
  std::unique_ptr<StateReader> model = OpenStateDir(checkpoint_path, kModelSubdir);
  if (!model) Fail("checkpoint {} has no {}/ directory", checkpoint_path, kModelSubdir);
  if (!use_dense_ema) return model;
  std::unique_ptr<StateReader> ema = OpenStateDir(checkpoint_path, kDenseEmaSubdir);
  if (!ema) {
    // As upstream: without dense_ema/ the model's own parameters are used.
    spdlog::warn("checkpoint {} has no {}/ (use_dense_ema): using the model's own dense parameters",
                 checkpoint_path, kDenseEmaSubdir);
    return model;
  }
  spdlog::info("dense parameters from {}/ (use_dense_ema)", kDenseEmaSubdir);
  return std::make_unique<OverlayReader>(std::move(model), std::move(ema));
}

models::TensorMap ReadModelState(const std::string& checkpoint_path) {
  return OpenModelState(checkpoint_path)->ReadAll();
}

models::TensorMap ReadOptimizerState(const std::string& checkpoint_path) {
  const std::unique_ptr<StateReader> reader = OpenStateDir(checkpoint_path, kOptimizerSubdir);
  return reader ? reader->ReadAll() : models::TensorMap{};
}

void RestoreModel(models::Model& model, const StateReader& state, const std::string& source, bool allow_extra) {
  std::vector<std::string> missing;
  std::set<std::string> wanted;
  for (const auto& [name, tensor] : model.StateDict()) {
    wanted.insert(name);
    if (state.Find(name) == nullptr) missing.push_back(name);
  }
  if (!missing.empty()) {
    Fail("{}: {} tensor(s) of the model are missing: {}", source, missing.size(), NameList(missing));
  }
  if (!allow_extra) {
    std::vector<std::string> extra;
    for (const TensorEntry& entry : state.entries()) {
      if (!wanted.count(entry.name)) extra.push_back(entry.name);
    }
    if (!extra.empty()) {
      Fail("{}: {} tensor(s) are not in the model: {}", source, extra.size(), NameList(extra));
    }
  }
  // Each tensor is viewed straight from the file mapping, copied (or packed)
  // into the model, and its pages dropped.
  model.LoadStateDict([&state](const std::string& name) { return state.Map(name); }, source,
                      [&state](const std::string& name) { state.Release(name); });
}

void RestoreModel(models::Model& model, const std::string& checkpoint_path, const RestoreOptions& options) {
  const std::unique_ptr<StateReader> state = OpenModelState(checkpoint_path, options.use_dense_ema);
  RestoreModel(model, *state, "checkpoint " + checkpoint_path, options.allow_extra);
}

}  // namespace tzrec::checkpoint
