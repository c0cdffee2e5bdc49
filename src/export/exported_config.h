// The pipeline.config an export writes next to its model: the training config
// with feature_configs replaced by the exported features' own entries, as
// upstream's create_feature_configs does:
//   - one entry per exported feature, in the export's feature order (a match
//     tower's features in its group order, not config order);
//   - sub-features of a grouped sequence gathered into one sequence_feature
//     (sequence_name, sequence_length, sequence_delim and the effective
//     sequence_pk) at the position of its first exported sub-feature;
//   - a feature's asset files (vocab_file) copied beside the model as
//     "<stem>_<md5><ext>"; the entry names the copy and sets asset_dir to the
//     final export directory.
#pragma once

#include <string>
#include <vector>

#include "config/protos/pipeline.pb.h"
#include "features/feature.h"

namespace tzrec::exporting {

// `asset_copy_dir`: the local directory the copies are written to (staging);
// `asset_dir_in_config`: what the entries' asset_dir says (the export dir).
// An Error names a feature that has no entry in `config`.
protos::EasyRecConfig ExportedPipelineConfig(const protos::EasyRecConfig& config,
                                             const std::vector<const Feature*>& features,
                                             const std::string& asset_copy_dir,
                                             const std::string& asset_dir_in_config);

}  // namespace tzrec::exporting
