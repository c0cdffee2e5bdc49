// Builds the feature list from a config's feature_configs, as upstream's
// create_features does: one Feature per entry, a grouped `sequence_feature`
// expanded in place into its sub-features (named "<sequence_name>__<name>").
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <google/protobuf/repeated_ptr_field.h>

#include "config/protos/feature.pb.h"
#include "config/protos/pipeline.pb.h"
#include "features/feature.h"

namespace tzrec {

using FeatureList = std::vector<std::unique_ptr<Feature>>;

// The layout a grouped sequence_feature gives its sub-features (sequence_pk
// defaults to "user:<sequence_name>" as upstream).
SequenceGroup SequenceGroupOf(const protos::SequenceFeature& seq);

// One feature from a FeatureConfig or SeqFeatureConfig entry (`holder`) whose
// `feature` oneof entry is `field`; `group` is the enclosing sequence_feature
// of a grouped sub-feature. nullptr for a type tzrec does not implement.
std::unique_ptr<Feature> MakeFeature(const google::protobuf::Message& holder,
                                     const google::protobuf::FieldDescriptor* field,
                                     const FeatureOptions& options, bool is_sequence,
                                     const std::optional<SequenceGroup>& group);

// Reads vocab_dict order from `feature_configs` itself, so pass the parsed
// config, not a copy made with CopyFrom (protobuf maps forget their order).
// `neg_fields`: a negative sampler's attr_fields; features reading them go to
// the negative data groups. `force_base_data_group` puts every feature back in
// the base group. Types tzrec does not implement (tokenize, custom, bool_mask,
// combine, kv_dot_product, overlap) are a ConfigError naming the feature.
FeatureList CreateFeatures(
    const google::protobuf::RepeatedPtrField<protos::FeatureConfig>& feature_configs,
    const FeatureOptions& options, const std::vector<std::string>& neg_fields = {},
    bool force_base_data_group = false);

// The same, with options taken from data_config the way upstream's training
// and export do (fg_mode, fg_encoded_multival_sep, sampler attr_fields unless
// the sampler is a tdm_sampler, force_base_data_group).
FeatureList CreateFeatures(const protos::EasyRecConfig& config);

// Non-owning view of a feature list, in the same order.
std::vector<const Feature*> FeaturePointers(const FeatureList& features);

// The feature named `name`; ConfigError naming `context` when absent.
const Feature& FindFeature(const std::vector<const Feature*>& features, const std::string& name,
                           const std::string& context);

}  // namespace tzrec
