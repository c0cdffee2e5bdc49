// A flat, read-only view of the features a pipeline.config declares, with the
// names and widths models see. Grouped sequence_feature blocks are expanded
// into one entry per sub-feature, named `<sequence_name>__<feature_name>` as
// upstream does (non-RTP naming).
//
// Validation and the config summary read it; sparsity and widths come from the
// feature classes themselves (feature.h), so they agree with what the model
// builds. Types tzrec does not implement are described by a best guess.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <google/protobuf/message.h>

#include "config/protos/pipeline.pb.h"

namespace tzrec {

// Separator between a grouped sequence's name and its sub-feature's name.
inline constexpr char kGroupedSequenceSeparator[] = "__";

struct FeatureInfo {
  std::string name;           // what feature groups refer to
  std::string feature_name;   // the config's feature_name (empty when missing)
  std::string type;           // FeatureConfig oneof entry, e.g. "id_feature",
                              // "sequence_raw_feature"; for a grouped sub-feature
                              // the SeqFeatureConfig entry ("id_feature")
  std::string sequence_name;  // enclosing sequence_feature, empty otherwise
  bool is_sequence = false;   // sequence_* type or grouped sub-feature
  bool is_sparse = false;     // looked up in an embedding table
  bool has_dense_embedding = false;  // dense value embedded (autodis / mlp)
  uint32_t embedding_dim = 0;  // as configured (0 when unset)
  uint32_t value_dim = 0;      // effective value dimension
  uint32_t output_dim = 0;     // width after embedding, as a model sees it
  int config_index = -1;       // index in EasyRecConfig.feature_configs
  int sub_index = -1;          // index in sequence_feature.features, or -1
  // The typed feature message (IdFeature, RawFeature, ...), owned by the config.
  const google::protobuf::Message* config = nullptr;

  bool has_embedding() const { return is_sparse || has_dense_embedding; }
  // "sequence_feature 'click_seq' > id_feature" or "id_feature": for messages.
  std::string DescribeType() const;
};

// Every feature in config order, grouped sub-features expanded in place.
// Entries without a feature type set get type "" (validation reports them).
std::vector<FeatureInfo> ListFeatures(const protos::EasyRecConfig& config);

}  // namespace tzrec
