#include "serve/request_codec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <snappy.h>

#include "common/test_support.h"
#include "serve/auth.h"

namespace tzrec::serve {
namespace {

using ::testing::HasSubstr;
using tzrec::testing::ErrorOf;

pairec::PBFeature StringFeature(const std::string& value) {
  pairec::PBFeature f;
  f.set_string_feature(value);
  return f;
}

TEST(FeatureText, ScalarsListsAndMapsReadAsCsvCells) {
  pairec::PBFeature f;
  f.set_float_feature(0.1f);
  EXPECT_EQ(FeatureText(f), "0.1");  // shortest text of the same float
  f.set_double_feature(2.5);
  EXPECT_EQ(FeatureText(f), "2.5");
  f.set_long_feature(-12345678901234);
  EXPECT_EQ(FeatureText(f), "-12345678901234");
  f.mutable_string_list()->add_features("a");
  f.mutable_string_list()->add_features("b");
  EXPECT_EQ(FeatureText(f), "a\x1d" "b");
  f.mutable_string_float_map()->mutable_map_field()->insert({"k", 1.5f});
  EXPECT_EQ(FeatureText(f), "k:1.5");
  auto* lists = f.mutable_long_lists();
  lists->add_lists()->add_features(1);
  lists->mutable_lists(0)->add_features(2);
  lists->add_lists()->add_features(3);
  EXPECT_EQ(FeatureText(f), "1\x1d" "2;3");
  EXPECT_EQ(FeatureText(pairec::PBFeature()), "");
}

TEST(ToRows, ItemThenContextThenUserFeatures) {
  pairec::PBRequest request;
  request.add_item_ids("i1");
  request.add_item_ids("i2");
  (*request.mutable_user_features())["age"] = StringFeature("30");
  (*request.mutable_user_features())["price"] = StringFeature("ignored: items give it");
  auto& price = (*request.mutable_item_features())["price"];
  *price.add_features() = StringFeature("1.5");
  *price.add_features() = StringFeature("2.5");
  auto& hour = (*request.mutable_context_features())["hour"];
  *hour.add_features() = StringFeature("7");
  *hour.add_features() = StringFeature("8");
  RequestRows rows = ToRows(request, {"age", "price", "hour", "missing"});
  EXPECT_EQ(rows.items, (std::vector<int>{0, 1}));
  const fg::InputBatch batch = rows.rows.View();
  ASSERT_EQ(batch.num_rows, 2);
  EXPECT_EQ(batch.Find("age")->operator[](1), "30");
  EXPECT_EQ(batch.Find("price")->operator[](0), "1.5");
  EXPECT_EQ(batch.Find("price")->operator[](1), "2.5");
  EXPECT_EQ(batch.Find("hour")->operator[](1), "8");
  EXPECT_EQ(batch.Find("missing")->operator[](0), "");
}

TEST(ToRows, PerItemFeatureWithTheWrongCountIsABadRequest) {
  pairec::PBRequest request;
  request.add_item_ids("i1");
  request.add_item_ids("i2");
  *(*request.mutable_context_features())["hour"].add_features() = StringFeature("7");
  EXPECT_THAT(ErrorOf([&] { ToRows(request, {"hour"}); }),
              HasSubstr("context_features['hour'] has 1 values for 2 item_ids"));
}

TEST(ToRows, ItemFeaturesFromTheItemTableByIdAndUnknownIdsLeftOut) {
  const tzrec::testing::ScratchDir dir;
  tzrec::testing::WriteTextFile(dir / "items/part-0.csv", "item_id,price,brand\n7,1.5,x\n8,2.5,y\n");
  tzrec::testing::WriteTextFile(dir / "items/part-1.csv", "item_id,price\n9,3.5\n");
  auto table = ItemTable::Load(dir / "items", "item_id", {"price", "brand", "age"});
  ASSERT_EQ(table->size(), 3);
  EXPECT_EQ(table->Column("age"), nullptr);
  pairec::PBRequest request;
  for (const char* id : {"9", "unknown", "7"}) request.add_item_ids(id);
  (*request.mutable_user_features())["age"] = StringFeature("30");
  RequestRows rows = ToRows(request, {"price", "brand", "age"}, table.get());
  EXPECT_EQ(rows.items, (std::vector<int>{0, 2}));
  const fg::InputBatch batch = rows.rows.View();
  ASSERT_EQ(batch.num_rows, 2);
  EXPECT_EQ(batch.Find("price")->operator[](0), "3.5");
  EXPECT_EQ(batch.Find("brand")->operator[](0), "");  // part-1 has no brand
  EXPECT_EQ(batch.Find("brand")->operator[](1), "x");
  EXPECT_EQ(batch.Find("age")->operator[](1), "30");

  tzrec::testing::WriteTextFile(dir / "dup.csv", "item_id,price\n7,1\n7,2\n");
  EXPECT_THAT(ErrorOf([&] { ItemTable::Load(dir / "dup.csv", "item_id", {"price"}); }),
              HasSubstr("item id '7' appears twice, at " + (dir / "dup.csv") + ":2 and "));
  EXPECT_THAT(ErrorOf([&] { ItemTable::Load(dir / "dup.csv", "id", {"price"}); }),
              HasSubstr("has no column 'id' (--item_id_field)"));
}

eas::ArrayProto FloatArray(std::vector<int64_t> shape, std::vector<float> values) {
  eas::ArrayProto array;
  array.set_dtype(eas::DT_FLOAT);
  for (int64_t d : shape) array.mutable_array_shape()->add_dim(d);
  for (float v : values) array.add_float_val(v);
  return array;
}

constexpr size_t kMaxBody = 1 << 20;

TEST(ParseTensorRequest, TakesBothNumberings) {
  eas::PredictRequest documented;
  (*documented.mutable_map_inputs())["x"] = FloatArray({2, 1}, {1, 2});
  TensorRequest a = ParseTensorRequest(documented.SerializeAsString(), kMaxBody);
  ASSERT_EQ(a.inputs.count("x"), 1u);
  EXPECT_EQ(a.inputs["x"].sizes(), (std::vector<int64_t>{2, 1}));
  EXPECT_FLOAT_EQ(a.inputs["x"][1][0].item<float>(), 2);

  eas::SdkPredictRequest sdk;
  (*sdk.mutable_map_inputs())["ids"].set_dtype(eas::DT_INT64);
  (*sdk.mutable_map_inputs())["ids"].mutable_array_shape()->add_dim(3);
  for (int64_t v : {5, 6, 7}) (*sdk.mutable_map_inputs())["ids"].add_int64_val(v);
  sdk.add_output_filter(0);
  sdk.set_debug_level(1);
  TensorRequest b = ParseTensorRequest(sdk.SerializeAsString(), kMaxBody);
  ASSERT_EQ(b.inputs.count("ids"), 1u);
  EXPECT_EQ(b.inputs["ids"].scalar_type(), at::kLong);
  EXPECT_EQ(b.inputs["ids"][2].item<int64_t>(), 7);
  EXPECT_EQ(b.output_filter, std::vector<int>{0});
}

TEST(ParseTensorRequest, RefusesBodiesThatAreNeither) {
  EXPECT_THAT(ErrorOf([] { ParseTensorRequest("\xff\xff garbage", kMaxBody); }),
              HasSubstr("not a PredictRequest"));
  eas::PredictRequest short_values;
  (*short_values.mutable_map_inputs())["x"] = FloatArray({3}, {1, 2});
  EXPECT_THAT(ErrorOf([&] { ParseTensorRequest(short_values.SerializeAsString(), kMaxBody); }),
              HasSubstr("not a PredictRequest"));
  EXPECT_THAT(ErrorOf([] { ArrayToTensor(FloatArray({3}, {1, 2}), "x"); }),
              HasSubstr("input 'x' has 2 values for shape [3]"));
}

TEST(ParseTensorRequest, TakesSnappyCompressedBodiesUpToTheLimit) {
  eas::SdkPredictRequest sdk;
  (*sdk.mutable_map_inputs())["x"] = FloatArray({4}, {1, 2, 3, 4});
  const std::string plain = sdk.SerializeAsString();
  std::string compressed;
  snappy::Compress(plain.data(), plain.size(), &compressed);
  ASSERT_NE(compressed, plain);
  TensorRequest request = ParseTensorRequest(compressed, kMaxBody);
  ASSERT_EQ(request.inputs.count("x"), 1u);
  EXPECT_FLOAT_EQ(request.inputs["x"][3].item<float>(), 4);

  try {
    ParseTensorRequest(compressed, plain.size() - 1);
    ADD_FAILURE() << "a body expanding past the limit was taken";
  } catch (const BadRequest& e) {
    EXPECT_EQ(e.status(), 413);
    EXPECT_THAT(e.what(), HasSubstr("expands to"));
  }
}

TEST(TensorToArray, FloatValuesAndShape) {
  const eas::ArrayProto array = TensorToArray(at::arange(6, at::kLong).reshape({2, 3}));
  EXPECT_EQ(array.dtype(), eas::DT_FLOAT);
  ASSERT_EQ(array.array_shape().dim_size(), 2);
  EXPECT_EQ(array.array_shape().dim(1), 3);
  ASSERT_EQ(array.float_val_size(), 6);
  EXPECT_EQ(array.float_val(5), 5.0f);
}

TEST(Authorized, PlainTokenOrTheSdkSignature) {
  const std::string body = "hello body";
  SignedRequest request{"/api/predict/svc", "", "ca3600eb668444890020c72bf0defaa1",
                        "application/octet-stream", "Wed, 02 Dec 2026 05:00:00 GMT", &body};
  EXPECT_TRUE(Authorized("", request));
  EXPECT_FALSE(Authorized("secret-token", request));
  request.authorization = "secret-token";
  EXPECT_TRUE(Authorized("secret-token", request));
  // Signature from Python's hmac/hashlib/base64, as the EAS SDK computes it.
  request.authorization = "EAS 94HYATruxwb2eCg8zuKkHpSe5fU=";
  EXPECT_TRUE(Authorized("secret-token", request));
  EXPECT_FALSE(Authorized("other-token", request));
  const std::string tampered = "hello bodY";
  request.body = &tampered;
  EXPECT_FALSE(Authorized("secret-token", request));
}

}  // namespace
}  // namespace tzrec::serve
