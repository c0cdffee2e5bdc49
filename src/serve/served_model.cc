#include "serve/served_model.h"

#include <algorithm>
#include <set>

#include <faiss/IndexIVF.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "data/data_parser.h"
#include "features/feature_factory.h"

namespace tzrec::serve {

ServedModel::ServedModel(std::unique_ptr<artifacts::ExportedModel> exported, Options options)
    : exported_(std::move(exported)), options_(std::move(options)) {
  PlanTiling();
  for (int i = 0; i < std::max(1, options_.fg_engines); ++i) {
    auto engines = std::make_unique<Engines>();
    engines->all = std::make_unique<fg::FgEngine>(exported_->NewFgEngine());
    if (!user_specs_.empty()) {
      engines->user = std::make_unique<fg::FgEngine>(user_specs_, exported_->fg_options());
      engines->item = std::make_unique<fg::FgEngine>(item_specs_, exported_->fg_options());
    }
    idle_engines_.push_back(std::move(engines));
  }
}

void ServedModel::PlanTiling() {
  if (!exported_->input_tile()) return;
  for (const fg::FeatureSpec& spec : exported_->fg_specs()) {
    for (const fg::InputRef& input : spec.inputs) {
      if (input.side == "feature") return;  // a DAG: served row by row
    }
  }
  const FeatureList features = CreateFeatures(exported_->config());
  std::set<std::string> user;
  for (const auto& feature : features) {
    if (feature->is_user_feature()) user.insert(feature->name());
  }
  for (const fg::FeatureSpec& spec : exported_->fg_specs()) {
    (user.count(spec.name) ? user_specs_ : item_specs_).push_back(spec);
  }
  if (item_specs_.empty()) user_specs_.clear();
}

bool ServedModel::Tiles(const pairec::PBRequest& request) const {
  if (user_specs_.empty() || request.debug_level() > 0) return false;
  for (const fg::FeatureSpec& spec : user_specs_) {
    for (const fg::InputRef& input : spec.inputs) {
      if (request.item_features().count(input.column) || request.context_features().count(input.column)) {
        return false;
      }
    }
  }
  return true;
}

pairec::PBRequest ServedModel::UserRow(const pairec::PBRequest& request) {
  pairec::PBRequest user;
  *user.mutable_user_features() = request.user_features();
  *user.mutable_context_features() = request.context_features();
  user.add_item_ids("user");
  return user;
}

std::unique_ptr<ServedModel> ServedModel::Load(const std::string& dir, const Options& options) {
  auto exported = artifacts::ExportedModel::Load(dir, {true, "scripted_model_path"});
  std::unique_ptr<ServedModel> model(new ServedModel(std::move(exported), options));
  if (!options.item_feature_path.empty()) {
    if (options.item_id_field.empty()) {
      FailConfig("--item_feature_path needs --item_id_field (the column holding item ids)");
    }
    model->item_table_ = ItemTable::Load(options.item_feature_path, options.item_id_field,
                                         model->idle_engines_.front()->all->input_columns());
  }
  // Warm-up: the first forward of a scripted model compiles its graph; a
  // request should not pay for it. It also tells the model's outputs.
  for (const auto& entry : model->exported_->Run(model->WarmUpInputs())) {
    model->output_names_.push_back(entry.key());
    const auto sizes = entry.value().sizes();
    model->output_item_shapes_.emplace_back(sizes.begin() + std::min<size_t>(1, sizes.size()),
                                            sizes.end());
  }
  if (!options.faiss_index_dir.empty()) model->LoadIndex(options);
  for (const std::string& name : options.outputs) {
    if (std::find(model->output_names_.begin(), model->output_names_.end(), name) ==
        model->output_names_.end()) {
      FailConfig("--outputs: the model has no output '{}' (its outputs: {})", name,
                 fmt::join(model->output_names_, ", "));
    }
  }
  model->batcher_ = std::make_unique<Batcher>(
      [exported = model->exported_.get()](const models::TensorMap& batch) {
        return exported->Run(batch);
      },
      options.batching);
  return model;
}

ServedModel::EngineLease::EngineLease(ServedModel& model) : model_(model) {
  std::unique_lock<std::mutex> lock(model_.engines_mutex_);
  model_.engine_returned_.wait(lock, [&] { return !model_.idle_engines_.empty(); });
  engines_ = std::move(model_.idle_engines_.back());
  model_.idle_engines_.pop_back();
}

ServedModel::EngineLease::~EngineLease() {
  std::lock_guard<std::mutex> lock(model_.engines_mutex_);
  model_.idle_engines_.push_back(std::move(engines_));
  model_.engine_returned_.notify_one();
}

models::TensorMap ServedModel::WarmUpInputs() {
  const fg::FgEngine& engine = *idle_engines_.front()->all;
  // Every input empty (FG's defaults); FG-encoded dense inputs without a
  // default refuse an empty cell, so then every input "0".
  std::string first_error;
  for (const char* value : {"", "0"}) {
    fg::OwnedInputBatch row(1);
    for (const std::string& column : engine.input_columns()) row.Add(column, {value});
    try {
      models::TensorMap inputs;
      data::AddFeatureTensors(engine.Process(row.View()), inputs);
      return inputs;
    } catch (const Error& e) {
      if (first_error.empty()) first_error = e.what();
    }
  }
  Fail("{}: cannot make a warm-up row for its fg.json: {}", dir(), first_error);
}

void ServedModel::LoadIndex(const Options& options) {
  index_ = predict::ReadItemIndex(options.faiss_index_dir);
  if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(index_.index.get()); ivf != nullptr) {
    ivf->nprobe = static_cast<size_t>(std::max(1, options.faiss_nprobe));
  }
  // The user embedding: the output one index row wide.
  for (size_t o = 0; o < output_names_.size(); ++o) {
    if (output_item_shapes_[o] == std::vector<int64_t>{index_.index->d}) {
      embedding_output_ = output_names_[o];
      return;
    }
  }
  FailConfig("--faiss_index_dir {}: the index holds vectors of {} values, and no output of {} "
             "has that width (its outputs: {}); serve a match model's user/ export",
             options.faiss_index_dir, index_.index->d, dir(), fmt::join(output_names_, ", "));
}

bool ServedModel::Wanted(const std::string& name) const {
  return options_.outputs.empty() ||
         std::find(options_.outputs.begin(), options_.outputs.end(), name) != options_.outputs.end();
}

models::TensorMap ServedModel::RunFg(const fg::FgEngine& engine, const pairec::PBRequest& request,
                                     const ItemTable* item_table, std::vector<int>& scored,
                                     pairec::PBResponse* debug) {
  models::TensorMap inputs;
  try {
    RequestRows rows = ToRows(request, engine.input_columns(), item_table);
    scored = std::move(rows.items);
    if (scored.empty()) return inputs;
    fg::InputBatch view = rows.rows.View();
    view.describe_row = [&](int64_t row) {
      return fmt::format("item '{}'", request.item_ids(scored[static_cast<size_t>(row)]));
    };
    const fg::FeatureBatch features = engine.Process(view);
    if (!features.skipped_rows.empty()) {
      throw BadRequest(fmt::format(
          "item '{}' has a feature value FG cannot read",
          request.item_ids(scored[static_cast<size_t>(features.skipped_rows[0])])));
    }
    data::AddFeatureTensors(features, inputs);
    if (debug != nullptr) AddDebugFeatures(request, scored, view, features, *debug);
  } catch (const Error& e) {
    // A value FG cannot parse is the caller's: a bad request, not a fault.
    throw BadRequest(e.what());
  }
  return inputs;
}

void ServedModel::AddDebugFeatures(const pairec::PBRequest& request, const std::vector<int>& scored,
                                   const fg::InputBatch& raw, const fg::FeatureBatch& features,
                                   pairec::PBResponse& response) {
  std::vector<nlohmann::ordered_json> raw_rows(scored.size()), generated_rows(scored.size());
  std::vector<std::string> names;
  for (const auto& entry : raw.columns) names.push_back(entry.first);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    const fg::StridedColumn& column = raw.columns.at(name);
    for (size_t r = 0; r < scored.size(); ++r) {
      raw_rows[r][name] = std::string(column[static_cast<int64_t>(r)]);
    }
  }
  for (const fg::FeatureColumn& column : features.features) {
    const std::vector<std::string> texts = fg::RowTexts(column, features.num_rows);
    for (size_t r = 0; r < scored.size(); ++r) generated_rows[r][column.name] = texts[r];
  }
  for (size_t r = 0; r < scored.size(); ++r) {
    const std::string& item = request.item_ids(scored[r]);
    (*response.mutable_raw_features())[item] = raw_rows[r].dump();
    (*response.mutable_generate_features())[item] = generated_rows[r].dump();
  }
}

pairec::PBResponse ServedModel::Predict(const pairec::PBRequest& request) {
  if (index_.index != nullptr) return Retrieve(request);
  const int items = request.item_ids_size();
  if (items == 0) throw BadRequest("the request has no item_ids");
  if (items > options_.max_items) {
    throw BadRequest(fmt::format("the request has {} item_ids; at most {} are taken (--max_items)",
                                 items, options_.max_items));
  }
  std::vector<int> scored;  // request index of each row the model scores
  pairec::PBResponse response;
  c10::Dict<std::string, at::Tensor> outputs;
  models::TensorMap inputs;
  const bool tiled = Tiles(request);
  {
    // One set of engines for the request's FG, given back before the model runs.
    EngineLease engines(*this);
    if (tiled) {
      // INPUT_TILE: the user side through FG once; the model tiles it to
      // the items.
      std::vector<int> user_row;
      inputs = RunFg(*engines->user, UserRow(request), nullptr, user_row);
      models::TensorMap item_inputs = RunFg(*engines->item, request, item_table_.get(), scored);
      inputs.insert(item_inputs.begin(), item_inputs.end());
      inputs["batch_size"] = at::scalar_tensor(static_cast<int64_t>(scored.size()), at::kLong);
    } else {
      inputs = RunFg(*engines->all, request, item_table_.get(), scored,
                     request.debug_level() >= 1 ? &response : nullptr);
    }
  }
  if (!scored.empty()) {
    // A tiled request takes a call of its own: its batch is its items.
    outputs = batcher_->Run(std::move(inputs), static_cast<int64_t>(scored.size()), !tiled);
  }
  const bool all_scored = static_cast<int>(scored.size()) == items;
  const at::Tensor scored_index =
      at::tensor(std::vector<int64_t>(scored.begin(), scored.end()), at::kLong);
  for (size_t o = 0; o < output_names_.size(); ++o) {
    const std::string& name = output_names_[o];
    if (!Wanted(name)) continue;
    at::Tensor values;
    if (all_scored) {
      values = outputs.at(name);
    } else {
      // Items the item table lacks score item_empty_score, in every output.
      std::vector<int64_t> shape = {items};
      shape.insert(shape.end(), output_item_shapes_[o].begin(), output_item_shapes_[o].end());
      values = at::full(shape, options_.item_empty_score, at::kFloat);
      if (!scored.empty()) values.index_copy_(0, scored_index, outputs.at(name).to(at::kFloat));
    }
    (*response.mutable_map_outputs())[name] = TensorToArray(values);
  }
  *response.mutable_item_ids() = request.item_ids();
  return response;
}

pairec::PBResponse ServedModel::Retrieve(const pairec::PBRequest& request) {
  const int64_t wanted =
      request.faiss_neigh_num() > 0 ? request.faiss_neigh_num() : options_.faiss_neigh_num;
  // At most --max_items neighbours, as a scoring request has at most that many.
  const int64_t k = std::min<int64_t>({wanted, index_.index->ntotal, options_.max_items});
  if (k <= 0) throw BadRequest(fmt::format("faiss_neigh_num {}: ask for at least one neighbour", wanted));
  // The user's row: the request's user (and context) features, no items.
  std::vector<int> scored;
  models::TensorMap inputs;
  {
    EngineLease engines(*this);
    inputs = RunFg(*engines->all, UserRow(request), nullptr, scored);
  }
  const ModelOutputs outputs = batcher_->Run(std::move(inputs), 1, true);
  const at::Tensor embedding = outputs.at(embedding_output_).to(at::kFloat).contiguous();
  std::vector<float> distances(static_cast<size_t>(k));
  std::vector<faiss::Index::idx_t> labels(static_cast<size_t>(k));
  index_.index->search(1, embedding.data_ptr<float>(), k, distances.data(), labels.data());
  pairec::PBResponse response;
  eas::ArrayProto scores;
  scores.set_dtype(eas::DT_FLOAT);
  for (int64_t i = 0; i < k; ++i) {
    if (labels[static_cast<size_t>(i)] < 0) continue;  // fewer neighbours found
    response.add_item_ids(index_.ids[static_cast<size_t>(labels[static_cast<size_t>(i)])]);
    scores.add_float_val(distances[static_cast<size_t>(i)]);
  }
  scores.mutable_array_shape()->add_dim(scores.float_val_size());
  (*response.mutable_map_outputs())["scores"] = std::move(scores);
  return response;
}

eas::PredictResponse ServedModel::Predict(const TensorRequest& request) {
  c10::Dict<std::string, at::Tensor> outputs;
  try {
    outputs = batcher_->Run(request.inputs, 0, false);
  } catch (const Error& e) {
    // A missing input or tensors the graph cannot take: the caller's to fix.
    throw BadRequest(e.what());
  }
  eas::PredictResponse response;
  int index = 0;
  for (const auto& entry : outputs) {
    const bool filtered =
        !request.output_filter.empty() &&
        std::find(request.output_filter.begin(), request.output_filter.end(), index) ==
            request.output_filter.end();
    ++index;
    if (filtered || !Wanted(entry.key())) continue;
    (*response.mutable_map_outputs())[entry.key()] = TensorToArray(entry.value());
  }
  return response;
}

}  // namespace tzrec::serve
