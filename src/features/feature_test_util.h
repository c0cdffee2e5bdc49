// Test helpers: features built from text-format feature_configs.
#pragma once

#include <string>

#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include "config/protos/pipeline.pb.h"
#include "features/feature_factory.h"
#include "features/python_json.h"

namespace tzrec::testing {

// Parses `text` as the body of EasyRecConfig (feature_configs { ... } ...).
inline protos::EasyRecConfig ParseConfig(const std::string& text) {
  protos::EasyRecConfig config;
  google::protobuf::TextFormat::Parser parser;
  parser.AllowPartialMessage(true);
  EXPECT_TRUE(parser.ParseFromString(text, &config)) << text;
  return config;
}

// Holds the config the features were built from (vocab_dict order is read
// from it) together with the features.
struct Built {
  protos::EasyRecConfig config;
  FeatureList features;
  const Feature& operator[](size_t i) const { return *features.at(i); }
};

inline Built Build(const std::string& feature_configs_text, const FeatureOptions& options = {}) {
  Built built;
  built.config = ParseConfig(feature_configs_text);
  built.features = CreateFeatures(built.config.feature_configs(), options);
  return built;
}

// The feature's fg.json entries as Python's json.dump would print them.
inline std::string FgText(const Feature& feature) { return DumpPythonJson(feature.FgJson()); }

}  // namespace tzrec::testing
