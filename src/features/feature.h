// A feature as the rest of tzrec sees it: its name, its raw inputs, whether it
// is sparse (ids looked up in an embedding table), dense (float values) or a
// sequence, its embedding table, and its entry in fg.json.
//
// One subclass per feature type (id_feature.h, raw_feature.h, ...), each built
// from its config message by CreateFeatures() (feature_factory.h). The rules
// (defaults, table sizes, fg.json keys) follow upstream TorchEasyRec's
// tzrec/features/*.py so exported artifacts are interchangeable.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <google/protobuf/message.h>
#include <nlohmann/json.hpp>

#include "config/protos/data.pb.h"

namespace tzrec {

enum class Pooling { kSum, kMean };

// "sum" / "mean", as upstream's config spells them.
const char* PoolingName(Pooling pooling);

// Data groups: which batch a feature's values come from. Features reading a
// negative sampler's fields are "__NEG__" (item-only) or "__CNEG__" (crosses
// of user and sampled item fields).
inline constexpr char kBaseDataGroup[] = "__BASE__";
inline constexpr char kNegDataGroup[] = "__NEG__";
inline constexpr char kCrossNegDataGroup[] = "__CNEG__";

// One raw input of a feature: "user:age" -> {"user", "age"}. side is one of
// user | item | context | feature (another feature's output) | const.
struct FeatureInput {
  std::string side;
  std::string name;
  std::string ToString() const { return side + ":" + name; }
  bool operator==(const FeatureInput& other) const {
    return side == other.side && name == other.name;
  }
};

// An embedding table as a model creates it. Features with the same name share
// the table (and must agree on rows, dim and pooling).
struct EmbeddingTable {
  std::string name;             // embedding_name, else "<feature>_emb"
  uint64_t num_embeddings = 0;  // rows
  uint32_t embedding_dim = 0;
  Pooling pooling = Pooling::kSum;
  std::string init_fn;          // e.g. "nn.init.uniform_,a=-0.01,b=0.01"; empty = default
  bool trainable = true;
  std::string data_type = "FP32";
};

// The grouped sequence (`sequence_feature`) a sub-feature belongs to.
struct SequenceGroup {
  std::string name;
  uint32_t length = 0;
  std::string delim;
  std::string pk;  // "user:<name>" unless configured
};

// Settings from data_config that change how features read their input.
struct FeatureOptions {
  protos::FgMode fg_mode = protos::FG_NONE;
  // Multi-value separator of FG-encoded input (fg_mode FG_NONE).
  std::string fg_encoded_multival_sep = "\x03";
};

// Asset files a feature needs beside fg.json: config field -> path on disk.
using FeatureAssets = std::map<std::string, std::string>;

// The set entry of a feature message's `dense_emb` oneof: "autodis", "mlp",
// or "" when none.
template <typename Config>
std::string DenseEmbeddingOf(const Config& config) {
  if (config.has_autodis()) return "autodis";
  if (config.has_mlp()) return "mlp";
  return "";
}

class Feature {
 public:
  virtual ~Feature() = default;
  Feature(const Feature&) = delete;
  Feature& operator=(const Feature&) = delete;

  // Upstream's class name: "IdFeature", "RawFeature", ...
  virtual const char* type_name() const = 0;

  // The name models and input tensors use: the config's feature_name, with
  // "<sequence_name>__" in front for a grouped sequence sub-feature.
  const std::string& name() const { return name_; }
  // The config's feature_name.
  const std::string& feature_name() const { return common_.feature_name; }

  // Input tensor names of the scripted model.
  std::string values_key() const { return name_ + ".values"; }
  std::string lengths_key() const { return name_ + ".lengths"; }
  std::string weights_key() const { return name_ + ".weights"; }

  // --- kind -------------------------------------------------------------------
  // Sparse: values are ids into an embedding table; else dense float values.
  virtual bool is_sparse() const = 0;
  bool is_dense() const { return !is_sparse(); }
  // Sparse ids carry a weight each (id_feature with weighted: true).
  virtual bool is_weighted() const { return false; }
  bool is_sequence() const { return is_sequence_; }
  bool is_grouped_sequence() const { return group_.has_value(); }
  // Sequence layout: the group's for grouped sub-features, else the config's
  // sequence_delim / sequence_length. Meaningful only when is_sequence().
  const std::string& sequence_delim() const { return sequence_delim_; }
  uint32_t sequence_length() const { return sequence_length_; }
  // The enclosing sequence_feature; nullptr unless is_grouped_sequence().
  const SequenceGroup* sequence_group() const { return group_ ? &*group_ : nullptr; }

  // Values per item after FG (0 = variable length, multi-valued ids).
  virtual uint32_t value_dim() const = 0;
  // Width of the feature's output in a feature group: embedding_dim when
  // embedded, else value_dim for dense values.
  virtual uint32_t output_dim() const = 0;
  // "autodis" / "mlp" when a dense feature is embedded; "" otherwise.
  virtual std::string dense_embedding_type() const { return ""; }
  // Sparse, or dense with a dense embedding.
  bool has_embedding() const { return is_sparse() || !dense_embedding_type().empty(); }

  // --- embedding --------------------------------------------------------------
  // Rows of the table; ConfigError when the config gives no size.
  virtual uint64_t num_embeddings() const = 0;
  // Configured embedding_dim; ConfigError when embedded with dim 0.
  uint32_t embedding_dim() const;
  std::string embedding_name() const;
  Pooling pooling() const;
  // The feature's table (sparse features only).
  EmbeddingTable embedding_table() const;

  // --- inputs -----------------------------------------------------------------
  // Raw inputs from the config, "side:name" split; sequence inputs of grouped
  // sub-features carry the "<sequence_name>__" prefix. ConfigError when the
  // config lacks them or one is malformed.
  const std::vector<FeatureInput>& side_inputs() const;
  // Column names the feature reads from a batch: its own name for FG-encoded
  // input (FG_NONE / FG_BUCKETIZE), else the side inputs' names.
  std::vector<std::string> inputs() const;
  // Fed only by user-side inputs (tiled under INPUT_TILE). CreateFeatures
  // resolves inputs of the form "feature:<name>" through the named feature.
  bool is_user_feature() const;
  void set_is_user_feature(bool value) { is_user_feature_ = value; }
  const std::string& data_group() const { return data_group_; }
  bool is_neg() const { return is_neg_; }
  // Train and eval batches give the feature the negative sampler's rows after
  // the batch's own (B + num_sample rows): it reads the sampler's attr_fields
  // and is no cross of user and item fields (__CNEG__, not supported). Holds
  // in __NEG__ and, with data_config.force_base_data_group, in __BASE__.
  bool gets_sampled_rows() const { return is_neg_ && data_group_ != kCrossNegDataGroup; }
  // Marks the feature as reading negative-sampler fields.
  virtual void set_is_neg(bool value);
  void set_data_group(const std::string& group) { data_group_ = group; }

  // --- values -----------------------------------------------------------------
  // Effective FG default value: the configured one, or "0" for a sequence
  // feature whose default is empty (as upstream).
  const std::string& default_value() const { return default_value_; }
  // fg_encoded_default_value when set in the config.
  const std::optional<std::string>& fg_encoded_default_value() const {
    return common_.fg_encoded_default_value;
  }
  bool use_mask() const { return common_.use_mask; }
  const FeatureOptions& options() const { return options_; }
  // Only an intermediate node of the FG DAG, not a model input.
  bool stub_type() const { return common_.stub_type.value_or(false); }

  // --- fg.json ----------------------------------------------------------------
  // This feature's fg.json entries (usually one; a lookup_feature with
  // value_dim > 1 has two). `renamed_assets` replaces asset paths by the names
  // of their copies (see CopyFeatureAssets in fg_json.h).
  nlohmann::ordered_json FgJson(const FeatureAssets& renamed_assets = {}) const;
  // Files the feature reads at FG time (vocab_file), by config field.
  virtual FeatureAssets Assets() const { return {}; }

  // The typed config message (IdFeature, RawFeature, ...).
  virtual const google::protobuf::Message& config() const = 0;

 protected:
  // Fields every feature type has, read once from the typed config.
  struct CommonFields {
    std::string feature_name;
    std::string embedding_name;
    uint32_t embedding_dim = 0;
    std::string pooling = "sum";
    std::string default_value;
    std::string init_fn;
    bool trainable = true;
    std::string data_type = "FP32";
    bool use_mask = false;
    std::optional<std::string> fg_encoded_default_value;
    std::optional<bool> stub_type;
    std::string sequence_delim = ";";
    uint32_t sequence_length = 0;
    std::vector<std::string> sequence_fields;
  };

  // Reads CommonFields from any feature message (they share field names).
  template <typename Config>
  static CommonFields ReadCommon(const Config& c) {
    CommonFields f;
    f.feature_name = c.feature_name();
    f.embedding_name = c.embedding_name();
    f.embedding_dim = c.embedding_dim();
    f.pooling = c.pooling();
    f.init_fn = c.init_fn();
    f.trainable = c.trainable();
    f.data_type = c.data_type();
    f.use_mask = c.use_mask();
    if (c.has_fg_encoded_default_value()) f.fg_encoded_default_value = c.fg_encoded_default_value();
    if (c.has_stub_type()) f.stub_type = c.stub_type();
    f.sequence_delim = c.sequence_delim();
    f.sequence_length = c.sequence_length();
    f.sequence_fields.assign(c.sequence_fields().begin(), c.sequence_fields().end());
    return f;
  }

  // `is_sequence`: a sequence_* entry or a grouped sub-feature (group set).
  Feature(CommonFields common, std::string configured_default, const FeatureOptions& options,
          bool is_sequence, std::optional<SequenceGroup> group);

  // The config's "side:name" input strings; nullopt when the config lacks them.
  virtual std::optional<std::vector<std::string>> RawInputs() const = 0;

  // Upstream's rule for which inputs of a grouped sub-feature are sequences
  // (and get the group prefix); overridden by single-input types.
  virtual bool IsSequenceInput(const std::string& side, const std::string& name) const;
  // Types with exactly one input treat any non-"feature" input as a sequence.
  virtual bool is_single_input_type() const { return false; }

  // The type's own fg.json entries, before the sequence adjustments.
  virtual nlohmann::ordered_json TypeFgJson(const FeatureAssets& renamed_assets) const = 0;

  // Adds "sequence_fields" to `entry` for grouped sub-features that set them.
  void AddSequenceFields(nlohmann::ordered_json& entry) const;
  // "<Type>[<name>]" for error messages.
  std::string Describe() const;

  const CommonFields& common() const { return common_; }

 private:
  CommonFields common_;
  FeatureOptions options_;
  std::string name_;
  std::string default_value_;
  bool is_sequence_ = false;
  std::optional<SequenceGroup> group_;
  std::string sequence_delim_;
  uint32_t sequence_length_ = 0;

  mutable std::optional<std::vector<FeatureInput>> side_inputs_;
  std::optional<bool> is_user_feature_;
  bool is_neg_ = false;
  std::string data_group_ = kBaseDataGroup;
};

}  // namespace tzrec
