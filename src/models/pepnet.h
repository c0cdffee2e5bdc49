// PEPNet (model_config.pepnet), as upstream's tzrec.models.pepnet.PEPNet:
// the feature group "all" (required) is the main input; with a "domain"
// group an EPNet rescales it per domain (model.epnet.*), with a "uia" group a
// PPNet turns it into one personalised input per task (model.ppnet.*);
// task towers (model._task_tower.<k>: optional MLP + Linear) read the result.
//
// With domain_input_name (a label field holding a domain index), every task
// has task_domain_num towers, k = task * task_domain_num + domain, and the
// outputs are per domain: logits_<tower>_<d>, probs_<tower>_<d>. Training and
// evaluation score the row's own domain, as upstream's loss and metrics pick
// it: when the batch holds that label, forward also writes logits_<tower>,
// probs_<tower> gathered by it (what the tasks' losses and metrics read). The
// exported model never receives labels, so it predicts every domain.
#pragma once

#include <memory>

#include "models/model.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildPEPNet(const ModelContext& context);

}  // namespace tzrec::models
