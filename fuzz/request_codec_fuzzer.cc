// The server's request decoding (serve/request_codec.h), what `tzrec serve`
// does with a POST body before the model runs. The first byte picks the
// protocol, the rest is the body:
//   even: FG mode: a PBRequest (protobuf) -> one raw row per item
//         (ToRows, every feature's text) -> the FG engine of a small fg.json
//         (the multi_tower_din_taobao example's features: ids, a raw price
//         with boundaries, a hashed context id, a grouped sequence);
//   odd:  bypass mode: a PredictRequest, plain or snappy-compressed, in
//         either numbering (ParseTensorRequest) -> tensors.
// BadRequest (an HTTP 4xx) and tzrec::Error are the expected outcomes.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "features/fg/fg_engine.h"
#include "fuzz_util.h"
#include "serve/request_codec.h"

namespace {

namespace serve = tzrec::serve;

constexpr char kFgJson[] = R"({"features": [
  {"feature_type": "id_feature", "feature_name": "user_id", "default_value": "", "expression": "user:user_id",
   "value_type": "string", "need_prefix": false, "num_buckets": 1141730, "value_dim": 0},
  {"feature_type": "id_feature", "feature_name": "cate_id", "default_value": "", "expression": "item:cate_id",
   "value_type": "string", "need_prefix": false, "num_buckets": 12961, "value_dim": 0},
  {"feature_type": "raw_feature", "feature_name": "price", "default_value": "0", "expression": "item:price",
   "value_type": "float", "boundaries": [1.1, 2.2, 3.6, 5.2, 7.39, 9.5, 10.5]},
  {"feature_type": "id_feature", "feature_name": "pid", "default_value": "", "expression": "context:pid",
   "value_type": "string", "need_prefix": false, "hash_bucket_size": 20, "value_dim": 0},
  {"sequence_name": "click_50_seq", "sequence_length": 100, "sequence_delim": "|",
   "sequence_pk": "user:click_50_seq", "features": [
    {"feature_type": "id_feature", "feature_name": "cate_id", "default_value": "0", "expression": "item:cate_id",
     "value_type": "string", "need_prefix": false, "num_buckets": 12961, "value_dim": 1}]}
]})";

const tzrec::fg::FgEngine& Engine() {
  static const tzrec::fg::FgEngine engine(
      tzrec::fg::ParseFgJson(nlohmann::json::parse(kFgJson), "request_codec_fuzzer fg.json"), {});
  return engine;
}

// The per-request work of ServedModel::RunFg before the model: a value FG
// cannot read is a tzrec::Error there (the server turns it into a 400).
void RunFg(const serve::pairec::PBRequest& request) {
  serve::RequestRows rows = serve::ToRows(request, Engine().input_columns());
  if (rows.items.empty()) return;
  Engine().Process(rows.rows.View());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string body(tzrec::fuzzing::AsView(data + 1, size - 1));
  tzrec::fuzzing::ExpectOnlyTzrecErrors([&] {
    try {
      if (data[0] % 2 == 0) {
        serve::pairec::PBRequest request;
        if (!request.ParseFromString(body)) return;
        for (const auto& [name, feature] : request.user_features()) serve::FeatureText(feature);
        RunFg(request);
      } else {
        const serve::TensorRequest request = serve::ParseTensorRequest(body, 1 << 20);
        for (const auto& [name, tensor] : request.inputs) serve::TensorToArray(tensor);
      }
    } catch (const serve::BadRequest&) {
      // A 4xx answer: what a malformed request should get.
    }
  });
  return 0;
}
