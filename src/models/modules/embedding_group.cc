#include "models/modules/embedding_group.h"

#include <cmath>
#include <set>

#include <ATen/core/dispatch/Dispatcher.h>

#include "common/error.h"
#include "features/embedding_tables.h"
#include "models/modules/jit_module.h"

namespace tzrec::models {
namespace {

// "nn.init.uniform_,a=-0.01,b=0.01" -> name and keyword arguments.
std::pair<std::string, std::map<std::string, double>> ParseInitFn(const std::string& spec,
                                                                  const std::string& table) {
  std::map<std::string, double> args;
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= spec.size()) {
    size_t comma = spec.find(',', start);
    if (comma == std::string::npos) comma = spec.size();
    std::string part = spec.substr(start, comma - start);
    part.erase(0, part.find_first_not_of(' '));
    part.erase(part.find_last_not_of(' ') + 1);
    parts.push_back(part);
    start = comma + 1;
  }
  for (size_t i = 1; i < parts.size(); ++i) {
    auto eq = parts[i].find('=');
    try {
      if (eq == std::string::npos) throw std::invalid_argument("no '='");
      args[parts[i].substr(0, eq)] = std::stod(parts[i].substr(eq + 1));
    } catch (const std::exception&) {
      FailConfig("init_fn '{}' of embedding '{}': cannot parse argument '{}'", spec, table,
                 parts[i]);
    }
  }
  return {parts[0], args};
}

double Arg(const std::map<std::string, double>& args, const char* key, double fallback) {
  auto it = args.find(key);
  return it == args.end() ? fallback : it->second;
}

const char* kTableForward[] = {
    // kFp32: sparse gradients, so the sparse optimizer only touches looked-up rows.
    "def forward(self, values: Tensor, offsets: Tensor, weights: Optional[Tensor]) -> Tensor:\n"
    "    return torch.embedding_bag(self.weight, values, offsets, False, 0, True, weights, False)[0]\n",
    "def forward(self, values: Tensor, offsets: Tensor, weights: Optional[Tensor]) -> Tensor:\n"
    "    return quantized.embedding_bag_byte_rowwise_offsets(self.weight, values, offsets, False, 0,\n"
    "                                                        False, weights, None, False)\n",
    "def forward(self, values: Tensor, offsets: Tensor, weights: Optional[Tensor]) -> Tensor:\n"
    "    return quantized.embedding_bag_4bit_rowwise_offsets(self.weight, values, offsets, False, 0,\n"
    "                                                        False, weights, None, False)\n",
    "def forward(self, values: Tensor, offsets: Tensor, weights: Optional[Tensor]) -> Tensor:\n"
    "    return quantized.embedding_bag_2bit_rowwise_offsets(self.weight, values, offsets, False, 0,\n"
    "                                                        False, weights, None, False)\n",
};

}  // namespace

const char* TableStorageName(TableStorage storage) {
  switch (storage) {
    case TableStorage::kFp32: return "FP32";
    case TableStorage::kInt8: return "INT8";
    case TableStorage::kInt4: return "INT4";
    case TableStorage::kInt2: return "INT2";
  }
  return "?";
}

const std::vector<int64_t>& EmbeddingGroupLayout::dims(const std::string& group,
                                                        const std::string& model) const {
  auto it = group_dims.find(group);
  if (it == group_dims.end()) FailConfig("model_config.{} needs a feature group named '{}'", model, group);
  return it->second;
}

int64_t EmbeddingGroupLayout::total_dim(const std::string& group, const std::string& model) const {
  dims(group, model);
  return group_total_dim.at(group);
}

at::Tensor InitTable(const EmbeddingTable& table) {
  const auto rows = static_cast<int64_t>(table.num_embeddings);
  const auto dim = static_cast<int64_t>(table.embedding_dim);
  at::Tensor weight = at::empty({rows, dim}, at::kFloat);
  if (table.init_fn.empty()) {
    double bound = std::sqrt(1.0 / static_cast<double>(rows));
    return weight.uniform_(-bound, bound);
  }
  auto [fn, args] = ParseInitFn(table.init_fn, table.name);
  if (fn == "nn.init.uniform_") return weight.uniform_(Arg(args, "a", 0.0), Arg(args, "b", 1.0));
  if (fn == "nn.init.normal_") return weight.normal_(Arg(args, "mean", 0.0), Arg(args, "std", 1.0));
  if (fn == "nn.init.zeros_") return weight.zero_();
  if (fn == "nn.init.ones_") return weight.fill_(1.0);
  if (fn == "nn.init.constant_") return weight.fill_(Arg(args, "val", 0.0));
  FailConfig("init_fn '{}' of embedding '{}' is not supported (supported: nn.init.uniform_, "
             "nn.init.normal_, nn.init.zeros_, nn.init.ones_, nn.init.constant_)",
             table.init_fn, table.name);
}

at::Tensor PackTable(const at::Tensor& weight, TableStorage storage) {
  at::Tensor w = weight.detach().to(at::kFloat).contiguous();
  auto& dispatcher = c10::Dispatcher::singleton();
  switch (storage) {
    case TableStorage::kFp32:
      return w.clone();
    case TableStorage::kInt8: {
      static auto op = dispatcher.findSchemaOrThrow("quantized::embedding_bag_byte_prepack", "")
                           .typed<at::Tensor(const at::Tensor&)>();
      return op.call(w);
    }
    case TableStorage::kInt4:
    case TableStorage::kInt2: {
      const int64_t per_byte = storage == TableStorage::kInt4 ? 2 : 4;
      if (w.size(1) % per_byte != 0) {
        Fail("{} quantization needs an embedding dim divisible by {}, got {}",
             TableStorageName(storage), per_byte, w.size(1));
      }
      static auto op4 = dispatcher.findSchemaOrThrow("quantized::embedding_bag_4bit_prepack", "")
                            .typed<at::Tensor(const at::Tensor&, bool, int64_t, double)>();
      static auto op2 = dispatcher.findSchemaOrThrow("quantized::embedding_bag_2bit_prepack", "")
                            .typed<at::Tensor(const at::Tensor&, bool, int64_t, double)>();
      return (storage == TableStorage::kInt4 ? op4 : op2).call(w, false, 200, 0.16);
    }
  }
  Fail("unknown table storage");
}

torch::jit::Module BuildTable(const at::Tensor& weight, TableStorage storage) {
  torch::jit::Module table = NewModule(std::string("EmbeddingBag") + TableStorageName(storage));
  if (storage == TableStorage::kFp32) {
    AddParameter(table, "weight", weight);
  } else {
    AddBuffer(table, "weight", PackTable(weight, storage));
  }
  DefineMethods(table, kTableForward[static_cast<int>(storage)]);
  return table;
}

EmbeddingGroup BuildEmbeddingGroup(
    const std::vector<const Feature*>& features,
    const google::protobuf::RepeatedPtrField<protos::FeatureGroupConfig>& groups,
    const EmbeddingGroupOptions& options) {
  std::map<std::string, const Feature*> by_name;
  for (const Feature* f : features) by_name[f->name()] = f;

  EmbeddingGroup result;
  std::vector<SharedEmbeddingTable> tables;
  // One lookup per (feature, table): a feature in two groups with the same
  // table is looked up once.
  std::map<std::pair<std::string, std::string>, std::string> lookup_vars;
  std::string lookups;
  std::string outputs = "    out: Dict[str, Tensor] = {}\n";
  std::set<std::string> offsets_done;

  for (int g = 0; g < groups.size(); ++g) {
    const protos::FeatureGroupConfig& group = groups.Get(g);
    const std::string where = fmt::format("model_config.feature_groups[{}] ('{}')", g, group.group_name());
    if (group.group_type() != protos::DEEP && group.group_type() != protos::WIDE) {
      FailConfig("{}: group_type {} is not supported by tzrec's model builder yet", where,
                 protos::FeatureGroupType_Name(group.group_type()));
    }
    if (group.sequence_groups_size() > 0 || group.sequence_encoders_size() > 0) {
      FailConfig("{}: sequence_groups/sequence_encoders are not supported by tzrec's model "
                 "builder yet", where);
    }
    if (result.layout.has_group(group.group_name())) {
      FailConfig("{}: duplicate group_name", where);
    }
    if (group.feature_names_size() == 0) FailConfig("{}: has no feature_names", where);
    std::vector<int64_t> dims;
    std::vector<std::string> parts;
    for (const std::string& name : group.feature_names()) {
      auto it = by_name.find(name);
      if (it == by_name.end()) FailConfig("{}: unknown feature '{}'", where, name);
      const Feature& feature = *it->second;
      if (feature.data_group() != kBaseDataGroup) {
        FailConfig("{}: feature '{}' is in data group {}; only {} is supported yet", where, name,
                   feature.data_group(), kBaseDataGroup);
      }
      if (feature.is_sequence()) {
        FailConfig("{}: sequence feature '{}' needs a sequence group, not supported yet", where, name);
      }
      if (feature.is_dense()) {
        if (group.group_type() == protos::WIDE) {
          FailConfig("{}: dense feature '{}' cannot be in a WIDE group", where, name);
        }
        if (!feature.dense_embedding_type().empty()) {
          FailConfig("{}: dense feature '{}' uses a {} dense embedding, not supported yet", where,
                     name, feature.dense_embedding_type());
        }
        parts.push_back(fmt::format("data[{}]", PyStr(feature.values_key())));
        dims.push_back(feature.output_dim());
        continue;
      }
      EmbeddingTable table = GroupEmbeddingTable(feature, group, options.wide_embedding_dim);
      if (group.group_type() == protos::WIDE && !options.wide_init_fn.empty()) {
        table.init_fn = options.wide_init_fn;
      }
      AddSharedTable(tables, table, feature.name());
      auto key = std::make_pair(feature.name(), table.name);
      auto found = lookup_vars.find(key);
      std::string var;
      if (found != lookup_vars.end()) {
        var = found->second;
      } else {
        var = fmt::format("e{}", lookup_vars.size());
        lookup_vars[key] = var;
        const std::string offsets = fmt::format("o_{}", offsets_done.size());
        std::string lengths = fmt::format("data[{}]", PyStr(feature.lengths_key()));
        // Offsets are recomputed per lookup; TorchScript CSE is not needed for
        // the handful of features a group has.
        lookups += fmt::format("    {0} = {1}\n    {0} = torch.cumsum({0}, 0) - {0}\n", offsets, lengths);
        offsets_done.insert(offsets);
        std::string weights = feature.is_weighted()
                                  ? fmt::format("data[{}]", PyStr(feature.weights_key()))
                                  : std::string("None");
        lookups += fmt::format("    {} = getattr(bags, {}).forward(data[{}], {}, {})\n", var,
                               PyStr(table.name), PyStr(feature.values_key()), offsets, weights);
        if (table.pooling == Pooling::kMean) {
          lookups += fmt::format(
              "    {0} = {0} / torch.clamp({1}, 1).unsqueeze(1).to({0}.dtype)\n", var, lengths);
        }
      }
      parts.push_back(var);
      dims.push_back(table.embedding_dim);
    }
    std::string joined;
    for (const auto& p : parts) joined += (joined.empty() ? "" : ", ") + p;
    outputs += fmt::format("    out[{}] = torch.cat([{}], 1)\n", PyStr(group.group_name()), joined);
    int64_t total = 0;
    for (int64_t d : dims) total += d;
    result.layout.group_dims[group.group_name()] = dims;
    result.layout.group_total_dim[group.group_name()] = total;
  }

  torch::jit::Module bags = NewModule("ModuleDict");
  for (const SharedEmbeddingTable& t : tables) {
    torch::jit::Module table = BuildTable(InitTable(t.table), options.storage);
    if (!t.table.trainable && options.storage == TableStorage::kFp32) {
      // trainable: false freezes the table: no gradient, so no optimizer update.
      table.attr("weight").toTensor().set_requires_grad(false);
    }
    AddChild(bags, t.table.name, table);
    result.layout.table_weight_paths.push_back("emb_impls.__BASE__.ebc.embedding_bags." +
                                               t.table.name + ".weight");
  }
  torch::jit::Module ebc = NewModule("EmbeddingBagCollection");
  AddChild(ebc, "embedding_bags", bags);
  torch::jit::Module impl = NewModule("EmbeddingGroupImpl");
  AddChild(impl, "ebc", ebc);
  torch::jit::Module impls = NewModule("ModuleDict");
  AddChild(impls, kBaseDataGroup, impl);
  result.module = NewModule("EmbeddingGroup");
  AddChild(result.module, "emb_impls", impls);
  std::string source = "def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:\n";
  if (!tables.empty()) {
    source += fmt::format("    bags = getattr(self.emb_impls, {}).ebc.embedding_bags\n",
                          PyStr(kBaseDataGroup));
  }
  source += lookups + outputs + "    return out\n";
  DefineMethods(result.module, source);
  return result;
}

}  // namespace tzrec::models
