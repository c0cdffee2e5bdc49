// The model lists agree: config/'s SupportedModelTypes() (what validation
// accepts, without libtorch) and models/'s ModelBuilders() (what can be
// built) name the same models, and every model upstream's ModelConfig names
// is either built or refused by name.
#include <gtest/gtest.h>

#include <set>

#include "common/error.h"
#include "config/model_type.h"
#include "config/pipeline_config.h"
#include "config/test_util.h"
#include "features/feature_factory.h"
#include "validation/summary.h"
#include "validation/validate.h"
#include "models/model.h"

namespace tzrec::models {
namespace {

TEST(ModelRegistryTest, EveryUpstreamModelIsBuiltOrRefusedByName) {
  const auto* oneof = protos::ModelConfig::descriptor()->FindOneofByName("model");
  ASSERT_NE(oneof, nullptr);
  std::set<std::string> upstream;
  for (int i = 0; i < oneof->field_count(); ++i) {
    const std::string name = oneof->field(i)->name();
    upstream.insert(name);
    EXPECT_NE(FamilyOf(name), ModelFamily::kUnknown) << name;
    const bool supported = IsSupportedModelType(name);
    EXPECT_EQ(supported, ModelBuilders().count(name) == 1) << name << ": the two model lists disagree";
    if (supported) continue;
    protos::EasyRecConfig config;
    auto* model = config.mutable_model_config();
    model->GetReflection()->MutableMessage(model, oneof->field(i));
    try {
      CheckSupported(config);
      ADD_FAILURE() << name << " is not refused";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("model type " + name + " is not supported"), std::string::npos)
          << e.what();
    }
  }
  for (const auto& [name, builder] : ModelBuilders()) {
    EXPECT_TRUE(upstream.count(name)) << name << " is built but is no ModelConfig entry";
  }
}

// validate_config's summary names the outputs the built model writes.
TEST(ModelRegistryTest, SummaryOutputsAreTheModelsOutputs) {
  ModelBuildOptions options;
  options.embedded_inputs = true;  // no tables: the Criteo examples' would take gigabytes
  int checked = 0;
  for (const auto& name : testing::UpstreamConfigNames()) {
    const protos::EasyRecConfig config = LoadPipelineConfig(testing::UpstreamConfigPath(name));
    if (!IsSupportedModelType(ModelType(config.model_config()))) continue;
    if (FamilyOf(ModelType(config.model_config())) == ModelFamily::kMatch) continue;  // towers: export
    std::unique_ptr<Model> model;
    try {
      FeatureList features = CreateFeatures(config);
      model = BuildModel(config, FeaturePointers(features), options);
    } catch (const ConfigError&) {
      continue;  // an example the validation tests show refused
    }
    EXPECT_EQ(PredictionOutputs(config), model->output_names()) << name;
    ++checked;
  }
  EXPECT_GE(checked, 10);
}

}  // namespace
}  // namespace tzrec::models
