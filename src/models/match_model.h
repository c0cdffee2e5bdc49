// Pieces match (two-tower) models share, as upstream's
// tzrec.models.match_model:
//  - the single task: one softmax_cross_entropy loss over the `similarity`
//    output (labels: the diagonal with in-batch negatives, column 0 with a
//    negative sampler), recall_at_k metrics;
//  - the similarity of user and item tower embeddings;
//  - the export towers: `user/` and `item/` models whose forward returns
//    {"user_tower_emb": ...} / {"item_tower_emb": ...} and whose state-dict
//    names are the full model's (model.user_tower....), as upstream's
//    TowerWrapper.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/protos/pipeline.pb.h"
#include "models/model.h"

namespace tzrec::models {

inline constexpr char kSimilarityOutput[] = "similarity";

// ConfigError unless model_config has exactly one loss, softmax_cross_entropy,
// and only recall_at_k metrics (what upstream's MatchModel accepts).
Task MatchTask(const protos::EasyRecConfig& config);

// TorchScript lines (4-space indented) setting `sim` from the [B, D] user
// embeddings `user` and the item embeddings `item`, divided by temperature:
// in-batch negatives: user . item^T ([B, B]); otherwise item holds the B
// positives followed by sampled negatives: [user . positive, user . negatives^T].
std::string SimilaritySource(bool in_batch_negative, double temperature, const std::string& user,
                             const std::string& item);

// The feature group `name` of model_config; ConfigError naming `where` (the
// field that names it, "model_config.mind.user_tower.input") when none is.
const protos::FeatureGroupConfig& FindFeatureGroup(const protos::ModelConfig& model_config,
                                                   const std::string& name, const std::string& where);

// One tower of a match model whose towers own their embedding groups (DSSM,
// MIND, DAT): `module` (forward(data) -> Tensor, the tower embedding) holds
// the group as its child `embedding_group`, laid out by `layout`.
struct MatchTower {
  torch::jit::Module module;
  EmbeddingGroupLayout layout;
};

// The shared end of such a model's builder. The root (class `module_name`)
// gets the towers as children user_tower and item_tower, and a forward that
// runs `embeddings_source` (TorchScript lines setting the [B, D] `user_emb`
// and the `item_emb`), their similarity (SimilaritySource) as the output
// `similarity`, then `extra_outputs_source` (lines adding entries to the dict
// `out`). The Model has the single `task` and both towers' tables, each with
// its layout's storage.
std::unique_ptr<Model> FinishMatchModel(const std::string& type, const std::string& module_name,
                                        const MatchTower& user, const MatchTower& item,
                                        const std::string& embeddings_source, bool in_batch_negative,
                                        double temperature, const std::string& extra_outputs_source,
                                        const Task& task, TableStorage storage);

// The "user" or "item" tower of config's match model as an export model.
// ConfigError for other tower names or model types without towers.
std::unique_ptr<Model> BuildMatchTower(const protos::EasyRecConfig& config,
                                       const std::vector<const Feature*>& features,
                                       const std::string& tower,
                                       const ModelBuildOptions& options = {});

// Wraps the built `tower` ("user" or "item") as child `<tower>_tower` of a
// root whose forward returns {"<tower>_tower_emb": embedding}; its tables
// keep their names in the full model and their layout's storage.
std::unique_ptr<Model> WrapMatchTower(const std::string& model_type, const std::string& tower,
                                      const MatchTower& built, TableStorage storage);

}  // namespace tzrec::models
