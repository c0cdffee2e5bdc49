// SimpleMultiTask (model_config.simple_multi_task): every task tower reads the
// first feature group directly; nothing is shared but the embeddings.
//
// Upstream TorchEasyRec declares the SimpleMultiTask config message (and its
// EasyRec config converter writes it) but registers no model class for it, so
// the structure follows EasyRec's SimpleMultiTask, whose configs the converter
// carries over: per task tower an optional MLP and a Linear to num_class,
// over the concatenated first group. Parameter names follow the other
// multi-task models of TorchEasyRec (MMoE, PLE): model._task_tower.<i>.
// tower_mlp.mlp.<j>.perceptron.0.* and model._task_tower.<i>.linear.*.
// Outputs per tower: logits_<tower>, probs_<tower> (or y_<tower>).
#pragma once

#include <memory>

#include "models/model.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildSimpleMultiTask(const ModelContext& context);

}  // namespace tzrec::models
