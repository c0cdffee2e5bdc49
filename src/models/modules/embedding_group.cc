#include "models/modules/embedding_group.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "common/error.h"
#include "features/embedding_tables.h"
#include "models/modules/jit_module.h"
#include "models/modules/sequence_encoder.h"

namespace tzrec::models {
const std::vector<int64_t>& EmbeddingGroupLayout::dims(const std::string& group,
                                                        const std::string& model) const {
  auto it = group_dims.find(group);
  if (it == group_dims.end() && is_sequence_group(group)) {
    FailConfig("model_config.{}: feature group '{}' is a SEQUENCE group, which this model cannot "
               "read as a whole (its parts are '{}.query' and '{}.sequence')",
               model, group, group, group);
  }
  if (it == group_dims.end()) FailConfig("model_config.{} needs a feature group named '{}'", model, group);
  return it->second;
}

int64_t EmbeddingGroupLayout::total_dim(const std::string& group, const std::string& model) const {
  dims(group, model);
  return group_total_dim.at(group);
}

bool EmbeddingGroupLayout::is_sequence_group(const std::string& name) const {
  return std::find(sequence_groups.begin(), sequence_groups.end(), name) != sequence_groups.end();
}

namespace {

// Helpers of the group module, defined before forward.
const char kGroupHelpers[] =
    // Longest sequence of the batch (0 for an empty batch).
    "def max_length(self, lengths: Tensor) -> int:\n"
    "    if lengths.size(0) == 0:\n"
    "        return 0\n"
    "    return int(torch.max(lengths))\n"
    // Jagged rows [N, dim] with `lengths` rows per sample -> [B, max_len, dim],
    // zeros after each sample's rows (torchrec's to_padded_dense).
    "def to_padded(self, values: Tensor, lengths: Tensor, max_len: int) -> Tensor:\n"
    "    batch = lengths.size(0)\n"
    "    rows = torch.repeat_interleave(torch.arange(batch), lengths)\n"
    "    offsets = torch.cumsum(lengths, 0) - lengths\n"
    "    cols = torch.arange(values.size(0)) - torch.index_select(offsets, 0, rows)\n"
    "    flat = values.new_zeros([batch * max_len, values.size(1)])\n"
    "    flat = torch.index_copy(flat, 0, rows * max_len + cols, values)\n"
    "    return flat.view([batch, max_len, values.size(1)])\n"
    // Jagged rows pooled per sample (sum, or mean when `mean`).
    "def pool_jagged(self, values: Tensor, lengths: Tensor, mean: bool) -> Tensor:\n"
    "    offsets = torch.cumsum(lengths, 0) - lengths\n"
    "    ids = torch.arange(values.size(0))\n"
    "    pooled = torch.embedding_bag(values, ids, offsets, False, 0, False, None, False)[0]\n"
    "    if mean:\n"
    "        pooled = pooled / torch.clamp(lengths, 1).unsqueeze(1).to(pooled.dtype)\n"
    "    return pooled\n";

// Builds the group module's forward source and its tables.
class GroupSourceBuilder {
 public:
  GroupSourceBuilder(const std::vector<const Feature*>& features,
                     const google::protobuf::RepeatedPtrField<protos::FeatureGroupConfig>& groups,
                     const EmbeddingGroupOptions& options)
      : groups_(groups), options_(options) {
    for (const Feature* f : features) by_name_[f->name()] = f;
  }

  EmbeddingGroup Build() {
    CheckGroups();
    CountTables();
    for (int g = 0; g < groups_.size(); ++g) {
      const protos::FeatureGroupConfig& group = groups_.Get(g);
      if (IsSequenceType(group)) {
        AddSequenceGroup(g, group);
      } else {
        AddPooledGroup(g, group);
      }
    }
    return Finish();
  }

 private:
  static bool IsSequenceType(const protos::FeatureGroupConfig& group) {
    return group.group_type() == protos::SEQUENCE;
  }

  std::string Where(int g) const {
    return fmt::format("model_config.feature_groups[{}] ('{}')", g, groups_.Get(g).group_name());
  }

  const Feature& FeatureOf(int g, const std::string& name) const {
    auto it = by_name_.find(name);
    if (it == by_name_.end()) FailConfig("{}: unknown feature '{}'", Where(g), name);
    const Feature& feature = *it->second;
    if (feature.is_dense() && !feature.dense_embedding_type().empty()) {
      FailConfig("{}: dense feature '{}' uses a {} dense embedding, not supported yet", Where(g),
                 name, feature.dense_embedding_type());
    }
    return feature;
  }

  void CheckGroups() const {
    std::set<std::string> names;
    for (int g = 0; g < groups_.size(); ++g) {
      const protos::FeatureGroupConfig& group = groups_.Get(g);
      const auto type = group.group_type();
      if (type != protos::DEEP && type != protos::WIDE && type != protos::SEQUENCE) {
        FailConfig("{}: group_type {} is not supported by tzrec's model builder yet", Where(g),
                   protos::FeatureGroupType_Name(type));
      }
      if (group.sequence_groups_size() > 0 || group.sequence_encoders_size() > 0) {
        CheckNestedSequences(g, group);
      }
      if (!names.insert(group.group_name()).second) FailConfig("{}: duplicate group_name", Where(g));
      if (group.feature_names_size() == 0) FailConfig("{}: has no feature_names", Where(g));
      CheckDataGroup(g, group);
    }
  }

  // A group reads one batch: its features share a data group (upstream's
  // rule). Sampled negatives (__NEG__) are pooled only: their rows follow the
  // batch's, so a sequence of them has no meaning.
  void CheckDataGroup(int g, const protos::FeatureGroupConfig& group) const {
    std::map<std::string, std::vector<std::string>> by_data_group;
    auto add = [&](const std::string& name) {
      auto it = by_name_.find(name);
      if (it != by_name_.end()) by_data_group[it->second->data_group()].push_back(name);
    };
    for (const std::string& name : group.feature_names()) add(name);
    for (const auto& sg : group.sequence_groups()) {
      for (const std::string& name : sg.feature_names()) add(name);
    }
    if (by_data_group.size() > 1) {
      std::string listing;
      for (const auto& [data_group, names] : by_data_group) {
        listing += fmt::format("{}{}: {}", listing.empty() ? "" : "; ", data_group, fmt::join(names, ","));
      }
      FailConfig("{}: its features read different data groups ({}); a group reads one", Where(g), listing);
    }
    if (by_data_group.empty()) return;
    const std::string& data_group = by_data_group.begin()->first;
    if (data_group == kBaseDataGroup) {
      CheckForcedBaseGroup(g, group);
      return;
    }
    if (data_group != kNegDataGroup) {
      FailConfig("{}: features in data group {} (crosses of user and sampled item fields) are not "
                 "supported yet", Where(g), data_group);
    }
    if (IsSequenceType(group) || group.sequence_groups_size() > 0) {
      FailConfig("{}: features in data group {} (a negative sampler's attr_fields) can be in "
                 "DEEP/WIDE groups only", Where(g), data_group);
    }
  }

  // With data_config.force_base_data_group, features reading a negative
  // sampler's attr_fields stay in __BASE__ but still get B + num_sample rows
  // in training. Upstream pads the group's other features with empty rows
  // for the samples; tzrec refuses the mix: such a feature would tell
  // positives from samples by being set. Sampled rows are pooled only, as in
  // __NEG__.
  void CheckForcedBaseGroup(int g, const protos::FeatureGroupConfig& group) const {
    std::vector<std::string> sampled, batch_only;
    auto add = [&](const std::string& name) {
      auto it = by_name_.find(name);
      if (it != by_name_.end()) (it->second->gets_sampled_rows() ? sampled : batch_only).push_back(name);
    };
    for (const std::string& name : group.feature_names()) add(name);
    for (const auto& sg : group.sequence_groups()) {
      for (const std::string& name : sg.feature_names()) add(name);
    }
    if (sampled.empty()) return;
    if (!batch_only.empty()) {
      FailConfig("{}: with data_config.force_base_data_group, features that get the negative sampler's items "
                 "({}) and features that do not ({}) cannot share a group; a group reads one batch",
                 Where(g), fmt::join(sampled, ","), fmt::join(batch_only, ","));
    }
    if (IsSequenceType(group) || group.sequence_groups_size() > 0) {
      FailConfig("{}: features that get the negative sampler's items ({}) can be in DEEP/WIDE groups only",
                 Where(g), fmt::join(sampled, ","));
    }
  }

  // A DEEP group's sequence_groups and sequence_encoders, checked as
  // upstream's EmbeddingGroup does.
  void CheckNestedSequences(int g, const protos::FeatureGroupConfig& group) const {
    if (group.group_type() != protos::DEEP) {
      FailConfig("{}: sequence_groups and sequence_encoders belong in DEEP groups", Where(g));
    }
    if (group.sequence_groups_size() == 0) FailConfig("{}: sequence_encoders need sequence_groups", Where(g));
    if (group.sequence_encoders_size() == 0) FailConfig("{}: sequence_groups need sequence_encoders", Where(g));
    if (group.sequence_groups_size() > 1) {
      for (const auto& sg : group.sequence_groups()) {
        if (sg.group_name().empty()) {
          FailConfig("{}: with several sequence_groups each needs a group_name", Where(g));
        }
      }
    }
  }

  // The name of a DEEP group's sequence group (the group's own name when it
  // has a single unnamed one, as upstream).
  static std::string NestedName(const protos::FeatureGroupConfig& group,
                                const protos::SeqGroupConfig& sg) {
    return sg.group_name().empty() ? group.group_name() : sg.group_name();
  }

  // The group a nested sequence group's tables are named in: SEQUENCE, with
  // the parent's embedding_name_suffix unless it sets its own.
  static protos::FeatureGroupConfig NestedTableGroup(const protos::FeatureGroupConfig& group,
                                                     const protos::SeqGroupConfig& sg) {
    protos::FeatureGroupConfig table_group;
    table_group.set_group_name(NestedName(group, sg));
    table_group.set_group_type(protos::SEQUENCE);
    table_group.set_embedding_name_suffix(sg.embedding_name_suffix().empty()
                                              ? group.embedding_name_suffix()
                                              : sg.embedding_name_suffix());
    return table_group;
  }

  // The table a sparse feature reads in a group (pooled: WIDE renaming and
  // init; sequence groups: pooling does not matter for sharing).
  EmbeddingTable TableOf(const Feature& feature, const protos::FeatureGroupConfig& group) const {
    EmbeddingTable table = GroupEmbeddingTable(feature, group, options_.wide_embedding_dim);
    if (group.group_type() == protos::WIDE && !options_.wide_init_fn.empty()) {
      table.init_fn = options_.wide_init_fn;
    }
    if (IsSequenceType(group)) table.pooling = Pooling::kSum;
    return table;
  }

  // Features reading more than one table of a kind get "<feature>@<table>"
  // input keys, as torchrec names such outputs.
  void CountTables() {
    for (int g = 0; g < groups_.size(); ++g) {
      const protos::FeatureGroupConfig& group = groups_.Get(g);
      auto& tables = IsSequenceType(group) ? ec_tables_of_ : pooled_tables_of_;
      for (const std::string& name : group.feature_names()) {
        const Feature& feature = FeatureOf(g, name);
        if (feature.is_sparse()) tables[name].insert(TableOf(feature, group).name);
      }
      for (const auto& sg : group.sequence_groups()) {
        const protos::FeatureGroupConfig table_group = NestedTableGroup(group, sg);
        for (const std::string& name : sg.feature_names()) {
          const Feature& feature = FeatureOf(g, name);
          if (feature.is_sparse()) ec_tables_of_[name].insert(TableOf(feature, table_group).name);
        }
      }
    }
  }

  std::string InputKey(const Feature& feature, const std::string& table, bool jagged) const {
    const auto& tables = jagged ? ec_tables_of_ : pooled_tables_of_;
    auto it = tables.find(feature.name());
    const bool shared = it != tables.end() && it->second.size() > 1;
    return shared ? feature.name() + "@" + table : feature.name();
  }

  std::string NewVar(const char* prefix) { return fmt::format("{}{}", prefix, next_var_++); }

  // `lengths` -> offsets of its bags, computed once per lengths input and
  // shared by every table the feature is looked up in (e.g. its wide and deep
  // bags): fewer operators per call, and fewer allocations between the bags.
  std::string Offsets(const std::string& lengths) {
    auto found = offsets_vars_.find(lengths);
    if (found != offsets_vars_.end()) return found->second;
    std::string var = NewVar("o");
    lookups_ += fmt::format("    {0} = {1}\n    {0} = torch.cumsum({0}, 0) - {0}\n", var, lengths);
    offsets_vars_[lengths] = var;
    return var;
  }

  static std::string Data(const std::string& key) { return fmt::format("data[{}]", PyStr(key)); }

  // INPUT_TILE=3: is `feature` looked up once per request and tiled after?
  bool TiledAfterLookup(const Feature& feature) const {
    return options_.tile_user_embeddings && !options_.embedded_inputs && feature.is_user_feature();
  }

  // Repeats looked-up rows [1 or L, dim] `tile` times: one request's user
  // rows become every candidate's.
  void TileRows(const std::string& var) {
    lookups_ += fmt::format("    {0} = {0}.repeat([tile, 1])\n", var);
    tiles_user_rows_ = true;
  }

  // --- DEEP / WIDE --------------------------------------------------------------
  void AddPooledGroup(int g, const protos::FeatureGroupConfig& group) {
    std::vector<int64_t> dims;
    std::vector<std::string> parts;
    for (const std::string& name : group.feature_names()) {
      const Feature& feature = FeatureOf(g, name);
      if (feature.is_sequence()) {
        FailConfig("{}: sequence feature '{}' belongs in a SEQUENCE group", Where(g), name);
      }
      if (feature.is_dense()) {
        if (group.group_type() == protos::WIDE) {
          FailConfig("{}: dense feature '{}' cannot be in a WIDE group", Where(g), name);
        }
        parts.push_back(Data(feature.values_key()));
        dims.push_back(feature.output_dim());
        continue;
      }
      const EmbeddingTable table = TableOf(feature, group);
      AddSharedTable(PooledTables(feature.data_group()), table, feature.name());
      parts.push_back(PooledLookup(feature, table));
      dims.push_back(table.embedding_dim);
    }
    if (group.sequence_groups_size() == 0) {
      plain_groups_.push_back({group.group_name(), parts});
      SetDims(group.group_name(), dims);
      return;
    }
    // Sequence groups inside a DEEP group: their parts join the outputs, and
    // each encoder's result is appended to the group once they exist.
    std::vector<std::string> names;
    for (const auto& sg : group.sequence_groups()) {
      names.push_back(NestedName(group, sg));
      AddSequenceParts(g, names.back(), sg.feature_names(), NestedTableGroup(group, sg));
    }
    torch::jit::Module encoders = NewModule("ModuleList");
    for (int i = 0; i < group.sequence_encoders_size(); ++i) {
      const protos::SeqEncoderConfig& config = group.sequence_encoders(i);
      const std::string where = fmt::format("{}.sequence_encoders[{}]", Where(g), i);
      const auto* field = config.GetDescriptor()->FindFieldByNumber(config.seq_module_case());
      std::string input;
      if (field != nullptr) {
        const auto& message = config.GetReflection()->GetMessage(config, field);
        const auto* input_field = message.GetDescriptor()->FindFieldByName("input");
        if (input_field != nullptr) input = message.GetReflection()->GetString(message, input_field);
      }
      if (input.empty() && names.size() == 1) input = names[0];
      if (input.empty()) FailConfig("{}: needs an input (the group has several sequence_groups)", where);
      if (std::find(names.begin(), names.end(), input) == names.end()) {
        FailConfig("{}: input '{}' is not one of the group's sequence_groups", where, input);
      }
      SequenceEncoder encoder =
          BuildSequenceEncoder(config, input, layout_.group_total_dim.at(input + ".query"),
                               layout_.group_total_dim.at(input + ".sequence"), where);
      AddChild(encoders, std::to_string(i), encoder.module);
      const std::string var = NewVar("enc");
      encoder_lines_ += fmt::format(
          "    {} = getattr(getattr(self._group_name_to_seq_encoders, {}), \"{}\").forward(out)\n",
          var, PyStr(group.group_name()), i);
      parts.push_back(var);
      dims.push_back(encoder.output_dim);
    }
    encoder_lines_ += fmt::format("    out[{}] = torch.cat([{}], 1)\n", PyStr(group.group_name()),
                                  Join(parts));
    seq_encoders_.emplace_back(group.group_name(), encoders);
    SetDims(group.group_name(), dims);
  }

  struct PlainGroup {  // a DEEP/WIDE group without sequence parts (widths: layout_.group_dims)
    std::string name;
    std::vector<std::string> parts;
  };

  // Where `inner`'s parts run contiguously inside `outer`'s: the column
  // offset of the run, or -1.
  int64_t RunOffset(const PlainGroup& inner, const PlainGroup& outer) const {
    const auto& q = outer.parts;
    const std::vector<int64_t>& dims = layout_.group_dims.at(outer.name);
    for (size_t start = 0; start + inner.parts.size() <= q.size(); ++start) {
      if (!std::equal(inner.parts.begin(), inner.parts.end(), q.begin() + static_cast<std::ptrdiff_t>(start))) {
        continue;
      }
      int64_t offset = 0;
      for (size_t i = 0; i < start; ++i) offset += dims[i];
      return offset;
    }
    return -1;
  }

  // The DEEP/WIDE groups' tensors: each the concatenation of its parts, or,
  // when its parts run inside a larger group's (DeepFM's fm group inside its
  // deep group), a view of that group's tensor, so the same embeddings are not
  // copied twice per call. Concatenations come first, then the views.
  std::string PooledOutputs() const {
    std::string cats, views;
    for (size_t i = 0; i < plain_groups_.size(); ++i) {
      const PlainGroup& group = plain_groups_[i];
      // The largest group holding this one's parts (the earliest among equals).
      const PlainGroup* base = nullptr;
      int64_t base_offset = -1;
      for (size_t j = 0; j < plain_groups_.size(); ++j) {
        const PlainGroup& other = plain_groups_[j];
        const bool larger = other.parts.size() > group.parts.size() || (other.parts.size() == group.parts.size() && j < i);
        if (j == i || !larger || (base != nullptr && other.parts.size() <= base->parts.size())) continue;
        const int64_t offset = RunOffset(group, other);
        if (offset >= 0) {
          base = &other;
          base_offset = offset;
        }
      }
      if (base == nullptr) {
        cats += fmt::format("    out[{}] = torch.cat([{}], 1)\n", PyStr(group.name), Join(group.parts));
      } else {
        views += fmt::format("    out[{}] = out[{}].narrow(1, {}, {})\n", PyStr(group.name), PyStr(base->name),
                             base_offset, layout_.group_total_dim.at(group.name));
      }
    }
    return cats + views;
  }

  // Pooled tables live per data group, as upstream's EmbeddingGroupImpl per
  // key: emb_impls.<data group>.ebc.embedding_bags.<table>.
  std::vector<SharedEmbeddingTable>& PooledTables(const std::string& data_group) {
    for (auto& [name, tables] : pooled_tables_) {
      if (name == data_group) return tables;
    }
    return pooled_tables_.emplace_back(data_group, std::vector<SharedEmbeddingTable>{}).second;
  }

  static std::string BagPath(const std::string& data_group, const std::string& table) {
    return fmt::format("emb_impls.{}.ebc.embedding_bags.{}.weight", data_group, table);
  }

  // The forward's variable holding a data group's tables ("bags" for the
  // batch's own rows, as before data groups existed).
  static std::string BagsVar(const std::string& data_group) {
    return data_group == kBaseDataGroup ? std::string("bags") : std::string("bags_neg");
  }

  std::string PooledLookup(const Feature& feature, const EmbeddingTable& table) {
    auto key = std::make_pair(feature.name(), table.name);
    auto found = pooled_vars_.find(key);
    if (found != pooled_vars_.end()) return found->second;
    const std::string var = NewVar("e");
    pooled_vars_[key] = var;
    EmbeddedInput input;
    const std::string input_key = InputKey(feature, table.name, /*jagged=*/false);
    input.key = input_key + "__ebc";
    input.feature = feature.name();
    input.table = table.name;
    input.table_path = BagPath(feature.data_group(), table.name);
    input.dim = table.embedding_dim;
    input.pooling = table.pooling;
    layout_.embedded_inputs.push_back(input);
    if (options_.embedded_inputs) {
      lookups_ += fmt::format("    {} = {}\n", var, Data(input.key));
      return var;
    }
    const std::string lengths = Data(feature.lengths_key());
    const std::string offsets = Offsets(lengths);
    const std::string weights =
        feature.is_weighted() ? Data(feature.weights_key()) : std::string("None");
    lookups_ += fmt::format("    {} = getattr({}, {}).forward({}, {}, {})\n", var,
                            BagsVar(feature.data_group()), PyStr(table.name),
                            Data(feature.values_key()), offsets, weights);
    if (table.pooling == Pooling::kMean) {
      lookups_ += fmt::format("    {0} = {0} / torch.clamp({1}, 1).unsqueeze(1).to({0}.dtype)\n",
                              var, lengths);
    }
    if (TiledAfterLookup(feature)) TileRows(var);
    return var;
  }

  // --- SEQUENCE -----------------------------------------------------------------
  struct Jagged {
    std::string values;   // variable: rows [N, dim]
    std::string lengths;  // expression: rows per sample [B]
  };

  // The EmbeddingCollection table path of `table` (grouped by dim, as upstream).
  std::string EcPath(const EmbeddingTable& table) const {
    return fmt::format("seq_emb_impls.__BASE__.ec_dict.{}.embeddings.{}.weight",
                       table.embedding_dim, table.name);
  }

  std::string EcTable(const EmbeddingTable& table) const {
    return fmt::format("getattr(getattr(ecs, \"{}\").embeddings, {})", table.embedding_dim,
                       PyStr(table.name));
  }

  // Registers the embedded input of a sparse sequence-group feature.
  EmbeddedInput& AddEcInput(const Feature& feature, const EmbeddingTable& table) {
    EmbeddedInput input;
    const std::string key = InputKey(feature, table.name, /*jagged=*/true);
    input.key = key + "__ec";
    input.lengths_key = key + "__lengths";
    input.feature = feature.name();
    input.table = table.name;
    input.table_path = EcPath(table);
    input.dim = table.embedding_dim;
    input.jagged = true;
    input.pooling = feature.pooling();
    layout_.embedded_inputs.push_back(input);
    return layout_.embedded_inputs.back();
  }

  void AddEcTable(const Feature& feature, const EmbeddingTable& table) {
    const size_t before = ec_tables_.size();
    AddSharedTable(ec_tables_, table, feature.name());
    if (ec_tables_.size() != before) {
      auto& by_dim = ec_dims_[table.embedding_dim];
      if (by_dim.empty()) ec_dim_order_.push_back(table.embedding_dim);
      by_dim.push_back(table);
    }
  }

  // A query feature of a sequence group, pooled per sample.
  std::string QueryLookup(const Feature& feature, const EmbeddingTable& table) {
    auto key = std::make_pair(feature.name(), table.name);
    auto found = query_vars_.find(key);
    if (found != query_vars_.end()) return found->second;
    AddEcTable(feature, table);
    const EmbeddedInput& input = AddEcInput(feature, table);
    const std::string var = NewVar("q");
    query_vars_[key] = var;
    const bool mean = feature.pooling() == Pooling::kMean;
    if (options_.embedded_inputs) {
      lookups_ += fmt::format("    {} = self.pool_jagged({}, {}, {})\n", var, Data(input.key),
                              Data(input.lengths_key), mean ? "True" : "False");
      return var;
    }
    const std::string lengths = Data(feature.lengths_key());
    lookups_ += fmt::format("    {} = {}.forward({}, {}, None)\n", var, EcTable(table),
                            Data(feature.values_key()), Offsets(lengths));
    if (mean) {
      lookups_ += fmt::format("    {0} = {0} / torch.clamp({1}, 1).unsqueeze(1).to({0}.dtype)\n",
                              var, lengths);
    }
    if (TiledAfterLookup(feature)) TileRows(var);
    return var;
  }

  // A sparse sequence feature: one row per element.
  Jagged SequenceLookup(const Feature& feature, const EmbeddingTable& table) {
    auto key = std::make_pair(feature.name(), table.name);
    auto found = sequence_vars_.find(key);
    if (found != sequence_vars_.end()) return found->second;
    AddEcTable(feature, table);
    const EmbeddedInput& input = AddEcInput(feature, table);
    Jagged jagged{NewVar("s"), ""};
    if (options_.embedded_inputs) {
      lookups_ += fmt::format("    {} = {}\n", jagged.values, Data(input.key));
      jagged.lengths = Data(input.lengths_key);
    } else {
      const std::string ids = Data(feature.values_key());
      std::string offsets;
      if (feature.value_dim() == 1) {
        // One id per element: every id is its own bag.
        offsets = NewVar("o");
        lookups_ += fmt::format("    {} = torch.arange({}.size(0))\n", offsets, ids);
      } else {
        offsets = Offsets(Data(feature.name() + ".key_lengths"));
      }
      lookups_ += fmt::format("    {} = {}.forward({}, {}, None)\n", jagged.values,
                              EcTable(table), ids, offsets);
      if (feature.value_dim() != 1 && feature.pooling() == Pooling::kMean) {
        lookups_ += fmt::format(
            "    {0} = {0} / torch.clamp({1}, 1).unsqueeze(1).to({0}.dtype)\n", jagged.values,
            Data(feature.name() + ".key_lengths"));
      }
      jagged.lengths = Data(feature.lengths_key());
      if (TiledAfterLookup(feature)) {
        // One user's jagged rows repeated: sample i's rows are the block i.
        TileRows(jagged.values);
        jagged.lengths = NewVar("sl");
        lookups_ += fmt::format("    {} = {}.repeat([tile])\n", jagged.lengths,
                                Data(feature.lengths_key()));
      }
    }
    sequence_vars_[key] = jagged;
    return jagged;
  }

  void AddSequenceGroup(int g, const protos::FeatureGroupConfig& group) {
    AddSequenceParts(g, group.group_name(), group.feature_names(), group);
    layout_.sequence_groups.push_back(group.group_name());
  }

  // The query, sequence and sequence_length outputs of sequence group `name`
  // with `feature_names`; tables are named as in `table_group`.
  void AddSequenceParts(int g, const std::string& name,
                        const google::protobuf::RepeatedPtrField<std::string>& feature_names,
                        const protos::FeatureGroupConfig& group) {
    if (layout_.has_group(name + ".query")) {
      FailConfig("{}: sequence group name '{}' is used twice", Where(g), name);
    }
    std::vector<int64_t> query_dims, sequence_dims;
    std::vector<std::string> query_parts;
    std::vector<Jagged> sequences;
    for (const std::string& feature_name : feature_names) {
      const Feature& feature = FeatureOf(g, feature_name);
      if (!feature.is_sequence()) {
        if (feature.is_dense()) {
          query_parts.push_back(Data(feature.values_key()));
          query_dims.push_back(feature.output_dim());
        } else {
          const EmbeddingTable table = TableOf(feature, group);
          query_parts.push_back(QueryLookup(feature, table));
          query_dims.push_back(table.embedding_dim);
        }
        continue;
      }
      if (feature.is_dense()) {
        const std::string var = NewVar("s");
        lookups_ += fmt::format("    {} = {}\n", var, Data(feature.values_key()));
        sequences.push_back({var, Data(feature.lengths_key())});
        sequence_dims.push_back(feature.output_dim());
      } else {
        const EmbeddingTable table = TableOf(feature, group);
        sequences.push_back(SequenceLookup(feature, table));
        sequence_dims.push_back(table.embedding_dim);
      }
    }
    if (!query_parts.empty()) {
      outputs_ += fmt::format("    out[{}] = torch.cat([{}], 1)\n", PyStr(name + ".query"),
                              Join(query_parts));
    }
    if (!sequences.empty()) {
      // The group's lengths and padded length come from its first sequence
      // feature; its members share one sequence, so they agree.
      const std::string lengths = NewVar("sl");
      const std::string max_len = NewVar("sm");
      outputs_ += fmt::format("    {} = {}\n", lengths, sequences[0].lengths);
      outputs_ += fmt::format("    {} = self.max_length({})\n", max_len, lengths);
      std::vector<std::string> padded;
      for (const Jagged& s : sequences) {
        padded.push_back(fmt::format("self.to_padded({}, {}, {})", s.values, s.lengths, max_len));
      }
      outputs_ += fmt::format("    out[{}] = torch.cat([{}], -1)\n", PyStr(name + ".sequence"),
                              Join(padded));
      outputs_ += fmt::format("    out[{}] = {}\n", PyStr(name + ".sequence_length"), lengths);
    }
    SetDims(name + ".query", query_dims);
    SetDims(name + ".sequence", sequence_dims);
    has_sequence_parts_ = true;
  }

  // --- assembly -----------------------------------------------------------------
  static std::string Join(const std::vector<std::string>& parts) {
    std::string joined;
    for (const auto& p : parts) joined += (joined.empty() ? "" : ", ") + p;
    return joined;
  }

  void SetDims(const std::string& name, const std::vector<int64_t>& dims) {
    int64_t total = 0;
    for (int64_t d : dims) total += d;
    layout_.group_dims[name] = dims;
    layout_.group_total_dim[name] = total;
  }

  torch::jit::Module NewTable(const EmbeddingTable& spec, TableStorage storage,
                              const std::string& path) {
    torch::jit::Module table =
        options_.tables_restored_later
            ? BuildStoredTable(EmptyStoredTable(static_cast<int64_t>(spec.num_embeddings),
                                                static_cast<int64_t>(spec.embedding_dim), storage),
                               storage)
            : BuildTable(InitTable(spec), storage);
    if (!spec.trainable && storage == TableStorage::kFp32) {
      // trainable: false freezes the table: no gradient, so no optimizer update.
      table.attr("weight").toTensor().set_requires_grad(false);
    }
    layout_.table_weight_paths.push_back(path);
    layout_.table_storage[path] = storage;
    return table;
  }

  EmbeddingGroup Finish() {
    const bool with_tables = !options_.embedded_inputs;
    if (pooled_tables_.empty()) PooledTables(kBaseDataGroup);
    torch::jit::Module impls = NewModule("ModuleDict");
    for (const auto& [data_group, tables] : pooled_tables_) {
      torch::jit::Module bags = NewModule("ModuleDict");
      if (with_tables) {
        for (const SharedEmbeddingTable& t : tables) {
          AddChild(bags, t.table.name,
                   NewTable(t.table, options_.storage, BagPath(data_group, t.table.name)));
        }
      }
      torch::jit::Module ebc = NewModule("EmbeddingBagCollection");
      AddChild(ebc, "embedding_bags", bags);
      torch::jit::Module impl = NewModule("EmbeddingGroupImpl");
      AddChild(impl, "ebc", ebc);
      AddChild(impls, data_group, impl);
    }
    EmbeddingGroup result;
    result.module = NewModule("EmbeddingGroup");
    AddChild(result.module, "emb_impls", impls);

    const bool has_ec = with_tables && !ec_tables_.empty();
    if (has_sequence_parts_) {
      torch::jit::Module ec_dict = NewModule("ModuleDict");
      if (has_ec) {
        for (uint32_t dim : ec_dim_order_) {
          torch::jit::Module embeddings = NewModule("ModuleDict");
          for (const EmbeddingTable& spec : ec_dims_[dim]) {
            AddChild(embeddings, spec.name,
                     NewTable(spec, options_.sequence_storage, EcPath(spec)));
          }
          torch::jit::Module ec = NewModule("EmbeddingCollection");
          AddChild(ec, "embeddings", embeddings);
          AddChild(ec_dict, std::to_string(dim), ec);
        }
      }
      torch::jit::Module seq_impl = NewModule("SequenceEmbeddingGroupImpl");
      AddChild(seq_impl, "ec_dict", ec_dict);
      torch::jit::Module seq_impls = NewModule("ModuleDict");
      AddChild(seq_impls, kBaseDataGroup, seq_impl);
      AddChild(result.module, "seq_emb_impls", seq_impls);
    }

    if (!seq_encoders_.empty()) {
      // Upstream's attribute name, so encoder parameters keep their state-dict names.
      torch::jit::Module by_group = NewModule("ModuleDict");
      for (const auto& [name, encoders] : seq_encoders_) AddChild(by_group, name, encoders);
      AddChild(result.module, "_group_name_to_seq_encoders", by_group);
    }
    std::string source = "def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:\n";
    for (const auto& [data_group, tables] : pooled_tables_) {
      if (!with_tables || tables.empty()) continue;
      source += fmt::format("    {} = getattr(self.emb_impls, {}).ebc.embedding_bags\n",
                            BagsVar(data_group), PyStr(data_group));
    }
    if (has_ec) {
      source += fmt::format("    ecs = getattr(self.seq_emb_impls, {}).ec_dict\n",
                            PyStr(kBaseDataGroup));
    }
    if (tiles_user_rows_) {
      source += "    tile = int(data[\"batch_size\"].reshape(-1)[0].item())\n";
    }
    source += lookups_;
    source += "    out: Dict[str, Tensor] = {}\n";
    source += PooledOutputs() + outputs_ + encoder_lines_ + "    return out\n";
    DefineMethods(result.module, kGroupHelpers);
    DefineMethods(result.module, source);
    result.layout = std::move(layout_);
    return result;
  }

  const google::protobuf::RepeatedPtrField<protos::FeatureGroupConfig>& groups_;
  const EmbeddingGroupOptions& options_;
  std::map<std::string, const Feature*> by_name_;
  std::map<std::string, std::set<std::string>> pooled_tables_of_, ec_tables_of_;

  EmbeddingGroupLayout layout_;
  // Per data group, in the order groups first use them.
  std::vector<std::pair<std::string, std::vector<SharedEmbeddingTable>>> pooled_tables_;
  std::vector<SharedEmbeddingTable> ec_tables_;
  std::map<uint32_t, std::vector<EmbeddingTable>> ec_dims_;
  std::vector<uint32_t> ec_dim_order_;
  std::map<std::pair<std::string, std::string>, std::string> pooled_vars_, query_vars_;
  std::map<std::string, std::string> offsets_vars_;  // lengths expression -> offsets variable
  std::vector<PlainGroup> plain_groups_;
  std::map<std::pair<std::string, std::string>, Jagged> sequence_vars_;
  std::string lookups_, outputs_, encoder_lines_;
  std::vector<std::pair<std::string, torch::jit::Module>> seq_encoders_;
  bool has_sequence_parts_ = false;
  bool tiles_user_rows_ = false;  // forward reads data["batch_size"]
  int next_var_ = 0;
};

}  // namespace

EmbeddingGroup BuildEmbeddingGroup(
    const std::vector<const Feature*>& features,
    const google::protobuf::RepeatedPtrField<protos::FeatureGroupConfig>& groups,
    const EmbeddingGroupOptions& options) {
  return GroupSourceBuilder(features, groups, options).Build();
}

}  // namespace tzrec::models
