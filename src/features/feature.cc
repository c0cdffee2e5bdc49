#include "features/feature.h"

#include <algorithm>
#include <cctype>

#include "common/error.h"
#include "common/strings.h"

namespace tzrec {

const char* PoolingName(Pooling pooling) { return pooling == Pooling::kMean ? "mean" : "sum"; }

namespace {

bool IsKnownSide(const std::string& side) {
  return side == "user" || side == "item" || side == "context" || side == "feature" ||
         side == "const";
}

}  // namespace

Feature::Feature(CommonFields common, std::string configured_default,
                 const FeatureOptions& options, bool is_sequence,
                 std::optional<SequenceGroup> group)
    : common_(std::move(common)),
      options_(options),
      is_sequence_(is_sequence || group.has_value()),
      group_(std::move(group)) {
  name_ = group_ ? group_->name + "__" + common_.feature_name : common_.feature_name;
  // Upstream's FG cannot take an empty default inside a sequence; it uses "0".
  default_value_ = (is_sequence_ && configured_default.empty()) ? "0" : configured_default;
  if (group_) {
    sequence_delim_ = group_->delim;
    sequence_length_ = group_->length;
  } else if (is_sequence_) {
    sequence_delim_ = common_.sequence_delim;
    sequence_length_ = common_.sequence_length;
  }
}

std::string Feature::Describe() const { return std::string(type_name()) + "[" + name_ + "]"; }

uint32_t Feature::embedding_dim() const {
  if (has_embedding() && common_.embedding_dim == 0) {
    FailConfig("embedding_dim of {} should be greater than 0", Describe());
  }
  return common_.embedding_dim;
}

std::string Feature::embedding_name() const {
  return common_.embedding_name.empty() ? name_ + "_emb" : common_.embedding_name;
}

Pooling Feature::pooling() const {
  std::string upper = common_.pooling;
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (upper == "SUM") return Pooling::kSum;
  if (upper == "MEAN") return Pooling::kMean;
  FailConfig("pooling of {} is '{}'; available pooling types are sum | mean", Describe(),
             common_.pooling);
}

EmbeddingTable Feature::embedding_table() const {
  if (!is_sparse()) Fail("{} is dense and has no embedding table", Describe());
  EmbeddingTable table;
  table.name = embedding_name();
  table.num_embeddings = num_embeddings();
  table.embedding_dim = embedding_dim();
  table.pooling = pooling();
  table.init_fn = common_.init_fn;
  table.trainable = common_.trainable;
  table.data_type = common_.data_type;
  if (table.data_type != "FP32" && table.data_type != "FP16") {
    FailConfig("data_type of {} is '{}'; embeddings support FP32 and FP16", Describe(),
               table.data_type);
  }
  return table;
}

bool Feature::IsSequenceInput(const std::string& side, const std::string& name) const {
  if (!is_sequence_) return false;
  if (!common_.sequence_fields.empty()) {
    return std::find(common_.sequence_fields.begin(), common_.sequence_fields.end(), name) !=
           common_.sequence_fields.end();
  }
  if (is_single_input_type()) return side != "feature";
  return side == "item";
}

const std::vector<FeatureInput>& Feature::side_inputs() const {
  if (side_inputs_) return *side_inputs_;
  const std::optional<std::vector<std::string>> raw = RawInputs();
  if (!raw || raw->empty()) {
    FailConfig("{} must have fg input names, e.g. item:cat_a", Describe());
  }
  std::vector<FeatureInput> inputs;
  for (const std::string& text : *raw) {
    std::vector<std::string> pieces;
    for (std::string_view piece : SplitExact(text, ":")) pieces.emplace_back(piece);  // str.split(":")
    if (pieces.size() != 2 || !IsKnownSide(pieces[0])) {
      FailConfig("{} has invalid fg input name '{}'; expected side:name with side one of "
                 "user, item, context, feature, const",
                 Describe(), text);
    }
    std::string name = pieces[1];
    if (group_ && IsSequenceInput(pieces[0], name)) name = group_->name + "__" + name;
    inputs.push_back({pieces[0], name});
  }
  side_inputs_ = std::move(inputs);
  return *side_inputs_;
}

std::vector<std::string> Feature::inputs() const {
  if (options_.fg_mode == protos::FG_NONE || options_.fg_mode == protos::FG_BUCKETIZE) {
    return {name_};
  }
  std::vector<std::string> names;
  for (const FeatureInput& input : side_inputs()) names.push_back(input.name);
  return names;
}

bool Feature::is_user_feature() const {
  if (is_user_feature_) return *is_user_feature_;
  if (group_) return true;
  for (const FeatureInput& input : side_inputs()) {
    if (input.side != "user") return false;
  }
  return true;
}

void Feature::set_is_neg(bool value) {
  is_neg_ = value;
  data_group_ = kNegDataGroup;
}

void Feature::AddSequenceFields(nlohmann::ordered_json& entry) const {
  if (group_ && !common_.sequence_fields.empty()) {
    entry["sequence_fields"] = common_.sequence_fields;
  }
}

nlohmann::ordered_json Feature::FgJson(const FeatureAssets& renamed_assets) const {
  nlohmann::ordered_json entries = TypeFgJson(renamed_assets);
  if (is_sequence_) {
    for (auto& entry : entries) {
      const auto it = entry.find("default_value");
      if (it == entry.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
        entry["default_value"] = "0";
      }
      if (!group_) {
        entry["sequence_delim"] = sequence_delim_;
        entry["sequence_length"] = sequence_length_;
        entry["feature_type"] = "sequence_" + entry["feature_type"].get<std::string>();
      }
    }
  }
  return entries;
}

}  // namespace tzrec
