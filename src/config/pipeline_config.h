// Reading and writing pipeline.config files.
//
// The format follows upstream TorchEasyRec: a path ending in ".json" is protobuf
// JSON, anything else is protobuf text format. Both are parsed leniently in the
// same ways upstream is, so its configs load unchanged:
//  - `required` fields may be missing (three upstream examples leave out
//    `expression`); semantic checks live in validation/validate.h instead;
//  - a singular field given twice keeps the last value (text format Merge);
//  - the deprecated data_config.fg_encoded is mapped onto data_config.fg_mode,
//    and fg_mode is always written back explicitly after loading.
// Unknown fields and syntax errors are ConfigErrors (exit code 2) in the form
// `<file>:<line>:<column>: <message>`, lines and columns counted from 1.
#pragma once

#include <string>

#include "config/protos/pipeline.pb.h"

namespace tzrec {

// Loads a pipeline.config (text format, or JSON when the path ends in ".json").
protos::EasyRecConfig LoadPipelineConfig(const std::string& path);

// Parses text-format content; `source_name` is used as the file name in errors.
protos::EasyRecConfig ParsePipelineConfigText(const std::string& text,
                                              const std::string& source_name = "<string>");

// Parses JSON content (proto field names or lowerCamelCase names).
protos::EasyRecConfig ParsePipelineConfigJson(const std::string& json,
                                              const std::string& source_name = "<string>");

// Text format as upstream's save_message writes it (UTF-8 kept as is).
std::string PipelineConfigToText(const protos::EasyRecConfig& config);

// JSON with proto field names (what LoadPipelineConfig reads from a .json path).
std::string PipelineConfigToJson(const protos::EasyRecConfig& config);

// Writes PipelineConfigToText(config) to `path`, creating parent directories.
void SavePipelineConfig(const protos::EasyRecConfig& config, const std::string& path);

// Upstream's fg_encoded -> fg_mode compatibility rule, applied by the loaders:
// fg_encoded=true -> FG_NONE; false -> FG_DAG when fg_threads > 0, else FG_NORMAL;
// fg_encoded unset -> fg_mode as given. Exposed for tests and for code that
// builds configs in memory.
void ApplyFgModeCompat(protos::EasyRecConfig& config);

}  // namespace tzrec
