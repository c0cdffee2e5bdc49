// DBMTL (model_config.dbmtl), as upstream's tzrec.models.dbmtl.DBMTL: the
// first feature group, through an optional bottom_mlp and an optional MMoE
// (expert_mlp, gate_mlp, num_expert), feeds one BayesTaskTower per task:
//   task_mlps.<tower>      optional MLP over the task's input
//   relation_mlps.<tower>  with relation_mlp: MLP over cat[own tower net,
//                          each relation tower's net], where a tower's net is
//                          its relation MLP output if it has one, else its
//                          task MLP output (or its input)
//   task_outputs.<i>       Linear to num_class logits
// Relation towers must come earlier in task_towers (their nets are needed
// first). mask_net is not supported yet.
#pragma once

#include <memory>

#include "models/model.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildDBMTL(const ModelContext& context);

}  // namespace tzrec::models
