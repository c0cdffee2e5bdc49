// PLE (model_config.ple), as upstream's tzrec.models.ple.PLE: the first
// feature group is every task's and the shared input of the first
// extraction network; each extraction network (_extraction_nets.<l>, see
// modules/extraction_net.h) maps per-task and shared inputs to the next
// layer's; the last one's per-task outputs feed the task towers
// (_task_tower.<i>: optional MLP + Linear).
#pragma once

#include <memory>

#include "models/model.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildPLE(const ModelContext& context);

}  // namespace tzrec::models
