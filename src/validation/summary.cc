#include "validation/summary.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "features/feature_groups.h"
#include "features/feature_info.h"
#include "config/model_type.h"
#include "validation/validate.h"

namespace tzrec {
namespace {

namespace pb = google::protobuf;

std::string OneofName(const pb::Message& msg, const char* oneof_name) {
  const auto* oneof = msg.GetDescriptor()->FindOneofByName(oneof_name);
  const auto* field = msg.GetReflection()->GetOneofFieldDescriptor(msg, oneof);
  return field == nullptr ? "?" : field->name();
}

template <typename Repeated>
std::string OneofNames(const Repeated& items, const char* oneof_name) {
  std::vector<std::string> names;
  for (const auto& item : items) names.push_back(OneofName(item, oneof_name));
  return names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "));
}

// Output names of one head, as upstream's _output_to_prediction_impl.
void HeadOutputs(const pb::RepeatedPtrField<protos::LossConfig>& losses, uint32_t num_class,
                 const std::string& suffix, std::vector<std::string>& out) {
  auto add = [&](const std::string& name) {
    if (std::find(out.begin(), out.end(), name + suffix) == out.end()) out.push_back(name + suffix);
  };
  for (const auto& loss : losses) {
    switch (loss.loss_case()) {
      case protos::LossConfig::kBinaryCrossEntropy:
      case protos::LossConfig::kBinaryFocalLoss:
        add("logits");
        add("probs");
        break;
      case protos::LossConfig::kSoftmaxCrossEntropy:
        add("logits");
        add("probs");
        if (num_class == 2) add("probs1");
        break;
      case protos::LossConfig::kJrcLoss:
        add("logits");
        add("probs");
        add("probs1");
        break;
      case protos::LossConfig::kL2Loss:
        add("y");
        break;
      default:
        break;
    }
  }
}

template <typename Tower>
void AppendTasks(const pb::RepeatedPtrField<Tower>& towers, std::string& out) {
  out += "tasks:\n";
  for (const auto& tower : towers) {
    out += fmt::format("  {}: label {}, num_class {}, losses {}, metrics {}\n", tower.tower_name(),
                       tower.label_name().empty() ? "-" : tower.label_name(), tower.num_class(),
                       OneofNames(tower.losses(), "loss"), OneofNames(tower.metrics(), "metric"));
  }
}

template <typename Tower>
void AppendTaskOutputs(const pb::RepeatedPtrField<Tower>& towers, std::vector<std::string>& out) {
  for (const auto& tower : towers) {
    HeadOutputs(tower.losses(), tower.num_class(), "_" + tower.tower_name(), out);
  }
}

std::string Members(const std::vector<GroupMember>& members) {
  std::vector<std::string> parts;
  for (const auto& member : members) parts.push_back(fmt::format("{}:{}", member.feature, member.dim));
  return fmt::format("{}", fmt::join(parts, " "));
}

}  // namespace

std::vector<std::string> PredictionOutputs(const protos::EasyRecConfig& config) {
  const auto& model = config.model_config();
  std::vector<std::string> out;
  switch (model.model_case()) {
    case protos::ModelConfig::kMmoe: AppendTaskOutputs(model.mmoe().task_towers(), out); break;
    case protos::ModelConfig::kDbmtl: AppendTaskOutputs(model.dbmtl().task_towers(), out); break;
    case protos::ModelConfig::kPle: AppendTaskOutputs(model.ple().task_towers(), out); break;
    case protos::ModelConfig::kPepnet:
      if (!model.pepnet().has_domain_input_name()) {
        AppendTaskOutputs(model.pepnet().task_towers(), out);
        break;
      }
      // One head per domain, loss by loss, domain by domain (as the model orders them).
      for (const auto& tower : model.pepnet().task_towers()) {
        for (const auto& loss : tower.losses()) {
          pb::RepeatedPtrField<protos::LossConfig> one;
          *one.Add() = loss;
          for (uint32_t d = 0; d < model.pepnet().task_domain_num(); ++d) {
            HeadOutputs(one, tower.num_class(), fmt::format("_{}_{}", tower.tower_name(), d), out);
          }
        }
      }
      break;
    case protos::ModelConfig::kDc2Vr: AppendTaskOutputs(model.dc2vr().task_towers(), out); break;
    case protos::ModelConfig::kSimpleMultiTask:
      AppendTaskOutputs(model.simple_multi_task().task_towers(), out);
      break;
    case protos::ModelConfig::kRocketLaunching:
      // The served light net's outputs (the booster's exist in training only).
      HeadOutputs(model.losses(), model.num_class(), "_light", out);
      break;
    default:
      if (FamilyOf(ModelType(model)) == ModelFamily::kMatch) {
        out = {"similarity", "user_tower_emb", "item_tower_emb"};
      } else {
        HeadOutputs(model.losses(), model.num_class(), "", out);
      }
  }
  return out;
}

std::string SummarizePipelineConfig(const protos::EasyRecConfig& config) {
  const auto& model = config.model_config();
  const std::string model_type = ModelType(model);
  const auto features = ListFeatures(config);
  const auto layouts = LayoutFeatureGroups(config, features);
  std::string out;

  out += fmt::format("model: {} ({}), num_class {}\n", model_type,
                     FamilyOf(model_type) == ModelFamily::kUnknown ? "unknown family"
                                                                   : ModelFamilyName(FamilyOf(model_type)),
                     model.num_class());

  // Features by type, in order of first appearance.
  std::vector<std::pair<std::string, int>> by_type;
  for (const auto& info : features) {
    std::string type = info.sequence_name.empty() ? info.type : "sequence_feature/" + info.type;
    auto it = std::find_if(by_type.begin(), by_type.end(), [&](const auto& p) { return p.first == type; });
    if (it == by_type.end()) {
      by_type.emplace_back(type, 1);
    } else {
      ++it->second;
    }
  }
  std::vector<std::string> counts;
  for (const auto& [type, count] : by_type) counts.push_back(fmt::format("{} {}", type, count));
  out += fmt::format("features: {} ({})\n", features.size(), fmt::join(counts, ", "));

  out += fmt::format("feature groups: {}\n", layouts.size());
  for (const auto& layout : layouts) {
    if (layout.is_sequence_group()) {
      const auto& seq = layout.sequence_groups[0];
      out += fmt::format("  {} [{}] query width {}, sequence width {}\n    query: {}\n    sequence: {}\n",
                         layout.name, FeatureGroupTypeName(layout.type), seq.query_dim,
                         seq.sequence_dim, Members(seq.query), Members(seq.sequence));
      continue;
    }
    out += fmt::format("  {} [{}] width {}{}\n    members: {}\n", layout.name,
                       FeatureGroupTypeName(layout.type), layout.total_dim,
                       layout.type == protos::WIDE
                           ? fmt::format(" (wide_embedding_dim {})", WideEmbeddingDim(model))
                           : "",
                       Members(layout.members));
    for (const auto& seq : layout.sequence_groups) {
      out += fmt::format("    sequence group {}: query width {}, sequence width {}\n", seq.name,
                         seq.query_dim, seq.sequence_dim);
    }
    for (const auto& encoder : layout.encoders) {
      out += fmt::format("    encoder {} over {}: width {}\n", encoder.type, encoder.input,
                         encoder.output_dim);
    }
  }

  switch (model.model_case()) {
    case protos::ModelConfig::kMmoe: AppendTasks(model.mmoe().task_towers(), out); break;
    case protos::ModelConfig::kDbmtl: AppendTasks(model.dbmtl().task_towers(), out); break;
    case protos::ModelConfig::kPle: AppendTasks(model.ple().task_towers(), out); break;
    case protos::ModelConfig::kPepnet: AppendTasks(model.pepnet().task_towers(), out); break;
    case protos::ModelConfig::kSimpleMultiTask:
      AppendTasks(model.simple_multi_task().task_towers(), out);
      break;
    default:
      out += fmt::format("losses: {}; metrics: {}\n", OneofNames(model.losses(), "loss"),
                         OneofNames(model.metrics(), "metric"));
  }
  out += fmt::format("labels: {}\n", config.data_config().label_fields().empty()
                                         ? std::string("none")
                                         : fmt::format("{}", fmt::join(config.data_config().label_fields(), ", ")));
  out += fmt::format("outputs: {}\n", fmt::join(PredictionOutputs(config), ", "));

  const auto unsupported = FindUnsupported(config);
  if (unsupported.empty()) {
    out += "support: tzrec supports every feature and the model\n";
  } else {
    out += fmt::format("support: tzrec cannot build this config ({} problem{}):\n", unsupported.size(),
                       unsupported.size() == 1 ? "" : "s");
    for (const auto& problem : unsupported) out += "  - " + problem + "\n";
  }
  return out;
}

}  // namespace tzrec
