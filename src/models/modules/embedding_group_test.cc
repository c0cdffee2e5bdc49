#include "models/modules/embedding_group.h"

#include <limits>
#include <utility>

#include <ATen/core/dispatch/Dispatcher.h>
#include <gtest/gtest.h>

#include "common/error.h"
#include "config/pipeline_config.h"
#include "features/feature_factory.h"
#include "models/model.h"
#include "models/model_test_util.h"
#include "models/modules/embedding_table.h"
#include "models/modules/jit_module.h"

namespace tzrec::models {
namespace {

// Features: item (10 rows) and cat (6 rows, mean pooling), dim 4; price (raw);
// a grouped sequence "click" of item (one id per element), cat (several ids
// per element) and price. Groups: deep [item, cat, price], wide [item],
// seq [item, price | click__item, click__cat, click__price].
constexpr char kConfig[] = R"(
data_config { batch_size: 8 label_fields: "label" fg_mode: FG_NONE }
feature_configs { id_feature { feature_name: "item" expression: "item:item" num_buckets: 10 embedding_dim: 4 } }
feature_configs { id_feature { feature_name: "cat" expression: "item:cat" num_buckets: 6 embedding_dim: 4 pooling: "mean" } }
feature_configs { raw_feature { feature_name: "price" expression: "item:price" } }
feature_configs { sequence_feature { sequence_name: "click" sequence_length: 5 sequence_delim: "|"
  features { id_feature { feature_name: "item" expression: "item:item" num_buckets: 10 embedding_dim: 4 value_dim: 1 } }
  features { id_feature { feature_name: "cat" expression: "item:cat" num_buckets: 6 embedding_dim: 8 value_dim: 0 pooling: "mean" } }
  features { raw_feature { feature_name: "price" expression: "item:price" } }
} }
model_config {
  feature_groups { group_name: "deep" feature_names: "item" feature_names: "cat" feature_names: "price" group_type: DEEP }
  feature_groups { group_name: "wide" feature_names: "item" group_type: WIDE }
  feature_groups { group_name: "seq" feature_names: "item" feature_names: "price"
                   feature_names: "click__item" feature_names: "click__cat" feature_names: "click__price"
                   group_type: SEQUENCE }
  multi_tower_din {
    towers { input: "deep" mlp { hidden_units: [4] } }
    din_towers { input: "seq" attn_mlp { hidden_units: [4] } }
    final { hidden_units: [4] }
  }
  losses { binary_cross_entropy {} }
}
)";

struct Fixture {
  protos::EasyRecConfig config = ParsePipelineConfigText(kConfig, "embedding_group_test.config");
  FeatureList features = CreateFeatures(config);

  EmbeddingGroup Build(const EmbeddingGroupOptions& options = {}) {
    return BuildEmbeddingGroup(FeaturePointers(features), config.model_config().feature_groups(),
                               options);
  }
};

at::Tensor Long(std::vector<int64_t> v) { return at::tensor(v, at::kLong); }

// Three rows. click sequences have 2, 0 and 3 elements; click__cat elements
// hold 1, 2, | (none) | 1, 0, 2 ids.
TensorMap Inputs() {
  TensorMap in;
  in["item.values"] = Long({1, 7, 3});
  in["item.lengths"] = Long({1, 1, 1});
  in["cat.values"] = Long({2, 5, 4});
  in["cat.lengths"] = Long({2, 0, 1});
  in["price.values"] = at::tensor({0.5f, 1.5f, 2.5f}).view({3, 1});
  in["click__item.values"] = Long({1, 2, 3, 4, 9});
  in["click__item.lengths"] = Long({2, 0, 3});
  in["click__cat.values"] = Long({1, 2, 3, 4, 5, 0});
  in["click__cat.key_lengths"] = Long({1, 2, 1, 0, 2});
  in["click__cat.lengths"] = Long({2, 0, 3});
  in["click__price.values"] = at::tensor({0.1f, 0.2f, 0.3f, 0.4f, 0.5f}).view({5, 1});
  in["click__price.lengths"] = Long({2, 0, 3});
  return in;
}

c10::Dict<std::string, at::Tensor> RunGroup(EmbeddingGroup& group, const TensorMap& inputs) {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [k, v] : inputs) dict.insert(k, v);
  c10::IValue out = group.module.forward({dict});
  return c10::impl::toTypedDict<std::string, at::Tensor>(out.toGenericDict());
}

at::Tensor Param(EmbeddingGroup& group, const std::string& path) {
  for (const auto& p : group.module.named_parameters()) {
    if (p.name == path) return p.value;
  }
  for (const auto& b : group.module.named_buffers()) {
    if (b.name == path) return b.value;
  }
  ADD_FAILURE() << "no tensor " << path;
  return at::Tensor();
}

const std::string kBags = "emb_impls.__BASE__.ebc.embedding_bags.";
const std::string kEc4 = "seq_emb_impls.__BASE__.ec_dict.4.embeddings.";
const std::string kEc8 = "seq_emb_impls.__BASE__.ec_dict.8.embeddings.";

TEST(EmbeddingGroupTest, TablesFollowUpstreamPaths) {
  Fixture f;
  EmbeddingGroup group = f.Build();
  std::vector<std::string> expected = {kBags + "item_emb.weight", kBags + "cat_emb.weight",
                                       kBags + "item_emb_wide.weight", kEc4 + "item_emb.weight",
                                       kEc4 + "click__item_emb.weight",
                                       kEc8 + "click__cat_emb.weight"};
  EXPECT_EQ(group.layout.table_weight_paths, expected);
  std::vector<std::string> names;
  for (const auto& p : group.module.named_parameters()) names.push_back(p.name);
  EXPECT_EQ(names, expected);
  EXPECT_EQ(group.layout.total_dim("deep", "t"), 9);
  EXPECT_EQ(group.layout.total_dim("seq.query", "t"), 5);
  EXPECT_EQ(group.layout.dims("seq.sequence", "t"), (std::vector<int64_t>{4, 8, 1}));
  EXPECT_TRUE(group.layout.is_sequence_group("seq"));
  EXPECT_FALSE(group.layout.is_sequence_group("deep"));
}

TEST(EmbeddingGroupTest, SequenceGroupMatchesHandComputation) {
  Fixture f;
  EmbeddingGroup group = f.Build();
  TensorMap in = Inputs();
  auto out = RunGroup(group, in);
  at::Tensor item_q = Param(group, kEc4 + "item_emb.weight");
  at::Tensor item_s = Param(group, kEc4 + "click__item_emb.weight");
  at::Tensor cat_s = Param(group, kEc8 + "click__cat_emb.weight");

  at::Tensor query = at::cat({item_q.index_select(0, in["item.values"]), in["price.values"]}, 1);
  EXPECT_TRUE(at::allclose(out.at("seq.query"), query));
  EXPECT_TRUE(at::equal(out.at("seq.sequence_length"), Long({2, 0, 3})));

  at::Tensor seq = out.at("seq.sequence");
  ASSERT_EQ(seq.sizes(), (std::vector<int64_t>{3, 3, 13}));
  // Row 0: elements (item 1, cat {1}, 0.1), (item 2, cat {2,3} mean, 0.2), padding.
  auto element = [&](int64_t item, std::vector<int64_t> cats, float price) {
    at::Tensor c = at::zeros({8});
    if (!cats.empty()) c = cat_s.index_select(0, Long(cats)).mean(0);
    return at::cat({item_s[item], c, at::tensor({price})});
  };
  EXPECT_TRUE(at::allclose(seq[0][0], element(1, {1}, 0.1f)));
  EXPECT_TRUE(at::allclose(seq[0][1], element(2, {2, 3}, 0.2f)));
  EXPECT_TRUE(at::equal(seq[0][2], at::zeros({13})));
  EXPECT_TRUE(at::equal(seq[1], at::zeros({3, 13})));
  EXPECT_TRUE(at::allclose(seq[2][0], element(3, {4}, 0.3f)));
  EXPECT_TRUE(at::allclose(seq[2][1], element(4, {}, 0.4f)));
  EXPECT_TRUE(at::allclose(seq[2][2], element(9, {5, 0}, 0.5f)));
}

TEST(EmbeddingGroupTest, SequenceGradientsReachTheTables) {
  Fixture f;
  EmbeddingGroup group = f.Build();
  auto out = RunGroup(group, Inputs());
  out.at("seq.sequence").sum().backward();
  at::Tensor grad = Param(group, kEc4 + "click__item_emb.weight").grad();
  ASSERT_TRUE(grad.defined());
  EXPECT_TRUE(grad.is_sparse());
  // Rows 1, 2, 3, 4, 9 were looked up once each.
  at::Tensor dense = grad.to_dense();
  EXPECT_FLOAT_EQ(dense[9].sum().item<float>(), 4.0f);
  EXPECT_FLOAT_EQ(dense[0].sum().item<float>(), 0.0f);
}

// The embedded inputs an ids-mode group's tables produce for Inputs().
TensorMap EmbeddedFromIds(EmbeddingGroup& ids_group, const TensorMap& in) {
  TensorMap embedded;
  for (const EmbeddedInput& input : ids_group.layout.embedded_inputs) {
    at::Tensor table = Param(ids_group, input.table_path);
    const std::string& f = input.feature;
    at::Tensor ids = in.at(f + ".values");
    if (!input.jagged) {
      at::Tensor lengths = in.at(f + ".lengths");
      at::Tensor offsets = at::cumsum(lengths, 0) - lengths;
      at::Tensor pooled = std::get<0>(at::embedding_bag(table, ids, offsets, false,
                                                        input.pooling == Pooling::kMean ? 1 : 0));
      embedded[input.key] = pooled;
      continue;
    }
    auto key_lengths = in.find(f + ".key_lengths");
    if (key_lengths == in.end()) {
      embedded[input.key] = table.index_select(0, ids);
    } else {
      at::Tensor kl = key_lengths->second;
      embedded[input.key] = std::get<0>(at::embedding_bag(table, ids, at::cumsum(kl, 0) - kl, false,
                                                          input.pooling == Pooling::kMean ? 1 : 0));
    }
    embedded[input.lengths_key] = in.at(f + ".lengths");
  }
  for (const char* dense : {"price.values", "click__price.values", "click__price.lengths"}) {
    embedded[dense] = in.at(dense);
  }
  return embedded;
}

TEST(EmbeddingGroupTest, EmbeddedInputsGiveTheSameGroups) {
  Fixture f;
  EmbeddingGroup ids_group = f.Build();
  EmbeddingGroupOptions options;
  options.embedded_inputs = true;
  EmbeddingGroup embedded_group = f.Build(options);
  EXPECT_TRUE(embedded_group.module.named_parameters().size() == 0);
  EXPECT_TRUE(embedded_group.layout.table_weight_paths.empty());

  // item reads two pooled tables (deep and wide): "@<table>" keys.
  std::vector<std::string> keys;
  for (const EmbeddedInput& input : embedded_group.layout.embedded_inputs) keys.push_back(input.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"item@item_emb__ebc", "cat__ebc",
                                            "item@item_emb_wide__ebc", "item__ec",
                                            "click__item__ec", "click__cat__ec"}));
  EXPECT_EQ(embedded_group.layout.embedded_inputs[4].lengths_key, "click__item__lengths");
  EXPECT_EQ(embedded_group.layout.embedded_inputs[5].dim, 8);

  TensorMap in = Inputs();
  auto expected = RunGroup(ids_group, in);
  auto actual = RunGroup(embedded_group, EmbeddedFromIds(ids_group, in));
  for (const char* name : {"deep", "wide", "seq.query", "seq.sequence", "seq.sequence_length"}) {
    EXPECT_TRUE(at::allclose(actual.at(name), expected.at(name), 1e-6, 1e-6)) << name;
  }
  // A missing embedded input names itself.
  try {
    TensorMap partial = EmbeddedFromIds(ids_group, in);
    partial.erase("cat__ebc");
    RunGroup(embedded_group, partial);
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("cat__ebc"), std::string::npos);
  }
}

// INPUT_TILE=3: the user's ids arrive once (batch 1) and are looked up once;
// the groups equal the plain group's on the batch that repeats the user.
TEST(EmbeddingGroupTest, TiledUserEmbeddingsEqualTheTiledBatch) {
  // cat becomes user-side (pooled, mean, two ids); the grouped click sequence
  // is user-side as upstream reads grouped sequences.
  std::string text = kConfig;
  const std::string item_cat = "\"item:cat\" num_buckets: 6 embedding_dim: 4 pooling";
  text.replace(text.find(item_cat) + 1, 4, "user");
  Fixture f{ParsePipelineConfigText(text, "tile.config")};
  EmbeddingGroup plain = f.Build();
  EmbeddingGroupOptions options;
  options.tile_user_embeddings = true;
  EmbeddingGroup tiled = f.Build(options);
  {
    at::NoGradGuard no_grad;
    for (const auto& p : tiled.module.named_parameters()) p.value.copy_(Param(plain, p.name));
  }
  const int64_t n = 3;
  TensorMap request;
  request["item.values"] = Long({1, 7, 3});
  request["item.lengths"] = Long({1, 1, 1});
  request["price.values"] = at::tensor({0.5f, 1.5f, 2.5f}).view({n, 1});
  request["cat.values"] = Long({2, 5});
  request["cat.lengths"] = Long({2});
  request["click__item.values"] = Long({1, 2, 4});
  request["click__item.lengths"] = Long({3});
  request["click__cat.values"] = Long({1, 2, 3, 5});
  request["click__cat.key_lengths"] = Long({1, 2, 1});
  request["click__cat.lengths"] = Long({3});
  // Dense inputs arrive tiled (the export's wrapper tiles them).
  request["click__price.values"] = at::tensor({0.1f, 0.2f, 0.3f}).view({3, 1}).repeat({n, 1});
  request["click__price.lengths"] = Long({3}).repeat({n});
  TensorMap batch = request;
  for (const char* key : {"cat.values", "cat.lengths", "click__item.values", "click__item.lengths",
                          "click__cat.values", "click__cat.key_lengths", "click__cat.lengths"}) {
    batch[key] = request.at(key).repeat({n});
  }
  request["batch_size"] = Long({n});

  auto expected = RunGroup(plain, batch);
  auto actual = RunGroup(tiled, request);
  for (const char* name : {"deep", "wide", "seq.query", "seq.sequence", "seq.sequence_length"}) {
    EXPECT_EQ(actual.at(name).sizes(), expected.at(name).sizes()) << name;
    EXPECT_TRUE(at::allclose(actual.at(name), expected.at(name), 1e-6, 1e-6)) << name;
  }
}

TEST(EmbeddingGroupTest, Fp16TablesStayWithinPrecision) {
  Fixture f;
  EmbeddingGroup fp32 = f.Build();
  EmbeddingGroupOptions options;
  options.storage = TableStorage::kFp16;
  options.sequence_storage = TableStorage::kFp16;
  EmbeddingGroup fp16 = f.Build(options);
  {
    at::NoGradGuard no_grad;
    for (const std::string& path : fp32.layout.table_weight_paths) {
      at::Tensor target = Param(fp16, path);
      EXPECT_EQ(target.scalar_type(), at::kHalf) << path;
      target.copy_(PackTable(Param(fp32, path), TableStorage::kFp16));
    }
  }
  // Rounding each weight to FP16 moves it by at most 2^-11 of itself, so a
  // pooled value moves by at most 2^-11 of the pooled magnitudes |w|: the
  // same group over |tables| gives that bound (x2 for the summation, +1e-6),
  // whatever the random tables are. A relative tolerance alone failed when
  // a mean of several ids cancelled out.
  EmbeddingGroup magnitude = f.Build();
  {
    at::NoGradGuard no_grad;
    for (const std::string& path : fp32.layout.table_weight_paths) {
      Param(magnitude, path).copy_(Param(fp32, path).abs());
    }
  }
  TensorMap in = Inputs();
  auto a = RunGroup(fp32, in);
  auto b = RunGroup(fp16, in);
  auto m = RunGroup(magnitude, in);
  for (const char* name : {"deep", "wide", "seq.query", "seq.sequence"}) {
    EXPECT_EQ(b.at(name).scalar_type(), at::kFloat) << name;
    const at::Tensor bound = m.at(name).abs() * (2.0 / 2048) + 1e-6;
    EXPECT_TRUE((b.at(name) - a.at(name)).abs().le(bound).all().item<bool>()) << name;
    // And FP16 did change something: the check is not vacuous.
    if (std::string(name) != "deep") EXPECT_FALSE(at::equal(b.at(name), a.at(name))) << name;
  }
}

TEST(EmbeddingGroupTest, QuantizedSequenceTables) {
  Fixture f;
  EmbeddingGroup fp32 = f.Build();
  EmbeddingGroupOptions options;
  options.sequence_storage = TableStorage::kInt8;
  EmbeddingGroup int8 = f.Build(options);
  EXPECT_EQ(int8.layout.table_storage.at(kEc8 + "click__cat_emb.weight"), TableStorage::kInt8);
  EXPECT_EQ(int8.layout.table_storage.at(kBags + "cat_emb.weight"), TableStorage::kFp32);
  {
    at::NoGradGuard no_grad;
    for (const std::string& path : fp32.layout.table_weight_paths) {
      Param(int8, path).copy_(PackTable(Param(fp32, path), int8.layout.table_storage.at(path)));
    }
  }
  TensorMap in = Inputs();
  auto a = RunGroup(fp32, in);
  auto b = RunGroup(int8, in);
  EXPECT_TRUE(at::allclose(b.at("deep"), a.at("deep")));
  EXPECT_TRUE(at::allclose(b.at("seq.sequence"), a.at("seq.sequence"), 0, 0.02));
  EXPECT_FALSE(at::equal(b.at("seq.sequence"), a.at("seq.sequence")));
}

TEST(EmbeddingGroupTest, GroupInsideAnotherIsAViewOfIt) {
  // "fm" (listed first) holds [item, cat], a run inside "deep"'s [price, item,
  // cat]; "tail" holds [cat, price], not a run of either.
  Fixture f;
  auto* groups = f.config.mutable_model_config()->mutable_feature_groups();
  groups->Clear();
  auto add = [&](const std::string& name, std::vector<std::string> names) {
    protos::FeatureGroupConfig* g = groups->Add();
    g->set_group_name(name);
    g->set_group_type(protos::DEEP);
    for (const auto& n : names) g->add_feature_names(n);
  };
  add("fm", {"item", "cat"});
  add("deep", {"price", "item", "cat"});
  add("tail", {"cat", "price"});
  EmbeddingGroup group = f.Build();
  auto out = RunGroup(group, Inputs());
  const at::Tensor deep = out.at("deep");
  const at::Tensor fm = out.at("fm");
  EXPECT_TRUE(at::equal(fm, deep.narrow(1, 1, 8)));
  EXPECT_EQ(fm.data_ptr<float>(), deep.data_ptr<float>() + 1);  // no copy
  const at::Tensor tail = out.at("tail");
  EXPECT_TRUE(at::equal(tail, at::cat({deep.narrow(1, 5, 4), deep.narrow(1, 0, 1)}, 1)));
  EXPECT_NE(tail.storage().data(), deep.storage().data());  // its own concatenation
  EXPECT_EQ(group.layout.total_dim("fm", "test"), 8);
}

TEST(EmbeddingTableTest, BlockPackingEqualsPackingTheWholeTable) {
  // More rows than one packing block (2^18 values / dim 16 = 16384 rows), and
  // a last block that is not full.
  const at::Tensor weight = at::randn({40000, 16});
  for (TableStorage storage : {TableStorage::kFp16, TableStorage::kInt8, TableStorage::kInt4}) {
    at::Tensor stored = EmptyStoredTable(weight.size(0), weight.size(1), storage);
    PackTableInto(weight, storage, stored);
    EXPECT_TRUE(at::equal(stored, PackTable(weight, storage))) << TableStorageName(storage);
  }
}

TEST(EmbeddingTableTest, QuantizedLookupsMatchTheQuantizedOperatorOnBothPaths) {
  // A quantized table calls PyTorch's quantized bag operator, or (from
  // unpack_from_ids ids on) gathers, unpacks and pools with the FP32 bag.
  // Both paths must give the operator's result, with bag sizes 0..3 and
  // per-sample weights.
  const at::Tensor weight = at::randn({500, 8});
  using Op = at::Tensor(const at::Tensor&, const at::Tensor&, const c10::optional<at::Tensor>&, bool, int64_t,
                        bool, const c10::optional<at::Tensor>&, const c10::optional<at::Tensor>&, bool);
  for (const auto& [storage, op_name] : {std::pair{TableStorage::kInt8, "quantized::embedding_bag_byte_rowwise_offsets"},
                                         std::pair{TableStorage::kInt4, "quantized::embedding_bag_4bit_rowwise_offsets"},
                                         std::pair{TableStorage::kInt2, "quantized::embedding_bag_2bit_rowwise_offsets"}}) {
    torch::jit::Module table = BuildTable(weight, storage);
    const at::Tensor packed = table.attr("weight").toTensor();
    auto op = c10::Dispatcher::singleton().findSchemaOrThrow(op_name, "").typed<Op>();
    for (int64_t unpack_from : {std::numeric_limits<int64_t>::max(), int64_t{0}}) {
      table.setattr("unpack_from_ids", unpack_from);
      for (int64_t bags : {10, 300}) {
        const at::Tensor lengths = at::arange(bags, at::kLong).remainder(4);
        const at::Tensor offsets = at::cumsum(lengths, 0) - lengths;
        const int64_t ids = lengths.sum().item<int64_t>();
        const at::Tensor values = at::randint(500, {ids}, at::kLong);
        const at::Tensor weights = at::rand({ids});
        for (const c10::optional<at::Tensor>& w : {c10::optional<at::Tensor>(), c10::optional<at::Tensor>(weights)}) {
          const at::Tensor expected = op.call(packed, values, offsets, false, 0, false, w, c10::nullopt, false);
          const c10::IValue w_value = w ? c10::IValue(*w) : c10::IValue();
          const at::Tensor got = table.forward({values, offsets, w_value}).toTensor();
          EXPECT_TRUE(at::allclose(got, expected, 1e-5, 1e-5))
              << TableStorageName(storage) << ", unpack from " << unpack_from << ", " << bags << " bags, weights "
              << w.has_value();
          EXPECT_TRUE(at::equal(got.index_select(0, at::nonzero(lengths == 0).flatten()),
                                at::zeros({(lengths == 0).sum().item<int64_t>(), 8})));
        }
      }
    }
  }
}

TEST(EmbeddingTableTest, QuantizedTablesUnpackLargeLookupsOnlyWithoutFbgemm) {
  // Built (and exported) for FBGEMM: the operator at every size; tuned for a
  // libtorch without it: gather + unpack from a few hundred ids. Tables
  // nested anywhere in the module are tuned; FP32 tables have no such path.
  torch::jit::Module model = NewModule("Model");
  AddChild(model, "int8", BuildTable(at::randn({10, 8}), TableStorage::kInt8));
  AddChild(model, "int4", BuildTable(at::randn({10, 8}), TableStorage::kInt4));
  AddChild(model, "fp32", BuildTable(at::randn({10, 8}), TableStorage::kFp32));
  const auto unpack_from = [&](const char* table) {
    return model.attr(table).toModule().attr("unpack_from_ids").toInt();
  };
  EXPECT_EQ(unpack_from("int8"), std::numeric_limits<int64_t>::max());
  TuneQuantizedLookups(model, false);
  EXPECT_GT(unpack_from("int8"), 1);
  EXPECT_LT(unpack_from("int8"), 4096);
  EXPECT_GT(unpack_from("int4"), unpack_from("int8"));  // its generic operator is faster
  EXPECT_LT(unpack_from("int4"), 4096);
  EXPECT_FALSE(model.attr("fp32").toModule().hasattr("unpack_from_ids"));
  TuneQuantizedLookups(model, true);
  EXPECT_EQ(unpack_from("int8"), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(unpack_from("int4"), std::numeric_limits<int64_t>::max());
}

TEST(EmbeddingGroupTest, ConfigErrors) {
  Fixture f;
  auto* groups = f.config.mutable_model_config()->mutable_feature_groups();
  groups->Mutable(0)->add_feature_names("click__item");
  try {
    f.Build();
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("click__item"), std::string::npos) << e.what();
  }
  Fixture g;
  g.config.mutable_model_config()->mutable_feature_groups()->Mutable(2)->set_group_type(
      protos::JAGGED_SEQUENCE);
  EXPECT_THROW(g.Build(), ConfigError);
}

// A DEEP group with a nested sequence group and two encoders.
TEST(EmbeddingGroupTest, NestedSequenceGroupsFeedTheirEncoders) {
  Fixture f;
  auto* groups = f.config.mutable_model_config()->mutable_feature_groups();
  groups->DeleteSubrange(1, 2);  // keep "deep"
  auto* deep = groups->Mutable(0);
  auto* sg = deep->add_sequence_groups();  // unnamed: takes the name "deep"
  for (const char* name : {"item", "click__item", "click__price"}) sg->add_feature_names(name);
  deep->add_sequence_encoders()->mutable_din_encoder()->mutable_attn_mlp()->add_hidden_units(4);
  deep->add_sequence_encoders()->mutable_pooling_encoder()->set_pooling_type("mean");
  EmbeddingGroup group = f.Build();
  // Members 4 + 4 + 1, DIN over the 5-wide sequence, mean pooling of it.
  EXPECT_EQ(group.layout.dims("deep", "t"), (std::vector<int64_t>{4, 4, 1, 5, 5}));
  EXPECT_TRUE(group.layout.sequence_groups.empty());
  std::vector<std::string> names;
  for (const auto& p : group.module.named_parameters()) names.push_back(p.name);
  for (const char* name : {"_group_name_to_seq_encoders.deep.0.mlp.mlp.0.perceptron.0.weight",
                           "_group_name_to_seq_encoders.deep.0.linear.weight",
                           "seq_emb_impls.__BASE__.ec_dict.4.embeddings.click__item_emb.weight"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  }
  TensorMap in = Inputs();
  auto out = RunGroup(group, in);
  at::Tensor deep_out = out.at("deep");
  ASSERT_EQ(deep_out.sizes(), (std::vector<int64_t>{3, 19}));
  // The mean-pooling encoder: mean of each row's valid elements, 0 for none.
  at::Tensor seq = out.at("deep.sequence");
  at::Tensor mean = at::stack({seq[0].slice(0, 0, 2).mean(0), at::zeros({5}), seq[2].mean(0)});
  EXPECT_TRUE(at::allclose(deep_out.slice(1, 14, 19), mean, 1e-6, 1e-6));
  // The DIN output is a convex combination of the valid elements: its price
  // column lies between the row's smallest and largest price.
  at::Tensor din_price = deep_out.select(1, 13);
  EXPECT_GE(din_price[0].item<float>(), 0.1f - 1e-6f);
  EXPECT_LE(din_price[0].item<float>(), 0.2f + 1e-6f);
  EXPECT_GE(din_price[2].item<float>(), 0.3f - 1e-6f);
  EXPECT_LE(din_price[2].item<float>(), 0.5f + 1e-6f);

  deep->mutable_sequence_encoders(1)->mutable_pooling_encoder()->set_input("other");
  EXPECT_THROW(f.Build(), ConfigError);
}

TEST(EmbeddingGroupTest, UpstreamDbmtlSeqConfigBuilds) {
  auto b = testing::BuildModelFrom(testing::UpstreamConfigWithSmallTables("dbmtl_taobao_seq"));
  // 16 features of dim 16, then DIN over the 48-wide click sequence.
  EXPECT_EQ(testing::StateTensor(*b.model, "model.bottom_mlp.mlp.0.perceptron.0.weight").sizes(),
            (std::vector<int64_t>{512, 256 + 48}));
  EXPECT_EQ(testing::StateTensor(*b.model,
                                 "model.embedding_group._group_name_to_seq_encoders.all.0.mlp.mlp."
                                 "0.perceptron.0.weight")
                .sizes(),
            (std::vector<int64_t>{32, 192}));
}

}  // namespace
}  // namespace tzrec::models
