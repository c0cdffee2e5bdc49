#include "models/test_models.h"

#include <fmt/format.h>

#include "config/pipeline_config.h"

namespace tzrec::models::testing {

std::string SmallFeaturesConfigHead(int num_steps, const std::string& label_fields) {
  return fmt::format(R"(
train_config {{
  sparse_optimizer {{ adagrad_optimizer {{ lr: 0.1 }} constant_learning_rate {{}} }}
  dense_optimizer {{ adam_optimizer {{ lr: 0.01 }} constant_learning_rate {{}} }}
  num_steps: {}
}}
data_config {{ batch_size: 256 {} fg_mode: FG_NONE with_header: true }}
feature_configs {{ id_feature {{ feature_name: "cat_a" expression: "user:cat_a" hash_bucket_size: 10 embedding_dim: 4 }} }}
feature_configs {{ id_feature {{ feature_name: "cat_b" expression: "item:cat_b" hash_bucket_size: 20 embedding_dim: 4 pooling: "mean" }} }}
feature_configs {{ raw_feature {{ feature_name: "price" expression: "item:price" }} }}
)", num_steps, label_fields);
}

protos::EasyRecConfig SmallDeepFMConfig(const std::string& extra_deepfm) {
  std::string text = SmallFeaturesConfigHead(300, R"(label_fields: "label")") + R"(
model_config {
  feature_groups { group_name: "wide" feature_names: "cat_a" feature_names: "cat_b" group_type: WIDE }
  feature_groups { group_name: "fm" feature_names: "cat_a" feature_names: "cat_b" group_type: DEEP }
  feature_groups { group_name: "deep" feature_names: "cat_a" feature_names: "cat_b" feature_names: "price" group_type: DEEP }
  deepfm { deep { hidden_units: [16, 8] } )" + extra_deepfm + R"( }
  metrics { auc {} }
  losses { binary_cross_entropy {} }
}
)";
  return ParsePipelineConfigText(text, "small_deepfm.config");
}

SyntheticBatch MakeSyntheticBatch(int64_t batch_size, double noise) {
  SyntheticBatch batch;
  at::Tensor a = at::randint(0, 10, {batch_size}, at::kLong);
  at::Tensor b_lengths = at::randint(0, 3, {batch_size}, at::kLong);
  at::Tensor b_values = at::randint(0, 20, {b_lengths.sum().item<int64_t>()}, at::kLong);
  batch.inputs["cat_a.values"] = a;
  batch.inputs["cat_a.lengths"] = at::ones({batch_size}, at::kLong);
  batch.inputs["cat_b.values"] = b_values;
  batch.inputs["cat_b.lengths"] = b_lengths;
  batch.inputs["price.values"] = at::rand({batch_size, 1});
  at::Tensor label = (a < 5).to(at::kFloat);
  at::Tensor flip = (at::rand({batch_size}) < noise).to(at::kFloat);
  batch.labels = (label + flip).remainder(2.0);
  return batch;
}

}  // namespace tzrec::models::testing
