// The shape of each feature group: which features it holds, the width each
// contributes, sequence sub-groups and sequence encoders, and the total width
// the model's first layer sees. Mirrors upstream's EmbeddingGroup dimension
// rules so validation, the config summary and model building agree:
//  - DEEP: member widths are the features' output_dim; each sequence encoder
//    adds its output width (DIN/simple attention/pooling: the sequence width,
//    self attention: multihead_attn_dim, multi-window DIN: sequence width x
//    (windows + 1));
//  - WIDE: every (sparse) member is `wide_embedding_dim` wide;
//  - SEQUENCE / JAGGED_SEQUENCE: non-sequence members form the query,
//    sequence members the sequence; the two widths are reported separately.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "features/feature_info.h"
#include "config/protos/pipeline.pb.h"

namespace tzrec {

struct GroupMember {
  std::string feature;  // FeatureInfo::name
  uint32_t dim = 0;     // width inside this group
  bool is_sequence = false;
};

// A SEQUENCE group, or one sequence_groups entry of a DEEP group.
struct SequenceGroupLayout {
  std::string name;
  std::vector<GroupMember> query;     // non-sequence members
  std::vector<GroupMember> sequence;  // sequence members
  uint32_t query_dim = 0;
  uint32_t sequence_dim = 0;
};

struct SequenceEncoderLayout {
  std::string type;   // SeqEncoderConfig oneof entry, e.g. "din_encoder"
  std::string input;  // sequence group it reads (defaulted as upstream does)
  uint32_t output_dim = 0;
};

struct FeatureGroupLayout {
  std::string name;
  protos::FeatureGroupType type = protos::DEEP;
  std::vector<GroupMember> members;                  // feature_names, in order
  std::vector<SequenceGroupLayout> sequence_groups;  // DEEP: nested; SEQUENCE: the group itself
  std::vector<SequenceEncoderLayout> encoders;       // DEEP groups only
  // DEEP/WIDE: sum of member widths and encoder outputs. SEQUENCE: 0 (a model
  // reads query and sequence separately, see sequence_groups[0]).
  uint32_t total_dim = 0;

  bool is_sequence_group() const {
    return type == protos::SEQUENCE || type == protos::JAGGED_SEQUENCE;
  }
  // Width of each input the model concatenates (upstream group_dims): member
  // widths, then encoder outputs.
  std::vector<uint32_t> dims() const;
};

// Lays out every feature group of config.model_config. Throws ConfigError
// naming the group and feature when a group is malformed: unknown feature,
// dense feature in a WIDE group, sequence_groups without encoders (or the
// reverse), an encoder whose input names no sequence group, a DIN encoder whose
// query is wider than its sequence, duplicate sequence group names.
std::vector<FeatureGroupLayout> LayoutFeatureGroups(const protos::EasyRecConfig& config,
                                                    const std::vector<FeatureInfo>& features);

// Convenience: ListFeatures + LayoutFeatureGroups.
std::vector<FeatureGroupLayout> LayoutFeatureGroups(const protos::EasyRecConfig& config);

const char* FeatureGroupTypeName(protos::FeatureGroupType type);

}  // namespace tzrec
