// Helpers for the FG engine tests: build an engine from an inline fg.json
// feature entry and run it over columns given as strings.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "features/fg/fg_engine.h"

namespace tzrec::fg::testing {

inline FgEngine EngineFor(const std::vector<nlohmann::json>& features, FgEngineOptions options = {}) {
  nlohmann::json fg{{"features", features}};
  return FgEngine(ParseFgJson(fg, "test fg.json"), options);
}

using Columns = std::map<std::string, std::vector<std::string>>;

inline FeatureBatch RunFg(const FgEngine& engine, const Columns& columns) {
  int64_t rows = columns.empty() ? 0 : static_cast<int64_t>(columns.begin()->second.size());
  OwnedInputBatch owned(rows);
  for (const auto& [name, values] : columns) owned.Add(name, values);
  InputBatch batch = owned.View();
  return engine.Process(batch);
}

inline const FeatureColumn& Col(const FeatureBatch& batch, const std::string& name) {
  const FeatureColumn* col = batch.Find(name);
  if (col == nullptr) throw std::runtime_error("no output column " + name);
  return *col;
}

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::FloatNear;
using ::testing::Pointwise;

inline std::vector<int64_t> I(std::initializer_list<int64_t> v) { return v; }

}  // namespace tzrec::fg::testing
