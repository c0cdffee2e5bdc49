#include "config/model_type.h"

#include <algorithm>

namespace tzrec {
namespace {

namespace pb = google::protobuf;

const pb::FieldDescriptor* ModelField(const protos::ModelConfig& model_config) {
  const auto* oneof = protos::ModelConfig::descriptor()->FindOneofByName("model");
  return model_config.GetReflection()->GetOneofFieldDescriptor(model_config, oneof);
}

}  // namespace

std::string ModelType(const protos::ModelConfig& model_config) {
  const auto* field = ModelField(model_config);
  return field == nullptr ? "" : field->name();
}

const pb::Message* ModelMessage(const protos::ModelConfig& model_config) {
  const auto* field = ModelField(model_config);
  return field == nullptr ? nullptr : &model_config.GetReflection()->GetMessage(model_config, field);
}

ModelFamily FamilyOf(const std::string& model_type) {
  // Field numbers in ModelConfig are grouped by family: 1xx rank, 2xx
  // multi-task rank, 3xx match, 400 TDM, 5xx general rank, 6xx SID.
  const auto* field = protos::ModelConfig::descriptor()->FindFieldByName(model_type);
  if (field == nullptr || field->containing_oneof() == nullptr) return ModelFamily::kUnknown;
  switch (field->number() / 100) {
    case 1: return ModelFamily::kRank;
    case 2: return ModelFamily::kMultiTaskRank;
    case 3: return ModelFamily::kMatch;
    case 4: return ModelFamily::kTdm;
    case 5: return ModelFamily::kGeneralRank;
    case 6: return ModelFamily::kSid;
    default: return ModelFamily::kUnknown;
  }
}

const char* ModelFamilyName(ModelFamily family) {
  switch (family) {
    case ModelFamily::kRank: return "rank";
    case ModelFamily::kMultiTaskRank: return "multi_task_rank";
    case ModelFamily::kMatch: return "match";
    case ModelFamily::kTdm: return "tdm";
    case ModelFamily::kGeneralRank: return "general_rank";
    case ModelFamily::kSid: return "sid";
    case ModelFamily::kUnknown: break;
  }
  return "unknown";
}

const std::vector<std::string>& SupportedModelTypes() {
  static const std::vector<std::string> kSupported = {
      "dlrm", "deepfm", "multi_tower", "multi_tower_din", "wide_and_deep",
      "mmoe", "dbmtl",  "ple",         "dssm",
      "dssm_v2",
      "mind",
      "dat",
      "mask_net",
      "wukong",
      "dcn_v1",
      "dcn_v2",
      "xdeepfm",
      "simple_multi_task",
      "pepnet",
      "dc2vr",
      "rocket_launching",
  };
  return kSupported;
}

bool IsSupportedModelType(const std::string& model_type) {
  const auto& supported = SupportedModelTypes();
  return std::find(supported.begin(), supported.end(), model_type) != supported.end();
}

uint32_t WideEmbeddingDim(const protos::ModelConfig& model_config) {
  const pb::Message* model = ModelMessage(model_config);
  if (model != nullptr) {
    const auto* field = model->GetDescriptor()->FindFieldByName("wide_embedding_dim");
    if (field != nullptr && field->cpp_type() == pb::FieldDescriptor::CPPTYPE_UINT32) {
      // GetUInt32 returns the proto default when unset (4 for DeepFM, 16 for xDeepFM).
      uint32_t dim = model->GetReflection()->GetUInt32(*model, field);
      if (dim > 0) return dim;
    }
  }
  return 4;
}

}  // namespace tzrec
