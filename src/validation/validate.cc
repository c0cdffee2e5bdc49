#include "validation/validate.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.h"
#include "features/feature_groups.h"
#include "features/feature_info.h"
#include "config/model_type.h"
#include "config/proto_fields.h"

namespace tzrec {
namespace {

// Where a feature is declared, for messages: "feature_configs[3]" or
// "feature_configs[3].sequence_feature.features[1]".
std::string Location(const FeatureInfo& info) {
  if (info.sub_index < 0) return fmt::format("feature_configs[{}]", info.config_index);
  return fmt::format("feature_configs[{}].sequence_feature.features[{}]", info.config_index,
                     info.sub_index);
}

void ValidateFeatures(const protos::EasyRecConfig& config, const std::vector<FeatureInfo>& features) {
  for (int i = 0; i < config.feature_configs_size(); ++i) {
    const auto& feature_config = config.feature_configs(i);
    if (feature_config.has_sequence_feature()) {
      const auto& seq = feature_config.sequence_feature();
      if (seq.sequence_name().empty()) {
        FailConfig("feature_configs[{}].sequence_feature has no sequence_name", i);
      }
      if (seq.features_size() == 0) {
        FailConfig("sequence_feature '{}' (feature_configs[{}]) has no features", seq.sequence_name(), i);
      }
    }
  }
  std::map<std::string, const FeatureInfo*> seen;
  for (const auto& info : features) {
    if (info.type.empty()) FailConfig("{} sets no feature type", Location(info));
    if (info.feature_name.empty()) {
      FailConfig("{} ({}) has no feature_name", Location(info), info.DescribeType());
    }
    auto [it, inserted] = seen.emplace(info.name, &info);
    if (!inserted) {
      FailConfig("duplicate feature name '{}': {} ({}) and {} ({})", info.name,
                 Location(*it->second), it->second->DescribeType(), Location(info),
                 info.DescribeType());
    }
  }
}

// Checks that only matter for features a model reads: their embedding tables
// must be buildable.
void ValidateGroupedFeature(const FeatureInfo& info) {
  if (info.has_embedding() && info.embedding_dim == 0) {
    FailConfig("feature '{}' ({}) needs embedding_dim > 0", info.name, info.DescribeType());
  }
  const std::string& kind = info.config->GetDescriptor()->name();
  if (kind == "IdFeature" || kind == "ComboFeature") {
    bool has_rows = false;
    for (const char* field : {"hash_bucket_size", "num_buckets", "vocab_list", "vocab_dict",
                              "vocab_file", "zch", "dynamicemb"}) {
      has_rows = has_rows || HasValue(*info.config, field);
    }
    if (!has_rows) {
      FailConfig("feature '{}' ({}) needs hash_bucket_size, num_buckets, vocab_list, vocab_dict, "
                 "vocab_file or zch to size its embedding table", info.name, info.DescribeType());
    }
  }
}

void ValidateGroups(const protos::EasyRecConfig& config, const std::vector<FeatureInfo>& features,
                    const std::vector<FeatureGroupLayout>& layouts) {
  std::set<std::string> names;
  for (int i = 0; i < config.model_config().feature_groups_size(); ++i) {
    const auto& group = config.model_config().feature_groups(i);
    if (group.group_name().empty()) FailConfig("model_config.feature_groups[{}] has no group_name", i);
    if (!names.insert(group.group_name()).second) {
      FailConfig("feature group name '{}' is used twice", group.group_name());
    }
    if (group.feature_names_size() == 0 && group.sequence_groups_size() == 0) {
      FailConfig("feature group '{}' has no features", group.group_name());
    }
  }
  std::map<std::string, const FeatureInfo*> by_name;
  for (const auto& info : features) by_name.emplace(info.name, &info);
  std::set<std::string> checked;
  auto check = [&](const std::string& name) {
    if (checked.insert(name).second) ValidateGroupedFeature(*by_name.at(name));
  };
  for (const auto& layout : layouts) {
    for (const auto& member : layout.members) check(member.feature);
    for (const auto& seq : layout.sequence_groups) {
      for (const auto& member : seq.query) check(member.feature);
      for (const auto& member : seq.sequence) check(member.feature);
    }
  }
}

// ---- per-model checks -------------------------------------------------------

class ModelChecker {
 public:
  ModelChecker(const protos::EasyRecConfig& config, const std::vector<FeatureGroupLayout>& layouts)
      : config_(config), layouts_(layouts), type_(ModelType(config.model_config())) {}

  void Run() {
    const auto& model = config_.model_config();
    switch (model.model_case()) {
      case protos::ModelConfig::kDeepfm:
        RequireGroup("wide");
        RequireGroup("deep", /*allow_sequence=*/false);
        CheckFmWidths(Find("fm") ? "fm" : "deep");
        break;
      case protos::ModelConfig::kWideAndDeep:
        RequireGroup("wide");
        RequireGroup("deep", /*allow_sequence=*/false);
        break;
      case protos::ModelConfig::kXdeepfm:
        RequireGroup("wide");
        RequireGroup("deep", /*allow_sequence=*/false);
        break;
      case protos::ModelConfig::kMultiTower:
        CheckTowers(model.multi_tower().towers(), "towers");
        break;
      case protos::ModelConfig::kMultiTowerDin:
        CheckTowers(model.multi_tower_din().towers(), "towers");
        CheckDinTowers(model.multi_tower_din().din_towers());
        break;
      case protos::ModelConfig::kDlrm:
        CheckDlrm(model.dlrm());
        break;
      case protos::ModelConfig::kWukong: {
        // Upstream: a single group is the sparse group; otherwise the groups are
        // "sparse" and (optionally) "dense", neither with sequence features.
        const FeatureGroupLayout& sparse = layouts_.size() == 1 ? layouts_[0] : RequireGroup("sparse", false);
        const FeatureGroupLayout* dense = layouts_.size() > 1 ? Find("dense") : nullptr;
        for (const FeatureGroupLayout* g : {&sparse, dense}) {
          if (g != nullptr && (g->is_sequence_group() || !g->encoders.empty())) {
            FailConfig("wukong: feature group '{}' must not hold sequence features", g->name);
          }
        }
        for (const auto& member : sparse.members) {
          if (member.dim != sparse.members[0].dim) {
            FailConfig("wukong: features of sparse group '{}' need one embedding width, but '{}' is {} "
                       "and '{}' is {}", sparse.name, sparse.members[0].feature, sparse.members[0].dim,
                       member.feature, member.dim);
          }
        }
        // The dense group's MLP output joins the sparse embeddings as one more
        // feature (upstream refuses a mismatch when it builds the model).
        const auto& dense_mlp = model.wukong().dense_mlp();
        if (dense != nullptr && dense_mlp.hidden_units_size() > 0 && !sparse.members.empty() &&
            dense_mlp.hidden_units(dense_mlp.hidden_units_size() - 1) != sparse.members[0].dim) {
          FailConfig("wukong: the last dense_mlp.hidden_units ({}) must equal the sparse embedding "
                     "width ({}, of '{}')", dense_mlp.hidden_units(dense_mlp.hidden_units_size() - 1),
                     sparse.members[0].dim, sparse.members[0].feature);
        }
        break;
      }
      case protos::ModelConfig::kPepnet:
        // Upstream: "all" is the main input; "domain" (EPNet) and "uia" (PPNet) are optional.
        RequireGroup("all", /*allow_sequence=*/false);
        for (const char* optional : {"domain", "uia"}) {
          if (Find(optional)) RequireGroup(optional, /*allow_sequence=*/false);
        }
        break;
      case protos::ModelConfig::kMmoe:
      case protos::ModelConfig::kDbmtl:
      case protos::ModelConfig::kPle:
      case protos::ModelConfig::kSimpleMultiTask:
      case protos::ModelConfig::kDc2Vr:
      case protos::ModelConfig::kMaskNet:
      case protos::ModelConfig::kDcnV1:
      case protos::ModelConfig::kDcnV2:
      case protos::ModelConfig::kRocketLaunching:
        // These read the first feature group.
        if (layouts_.empty()) FailConfig("{} needs at least one feature group", type_);
        if (layouts_[0].is_sequence_group()) {
          FailConfig("{} reads the first feature group, '{}', which is a {} group", type_,
                     layouts_[0].name, FeatureGroupTypeName(layouts_[0].type));
        }
        break;
      case protos::ModelConfig::kDssm:
        RequireGroup(model.dssm().user_tower().input(), false, "dssm.user_tower.input");
        RequireGroup(model.dssm().item_tower().input(), false, "dssm.item_tower.input");
        break;
      case protos::ModelConfig::kDssmV2:
        RequireGroup(model.dssm_v2().user_tower().input(), false, "dssm_v2.user_tower.input");
        RequireGroup(model.dssm_v2().item_tower().input(), false, "dssm_v2.item_tower.input");
        break;
      case protos::ModelConfig::kMind:
        RequireGroup(model.mind().user_tower().input(), false, "mind.user_tower.input");
        RequireGroup(model.mind().user_tower().history_input(), true, "mind.user_tower.history_input");
        RequireGroup(model.mind().item_tower().input(), false, "mind.item_tower.input");
        break;
      case protos::ModelConfig::kDat:
        RequireGroup(model.dat().user_tower().input(), false, "dat.user_tower.input");
        RequireGroup(model.dat().user_tower().augment_input(), false, "dat.user_tower.augment_input");
        RequireGroup(model.dat().item_tower().input(), false, "dat.item_tower.input");
        RequireGroup(model.dat().item_tower().augment_input(), false, "dat.item_tower.augment_input");
        break;
      default:
        break;
    }
    CheckHeads();
  }

 private:
  const FeatureGroupLayout* Find(const std::string& name) const {
    for (const auto& layout : layouts_) {
      if (layout.name == name) return &layout;
    }
    return nullptr;
  }

  std::string GroupNames() const {
    std::vector<std::string> names;
    for (const auto& layout : layouts_) names.push_back("'" + layout.name + "'");
    return names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "));
  }

  // `field` names the config field that asks for the group, when there is one.
  const FeatureGroupLayout& RequireGroup(const std::string& name, bool allow_sequence = true,
                                         const std::string& field = "") {
    const FeatureGroupLayout* layout = Find(name);
    if (layout == nullptr) {
      if (field.empty()) {
        FailConfig("{} needs a feature group named '{}' (groups present: {})", type_, name, GroupNames());
      }
      FailConfig("{} '{}' names no feature group (groups present: {})", field, name, GroupNames());
    }
    if (!allow_sequence && layout->is_sequence_group()) {
      FailConfig("{} uses feature group '{}' as a pooled input, but it is a {} group", type_, name,
                 FeatureGroupTypeName(layout->type));
    }
    return *layout;
  }

  void CheckFmWidths(const std::string& group) {
    const FeatureGroupLayout& layout = RequireGroup(group, false);
    std::vector<std::string> labels;
    for (const auto& member : layout.members) labels.push_back(member.feature);
    for (const auto& encoder : layout.encoders) labels.push_back(encoder.type + "(" + encoder.input + ")");
    const auto dims = layout.dims();
    for (size_t i = 1; i < dims.size(); ++i) {
      if (dims[i] != dims[0]) {
        FailConfig("deepfm: FM needs one embedding width in group '{}', but '{}' is {} wide and '{}' "
                   "is {}", group, labels[0], dims[0], labels[i], dims[i]);
      }
    }
  }

  void CheckTowers(const google::protobuf::RepeatedPtrField<protos::Tower>& towers, const char* field) {
    if (towers.empty() && config_.model_config().model_case() == protos::ModelConfig::kMultiTower) {
      FailConfig("{} has no towers", type_);
    }
    for (int i = 0; i < towers.size(); ++i) {
      RequireGroup(towers[i].input(), false, fmt::format("{}.{}[{}].input", type_, field, i));
    }
  }

  void CheckDinTowers(const google::protobuf::RepeatedPtrField<protos::DINTower>& towers) {
    for (int i = 0; i < towers.size(); ++i) {
      const std::string field = fmt::format("{}.din_towers[{}].input", type_, i);
      const FeatureGroupLayout& layout = RequireGroup(towers[i].input(), true, field);
      if (!layout.is_sequence_group()) {
        FailConfig("{} '{}' must be a SEQUENCE group, but it is {}", field, layout.name,
                   FeatureGroupTypeName(layout.type));
      }
      const auto& seq = layout.sequence_groups[0];
      if (seq.query_dim > seq.sequence_dim) {
        FailConfig("{}: group '{}' has query width {} > sequence width {}; DIN needs the query no "
                   "wider than the sequence", field, layout.name, seq.query_dim, seq.sequence_dim);
      }
    }
  }

  void CheckDlrm(const protos::DLRM& dlrm) {
    // Upstream: a single group is the sparse group; otherwise the groups are
    // named "sparse" and (optionally) "dense".
    const FeatureGroupLayout& sparse =
        layouts_.size() == 1 ? layouts_[0] : RequireGroup("sparse", false);
    if (sparse.is_sequence_group() || !sparse.encoders.empty()) {
      FailConfig("dlrm: sparse group '{}' must not hold sequence features", sparse.name);
    }
    for (const auto& member : sparse.members) {
      if (member.dim != sparse.members[0].dim) {
        FailConfig("dlrm: features of sparse group '{}' need one embedding width, but '{}' is {} "
                   "and '{}' is {}", sparse.name, sparse.members[0].feature, sparse.members[0].dim,
                   member.feature, member.dim);
      }
    }
    const FeatureGroupLayout* dense = layouts_.size() > 1 ? Find("dense") : nullptr;
    if (dense == nullptr) return;
    if (dense->is_sequence_group() || !dense->encoders.empty()) {
      FailConfig("dlrm: dense group 'dense' must not hold sequence features");
    }
    if (!dlrm.has_dense_mlp() || dlrm.dense_mlp().hidden_units_size() == 0) {
      FailConfig("dlrm: feature group 'dense' needs dlrm.dense_mlp with hidden_units");
    }
    const uint32_t dense_out = dlrm.dense_mlp().hidden_units(dlrm.dense_mlp().hidden_units_size() - 1);
    if (!sparse.members.empty() && dense_out != sparse.members[0].dim) {
      FailConfig("dlrm: the last dense_mlp.hidden_units ({}) must equal the sparse embedding width "
                 "({}, of '{}')", dense_out, sparse.members[0].dim, sparse.members[0].feature);
    }
  }

  // Loss types fix the head width (upstream RankModel._output_to_prediction).
  void CheckLosses(const google::protobuf::RepeatedPtrField<protos::LossConfig>& losses,
                   uint32_t num_class, const std::string& where) {
    for (const auto& loss : losses) {
      switch (loss.loss_case()) {
        case protos::LossConfig::kBinaryCrossEntropy:
        case protos::LossConfig::kBinaryFocalLoss:
          if (num_class != 1) {
            FailConfig("{}: {} needs num_class 1, got {}", where,
                       loss.GetDescriptor()->FindFieldByNumber(loss.loss_case())->name(), num_class);
          }
          break;
        case protos::LossConfig::kSoftmaxCrossEntropy:
          if (num_class <= 1) {
            FailConfig("{}: softmax_cross_entropy needs num_class > 1, got {}", where, num_class);
          }
          break;
        case protos::LossConfig::kJrcLoss:
          if (num_class != 2) FailConfig("{}: jrc_loss needs num_class 2, got {}", where, num_class);
          break;
        default:
          break;
      }
    }
  }

  template <typename Tower>
  void CheckTasks(const google::protobuf::RepeatedPtrField<Tower>& towers) {
    if (towers.empty()) FailConfig("{} has no task_towers", type_);
    const auto& labels = config_.data_config().label_fields();
    std::set<std::string> names;
    for (int i = 0; i < towers.size(); ++i) {
      const Tower& tower = towers[i];
      const std::string where = fmt::format("{}.task_towers[{}] '{}'", type_, i, tower.tower_name());
      if (tower.tower_name().empty()) FailConfig("{}.task_towers[{}] has no tower_name", type_, i);
      if (!names.insert(tower.tower_name()).second) {
        FailConfig("{}: task tower name '{}' is used twice", type_, tower.tower_name());
      }
      if (!tower.label_name().empty() && !labels.empty() &&
          std::find(labels.begin(), labels.end(), tower.label_name()) == labels.end()) {
        FailConfig("{}: label_name '{}' is not in data_config.label_fields ({})", where,
                   tower.label_name(), fmt::join(labels, ", "));
      }
      CheckLosses(tower.losses(), tower.num_class(), where);
    }
  }

  void CheckHeads() {
    const auto& model = config_.model_config();
    if (FamilyOf(type_) == ModelFamily::kRank || model.has_rocket_launching()) {
      CheckLosses(model.losses(), model.num_class(), type_);
    }
    switch (model.model_case()) {
      case protos::ModelConfig::kMmoe: CheckTasks(model.mmoe().task_towers()); break;
      case protos::ModelConfig::kPle: CheckTasks(model.ple().task_towers()); break;
      case protos::ModelConfig::kPepnet: CheckTasks(model.pepnet().task_towers()); break;
      case protos::ModelConfig::kSimpleMultiTask: CheckTasks(model.simple_multi_task().task_towers()); break;
      case protos::ModelConfig::kDc2Vr: CheckTasks(model.dc2vr().task_towers()); break;
      case protos::ModelConfig::kDbmtl: {
        const auto& towers = model.dbmtl().task_towers();
        CheckTasks(towers);
        // Relations point at towers defined earlier (their outputs feed in).
        std::set<std::string> earlier;
        for (const auto& tower : towers) {
          for (const auto& relation : tower.relation_tower_names()) {
            if (!earlier.count(relation)) {
              FailConfig("dbmtl task tower '{}': relation_tower_names '{}' names no earlier task tower",
                         tower.tower_name(), relation);
            }
          }
          earlier.insert(tower.tower_name());
        }
        break;
      }
      default:
        break;
    }
  }

  const protos::EasyRecConfig& config_;
  const std::vector<FeatureGroupLayout>& layouts_;
  std::string type_;
};

}  // namespace

const std::vector<std::string>& SupportedFeatureTypes() {
  static const std::vector<std::string> kSupported = {
      "id_feature",   "raw_feature",      "combo_feature",       "lookup_feature",
      "match_feature", "sequence_feature", "expr_feature",        "sequence_id_feature",
      "sequence_raw_feature",
  };
  return kSupported;
}

void ValidatePipelineConfig(const protos::EasyRecConfig& config) {
  const std::vector<FeatureInfo> features = ListFeatures(config);
  ValidateFeatures(config, features);
  if (ModelType(config.model_config()).empty()) {
    FailConfig("model_config sets no model type (e.g. {})", fmt::join(SupportedModelTypes(), ", "));
  }
  const std::vector<FeatureGroupLayout> layouts = LayoutFeatureGroups(config, features);
  ValidateGroups(config, features, layouts);
  ModelChecker(config, layouts).Run();
}

void ValidateFeatureConfigs(const protos::EasyRecConfig& config) { ValidateFeatures(config, ListFeatures(config)); }

std::vector<std::string> FindUnsupported(const protos::EasyRecConfig& config) {
  static const std::set<std::string> kSequenceSubTypes = {"id_feature", "raw_feature"};
  const auto& supported = SupportedFeatureTypes();
  std::vector<std::string> problems;
  for (const auto& info : ListFeatures(config)) {
    if (info.type.empty()) continue;  // validation reports it
    bool ok = info.sequence_name.empty()
                  ? std::find(supported.begin(), supported.end(), info.type) != supported.end()
                  : kSequenceSubTypes.count(info.type) > 0;
    if (!ok) {
      problems.push_back(fmt::format("feature '{}' has type {}, which tzrec does not support",
                                     info.name, info.DescribeType()));
    }
  }
  const std::string model_type = ModelType(config.model_config());
  if (!model_type.empty() && !IsSupportedModelType(model_type)) {
    problems.push_back(fmt::format("model type {} is not supported (supported: {})", model_type,
                                   fmt::join(SupportedModelTypes(), ", ")));
  }
  return problems;
}

void CheckSupported(const protos::EasyRecConfig& config) {
  auto problems = FindUnsupported(config);
  if (!problems.empty()) throw ConfigError(problems.front());
}

}  // namespace tzrec
