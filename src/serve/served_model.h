// One export as the server runs it: the loaded model (artifacts/), a pool of
// FG engines (one per concurrent request: engines keep scratch), and the two
// ways in: a PBRequest (FG mode: raw features, FG, model) and a tensor request
// (bypass mode: the model's inputs as sent). FG runs in the request threads,
// in parallel; the model runs on the batcher's thread, concurrent FG-mode
// requests sharing a call.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "artifacts/exported_model.h"
#include "predict/faiss_index.h"
#include "serve/batcher.h"
#include "serve/request_codec.h"

namespace tzrec::serve {

class ServedModel {
 public:
  struct Options {
    // Output names to return (empty: all the model returns).
    std::vector<std::string> outputs;
    // FG engines: requests running FG at the same time.
    int fg_engines = 2;
    // Most items one request may ask to score.
    int max_items = 10000;
    // Item features by id for requests that send only item ids (item_table.h):
    // files, and the column holding the id. Empty: no table.
    std::string item_feature_path;
    std::string item_id_field;
    // The score of an item id the item table lacks, in every output.
    float item_empty_score = 0;
    // How concurrent requests share model calls (batcher.h).
    Batcher::Options batching;
    // Retrieval (a match model's user/ export): the index `tzrec
    // create_faiss_index` wrote; a request gets the nearest items to its
    // user's embedding (faiss_neigh_num of them, else this many).
    std::string faiss_index_dir;
    int faiss_neigh_num = 10;
    int faiss_nprobe = 10;  // lists an IVF index searches
  };

  // Loads a published export (manifest.h) from `dir` and runs one request
  // of a single default-valued row through FG and the model (warm-up), which
  // also checks that every name in options.outputs is an output of the model.
  static std::unique_ptr<ServedModel> Load(const std::string& dir, const Options& options);

  // FG mode: one score per item for each output, item_ids echoed; with a
  // FAISS index, the nearest items' ids and their "scores".
  pairec::PBResponse Predict(const pairec::PBRequest& request);
  // Bypass mode: the model's outputs for the given inputs.
  eas::PredictResponse Predict(const TensorRequest& request);

  const std::string& dir() const { return exported_->dir(); }
  Batcher::Stats batch_stats() const { return batcher_->stats(); }
  // Names of the model's outputs, in the order the model returns them.
  const std::vector<std::string>& output_names() const { return output_names_; }

 private:
  // One request's FG engines (engines keep scratch): all features, and for
  // INPUT_TILE exports the user features (once per request) and the item
  // features (once per item) apart.
  struct Engines {
    std::unique_ptr<fg::FgEngine> all, user, item;
  };
  // Idle engines, taken for one request's FG and given back after it.
  class EngineLease {
   public:
    explicit EngineLease(ServedModel& model);
    ~EngineLease();
    const Engines* operator->() const { return engines_.get(); }

   private:
    ServedModel& model_;
    std::unique_ptr<Engines> engines_;
  };

  explicit ServedModel(std::unique_ptr<artifacts::ExportedModel> exported, Options options);

  // `engine` on the request's rows (ToRows); `scored` gets the request
  // index of each row; `debug` (debug_level >= 1) gets each row's FG inputs
  // and outputs. BadRequest for a value FG cannot read.
  static models::TensorMap RunFg(const fg::FgEngine& engine, const pairec::PBRequest& request,
                                 const ItemTable* item_table, std::vector<int>& scored,
                                 pairec::PBResponse* debug = nullptr);
  // INPUT_TILE exports (model_acc.json): the user features FG reads once per
  // request; empty when the export is not tiled or its FG is a DAG (a user
  // feature may read item features' outputs there).
  void PlanTiling();
  // The request can take the tiled path: its user features come from
  // user_features only (not per item), and it asks for no debug output.
  bool Tiles(const pairec::PBRequest& request) const;
  // The request's user as a one-item request: its user and context
  // features, without copying its items.
  static pairec::PBRequest UserRow(const pairec::PBRequest& request);
  // raw_features / generate_features: by item id, a JSON object of the
  // item's FG input columns / FG outputs (ids or values joined by ",", a
  // sequence's elements by ";").
  static void AddDebugFeatures(const pairec::PBRequest& request, const std::vector<int>& scored,
                               const fg::InputBatch& raw, const fg::FeatureBatch& features,
                               pairec::PBResponse& response);
  pairec::PBResponse Retrieve(const pairec::PBRequest& request);
  // One row for the warm-up run: FG defaults, else zeros.
  models::TensorMap WarmUpInputs();
  void LoadIndex(const Options& options);
  // Whether output `name` goes into responses.
  bool Wanted(const std::string& name) const;

  std::unique_ptr<artifacts::ExportedModel> exported_;
  Options options_;
  std::vector<std::string> output_names_;
  // Each output's shape past the batch dimension (from the warm-up run).
  std::vector<std::vector<int64_t>> output_item_shapes_;
  std::unique_ptr<ItemTable> item_table_;
  predict::ItemIndex index_;      // retrieval; empty index: scoring
  std::string embedding_output_;  // the user embedding the index is searched with
  // Runs the model, on its own thread, for every request (after warm-up).
  std::unique_ptr<Batcher> batcher_;

  // Idle FG engines; a request takes one and gives it back.
  std::mutex engines_mutex_;
  std::condition_variable engine_returned_;
  std::vector<std::unique_ptr<Engines>> idle_engines_;
  std::vector<fg::FeatureSpec> user_specs_, item_specs_;  // INPUT_TILE only
};

}  // namespace tzrec::serve
