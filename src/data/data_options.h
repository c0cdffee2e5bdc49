// The thin bridge from pipeline.config (data_config, feature_configs) to the
// data path's plain option structs, so that everything else under data/ and
// features/fg/ works without protos.
#pragma once

#include <string>
#include <unordered_map>

#include "config/protos/data.pb.h"
#include "config/protos/pipeline.pb.h"
#include "data/batch_iterator.h"
#include "features/feature.h"
#include "features/fg/fg_engine.h"

namespace tzrec::data {

// fg_mode FG_NONE -> encoded input; FG_DAG / FG_NORMAL -> FG on raw input.
// FG_BUCKETIZE is not supported (ConfigError).
fg::FgEngineOptions FgEngineOptionsFromConfig(const protos::EasyRecConfig& config);

// feature name (grouped sequences: "<sequence_name>__<feature>") ->
// fg_encoded_default_value, for every feature config that sets one.
std::unordered_map<std::string, std::string> FgEncodedDefaults(const protos::EasyRecConfig& config);

// CSV options, batch size (eval_batch_size when `for_eval` and set),
// drop_remainder, num_workers and (training only) shuffle from data_config. Column names come from input_fields (or
// input_fields_str "name:type,...") when there is no header.
BatchIteratorOptions BatchIteratorOptionsFromConfig(const protos::DataConfig& data_config,
                                                    const std::string& input_path, int num_epochs,
                                                    bool for_eval);

// Between the values of one multi-value cell: data_config.fg_encoded_multival_sep
// for encoded input (FG_NONE), FG's \x1d for raw input.
char MultiValueSeparator(const protos::DataConfig& data_config);

DataParserOptions DataParserOptionsFromConfig(const protos::DataConfig& data_config);

// Train and eval batches of a config with data_config.negative_sampler draw
// sampled negatives for those of `features` that read its attr_fields
// (Feature::gets_sampled_rows: the __NEG__ data group, or __BASE__ with
// force_base_data_group): B + num_sample rows; every other feature, label and
// weight keeps B. Predict and export never sample. Other samplers
// (negative_sampler_v2, hard_negative_sampler[_v2], tdm_sampler) are refused
// by name.
void SetNegativeSampler(const protos::DataConfig& data_config, const std::vector<const Feature*>& features,
                        bool for_eval, uint64_t seed, DataParserOptions& options);

}  // namespace tzrec::data
