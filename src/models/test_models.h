// Shared by the models/train/checkpoint tests: a small DeepFM config and
// synthetic batches for it.
#pragma once

#include <string>

#include "config/protos/pipeline.pb.h"
#include "features/feature_factory.h"
#include "models/model.h"

namespace tzrec::models::testing {

// train_config (adagrad / adam, `num_steps`), data_config (`label_fields`,
// FG_NONE) and the three features below: the head of the small test configs.
std::string SmallFeaturesConfigHead(int num_steps, const std::string& label_fields);

// Two id features (cat_a: 10 buckets, cat_b: 20 buckets, weighted: no, dim 4),
// one raw dense feature (price) and groups wide [cat_a, cat_b], fm [cat_a, cat_b],
// deep [cat_a, cat_b, price]; BCE loss and AUC. `extra_deepfm` is appended
// inside the deepfm block (e.g. a `final { ... }`).
protos::EasyRecConfig SmallDeepFMConfig(const std::string& extra_deepfm = "");

// A batch of `batch_size` rows: cat_a one id per row, cat_b 0-2 ids per row,
// price in [0, 1); label = 1 when cat_a < 5 (flipped with probability `noise`).
struct SyntheticBatch {
  TensorMap inputs;
  at::Tensor labels;  // float [B]
};
SyntheticBatch MakeSyntheticBatch(int64_t batch_size, double noise = 0.1);

}  // namespace tzrec::models::testing
