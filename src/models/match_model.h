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

// The "user" or "item" tower of config's match model as an export model.
// ConfigError for other tower names or model types without towers.
std::unique_ptr<Model> BuildMatchTower(const protos::EasyRecConfig& config,
                                       const std::vector<const Feature*>& features,
                                       const std::string& tower,
                                       const ModelBuildOptions& options = {});

// Wraps `tower_module` (forward(data) -> Tensor[B, D]) as child `<tower>_tower`
// of a root whose forward returns {"<tower>_tower_emb": embedding}.
// `table_paths` are the tower's table weight paths relative to the tower.
std::unique_ptr<Model> WrapMatchTower(const std::string& model_type, const std::string& tower,
                                      const torch::jit::Module& tower_module,
                                      const std::vector<std::string>& table_paths,
                                      TableStorage storage);

}  // namespace tzrec::models
