// Embedding tables as feature groups use them. A sparse feature's table is
// feature.embedding_table(); inside a group it may be renamed: WIDE groups add
// "_wide" and use the model's wide_embedding_dim, and a group's
// embedding_name_suffix adds "_<suffix>". Features whose tables end up with the
// same name share one table, so their sizes must agree.
#pragma once

#include <string>
#include <vector>

#include "config/protos/model.pb.h"
#include "features/feature.h"

namespace tzrec {

// The table `feature` (sparse) reads inside `group`.
EmbeddingTable GroupEmbeddingTable(const Feature& feature, const protos::FeatureGroupConfig& group,
                                   uint32_t wide_embedding_dim);

// A table and the features reading it, in first-use order.
struct SharedEmbeddingTable {
  EmbeddingTable table;
  std::vector<std::string> feature_names;
};

// Adds `feature_name`'s use of `table` to `tables`: a new entry, or the existing
// one of that name (ConfigError when rows, dim, pooling or init_fn differ).
void AddSharedTable(std::vector<SharedEmbeddingTable>& tables, const EmbeddingTable& table,
                    const std::string& feature_name);

}  // namespace tzrec
