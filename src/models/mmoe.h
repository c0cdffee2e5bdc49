// MMoE (model_config.mmoe), as upstream's tzrec.models.mmoe.MMoE: the first
// feature group feeds an MMoE module (num_expert expert MLPs, one softmax gate
// per task), and each task tower (optional MLP + Linear) reads its gated
// mixture. Outputs per tower: logits_<tower>, probs_<tower> (or y_<tower>).
#pragma once

#include <memory>

#include "models/model.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildMMoEModel(const ModelContext& context);

}  // namespace tzrec::models
