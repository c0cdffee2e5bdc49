#include "features/embedding_tables.h"

#include <algorithm>

#include "common/error.h"

namespace tzrec {

EmbeddingTable GroupEmbeddingTable(const Feature& feature, const protos::FeatureGroupConfig& group,
                                   uint32_t wide_embedding_dim) {
  EmbeddingTable table = feature.embedding_table();
  if (group.group_type() == protos::WIDE) {
    table.name += "_wide";
    table.embedding_dim = wide_embedding_dim;
  }
  if (!group.embedding_name_suffix().empty()) table.name += "_" + group.embedding_name_suffix();
  return table;
}

void AddSharedTable(std::vector<SharedEmbeddingTable>& tables, const EmbeddingTable& table,
                    const std::string& feature_name) {
  auto it = std::find_if(tables.begin(), tables.end(),
                         [&](const SharedEmbeddingTable& t) { return t.table.name == table.name; });
  if (it == tables.end()) {
    tables.push_back({table, {feature_name}});
    return;
  }
  const EmbeddingTable& existing = it->table;
  if (existing.num_embeddings != table.num_embeddings ||
      existing.embedding_dim != table.embedding_dim || existing.pooling != table.pooling ||
      existing.init_fn != table.init_fn) {
    FailConfig("feature '{}' can not share embedding '{}' with '{}': rows/dim/pooling/init_fn "
               "{}/{}/{}/'{}' vs {}/{}/{}/'{}'",
               feature_name, table.name, it->feature_names.front(), table.num_embeddings,
               table.embedding_dim, PoolingName(table.pooling), table.init_fn,
               existing.num_embeddings, existing.embedding_dim, PoolingName(existing.pooling),
               existing.init_fn);
  }
  if (std::find(it->feature_names.begin(), it->feature_names.end(), feature_name) ==
      it->feature_names.end()) {
    it->feature_names.push_back(feature_name);
  }
}

}  // namespace tzrec
