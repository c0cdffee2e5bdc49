#include "serve/request_codec.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <snappy.h>

#include <optional>

namespace tzrec::serve {
namespace {

// Joins `values` with `separator`, each written by `text`.
template <typename Values, typename Text>
std::string Join(const Values& values, char separator, Text text) {
  std::string out;
  bool first = true;
  for (const auto& value : values) {
    if (!first) out += separator;
    first = false;
    out += text(value);
  }
  return out;
}

// Shortest form that reads back as the same value: a float sent by a caller
// reaches FG exactly as parsing its CSV text would.
std::string Number(float value) { return fmt::format("{}", value); }
std::string Number(double value) { return fmt::format("{}", value); }
template <typename Int>
std::string Number(Int value) { return std::to_string(value); }
std::string Number(const std::string& value) { return value; }

template <typename List>
std::string ListText(const List& list, char separator) {
  return Join(list.features(), separator, [](const auto& v) { return Number(v); });
}

template <typename Lists>
std::string ListsText(const Lists& lists, char separator) {
  return Join(lists.lists(), ';', [separator](const auto& l) { return ListText(l, separator); });
}

template <typename Map>
std::string MapText(const Map& map, char separator) {
  return Join(map.map_field(), separator, [](const auto& kv) {
    return Number(kv.first) + ":" + Number(kv.second);
  });
}

// The values of per-item feature `name`, checked to hold one value per item.
const pairec::ContextFeatures* PerItem(
    const google::protobuf::Map<std::string, pairec::ContextFeatures>& features,
    const std::string& name, const char* field, int items) {
  auto it = features.find(name);
  if (it == features.end()) return nullptr;
  if (it->second.features_size() != items) {
    throw BadRequest(fmt::format("{}['{}'] has {} values for {} item_ids; give one per item",
                                 field, name, it->second.features_size(), items));
  }
  return &it->second;
}

// A map_inputs entry that could be an array this numbering meant: a name, and
// values that fill the shape.
bool WellFormed(const google::protobuf::Map<std::string, eas::ArrayProto>& inputs) {
  if (inputs.empty()) return false;
  for (const auto& [name, array] : inputs) {
    if (name.empty()) return false;
    try {
      ArrayToTensor(array, name);
    } catch (const BadRequest&) {
      return false;
    }
  }
  return true;
}

// Whether `body` is a `Request` whose inputs are well formed. A field the
// numbering does not know means the caller used the other one, or compressed
// the body (snappy's length prefix can read as a stray varint field).
template <typename Request>
bool ParsesAsInputs(const std::string& body, Request& request) {
  return request.ParseFromString(body) && request.GetReflection()->GetUnknownFields(request).empty() &&
         WellFormed(request.map_inputs());
}

template <typename Request>
TensorRequest ToTensorRequest(const Request& request) {
  TensorRequest out;
  for (const auto& [name, array] : request.map_inputs()) out.inputs[name] = ArrayToTensor(array, name);
  out.output_filter.assign(request.output_filter().begin(), request.output_filter().end());
  return out;
}

template <typename T>
at::Tensor FromValues(const google::protobuf::RepeatedField<T>& values, at::ScalarType type,
                      const std::vector<int64_t>& shape) {
  at::Tensor flat = at::empty({static_cast<int64_t>(values.size())}, at::TensorOptions().dtype(
                                                                         c10::CppTypeToScalarType<T>::value));
  if (values.size() > 0) std::copy(values.begin(), values.end(), flat.data_ptr<T>());
  return flat.to(type).reshape(shape);
}

}  // namespace

std::string FeatureText(const pairec::PBFeature& f, char separator) {
  using F = pairec::PBFeature;
  switch (f.value_case()) {
    case F::kIntFeature: return Number(f.int_feature());
    case F::kLongFeature: return Number(f.long_feature());
    case F::kStringFeature: return f.string_feature();
    case F::kFloatFeature: return Number(f.float_feature());
    case F::kDoubleFeature: return Number(f.double_feature());
    case F::kLongStringMap: return MapText(f.long_string_map(), separator);
    case F::kLongIntMap: return MapText(f.long_int_map(), separator);
    case F::kLongLongMap: return MapText(f.long_long_map(), separator);
    case F::kLongFloatMap: return MapText(f.long_float_map(), separator);
    case F::kLongDoubleMap: return MapText(f.long_double_map(), separator);
    case F::kStringStringMap: return MapText(f.string_string_map(), separator);
    case F::kStringIntMap: return MapText(f.string_int_map(), separator);
    case F::kStringLongMap: return MapText(f.string_long_map(), separator);
    case F::kStringFloatMap: return MapText(f.string_float_map(), separator);
    case F::kStringDoubleMap: return MapText(f.string_double_map(), separator);
    case F::kIntStringMap: return MapText(f.int_string_map(), separator);
    case F::kIntIntMap: return MapText(f.int_int_map(), separator);
    case F::kIntLongMap: return MapText(f.int_long_map(), separator);
    case F::kIntFloatMap: return MapText(f.int_float_map(), separator);
    case F::kIntDoubleMap: return MapText(f.int_double_map(), separator);
    case F::kIntList: return ListText(f.int_list(), separator);
    case F::kLongList: return ListText(f.long_list(), separator);
    case F::kStringList: return ListText(f.string_list(), separator);
    case F::kFloatList: return ListText(f.float_list(), separator);
    case F::kDoubleList: return ListText(f.double_list(), separator);
    case F::kIntLists: return ListsText(f.int_lists(), separator);
    case F::kLongLists: return ListsText(f.long_lists(), separator);
    case F::kStringLists: return ListsText(f.string_lists(), separator);
    case F::kFloatLists: return ListsText(f.float_lists(), separator);
    case F::kDoubleLists: return ListsText(f.double_lists(), separator);
    case F::VALUE_NOT_SET: return "";
  }
  return "";
}

RequestRows ToRows(const pairec::PBRequest& request, const std::vector<std::string>& input_columns,
                   const ItemTable* item_table) {
  const int items = request.item_ids_size();
  RequestRows out;
  // Rows of the item table, aligned with out.items; empty without a table.
  std::vector<int64_t> table_rows;
  const bool use_table = item_table != nullptr && request.item_features().empty();
  for (int i = 0; i < items; ++i) {
    if (!use_table) {
      out.items.push_back(i);
      continue;
    }
    const int64_t row = item_table->Find(request.item_ids(i));
    if (row < 0) continue;
    out.items.push_back(i);
    table_rows.push_back(row);
  }
  out.rows = fg::OwnedInputBatch(static_cast<int64_t>(out.items.size()));
  for (const std::string& column : input_columns) {
    std::vector<std::string> values(out.items.size());
    const auto* item = PerItem(request.item_features(), column, "item_features", items);
    const auto* context = PerItem(request.context_features(), column, "context_features", items);
    const std::vector<std::string>* table = use_table ? item_table->Column(column) : nullptr;
    if (item != nullptr || context != nullptr) {
      const pairec::ContextFeatures& per_item = item != nullptr ? *item : *context;
      for (size_t r = 0; r < out.items.size(); ++r) values[r] = FeatureText(per_item.features(out.items[r]));
    } else if (table != nullptr) {
      for (size_t r = 0; r < out.items.size(); ++r) values[r] = (*table)[static_cast<size_t>(table_rows[r])];
    } else if (auto it = request.user_features().find(column); it != request.user_features().end()) {
      std::fill(values.begin(), values.end(), FeatureText(it->second));
    }
    out.rows.Add(column, std::move(values));
  }
  return out;
}

namespace {

// The request as it was sent, when it parses under exactly one numbering;
// nullopt when under neither.
std::optional<TensorRequest> ParseUncompressed(const std::string& body) {
  eas::PredictRequest documented;
  eas::SdkPredictRequest sdk;
  const bool is_documented = ParsesAsInputs(body, documented);
  const bool is_sdk = ParsesAsInputs(body, sdk);
  if (is_documented && is_sdk) {
    throw BadRequest("the PredictRequest reads as well-formed inputs under both the documented "
                     "numbering (map_inputs = 2) and the SDK's (map_inputs = 3); send one");
  }
  if (is_documented) return ToTensorRequest(documented);
  if (is_sdk) return ToTensorRequest(sdk);
  return std::nullopt;
}

}  // namespace

TensorRequest ParseTensorRequest(const std::string& body, size_t max_uncompressed_bytes) {
  if (auto request = ParseUncompressed(body)) return *std::move(request);
  // The SDK's TorchRequest(True) sends the message snappy-compressed, with no
  // header saying so: a body that is no request as sent is tried as snappy.
  size_t length = 0;
  if (snappy::GetUncompressedLength(body.data(), body.size(), &length) &&
      snappy::IsValidCompressedBuffer(body.data(), body.size())) {
    if (length > max_uncompressed_bytes) {
      throw BadRequest(fmt::format("the snappy-compressed body expands to {} bytes, over the {} "
                                   "allowed", length, max_uncompressed_bytes),
                       413);
    }
    std::string uncompressed;
    if (snappy::Uncompress(body.data(), body.size(), &uncompressed)) {
      if (auto request = ParseUncompressed(uncompressed)) return *std::move(request);
    }
  }
  throw BadRequest("the body is not a PredictRequest with map_inputs (numbered 2 as documented "
                   "or 3 as the EAS SDK sends), plain or snappy-compressed");
}

at::Tensor ArrayToTensor(const eas::ArrayProto& array, const std::string& name) {
  std::vector<int64_t> shape(array.array_shape().dim().begin(), array.array_shape().dim().end());
  int64_t expected = 1;
  // The product of the non-zero dimensions bounds the strides libtorch
  // computes for the shape: a zero-sized tensor of shape [2^62, 4, 0] matches
  // its zero values but its strides overflow (libtorch 1.13 then takes them
  // for symbolic sizes and throws). No request carries more values than this.
  constexpr int64_t kMaxElements = int64_t{1} << 40;
  int64_t strides_product = 1;
  for (int64_t d : shape) {
    if (d < 0) throw BadRequest(fmt::format("input '{}' has a negative dimension", name));
    if (d > 0 && (__builtin_mul_overflow(strides_product, d, &strides_product) ||
                  strides_product > kMaxElements)) {
      throw BadRequest(fmt::format("input '{}' has shape [{}], too large", name, fmt::join(shape, ", ")));
    }
    expected *= d;  // <= strides_product, or 0
  }
  auto check = [&](int64_t count) {
    if (count != expected) {
      throw BadRequest(fmt::format("input '{}' has {} values for shape [{}]", name, count,
                                   fmt::join(shape, ", ")));
    }
  };
  switch (array.dtype()) {
    case eas::DT_FLOAT:
      check(array.float_val_size());
      return FromValues(array.float_val(), at::kFloat, shape);
    case eas::DT_DOUBLE:
      check(array.double_val_size());
      return FromValues(array.double_val(), at::kDouble, shape);
    case eas::DT_INT32:
      check(array.int_val_size());
      return FromValues(array.int_val(), at::kInt, shape);
    case eas::DT_INT16:
      check(array.int_val_size());
      return FromValues(array.int_val(), at::kShort, shape);
    case eas::DT_INT8:
      check(array.int_val_size());
      return FromValues(array.int_val(), at::kChar, shape);
    case eas::DT_UINT8:
      check(array.int_val_size());
      return FromValues(array.int_val(), at::kByte, shape);
    case eas::DT_BOOL:
      check(array.int_val_size());
      return FromValues(array.int_val(), at::kBool, shape);
    case eas::DT_INT64:
      check(array.int64_val_size());
      return FromValues(array.int64_val(), at::kLong, shape);
    default:
      throw BadRequest(fmt::format("input '{}' has dtype {}, which tzrec serve does not take "
                                   "(DT_FLOAT, DT_DOUBLE, DT_INT64, DT_INT32/16/8, DT_UINT8, DT_BOOL)",
                                   name, eas::ArrayDataType_Name(array.dtype())));
  }
}

eas::ArrayProto TensorToArray(const at::Tensor& tensor) {
  eas::ArrayProto array;
  array.set_dtype(eas::DT_FLOAT);
  for (int64_t d : tensor.sizes()) array.mutable_array_shape()->add_dim(d);
  const at::Tensor values = tensor.detach().to(at::kFloat).contiguous();
  const float* data = values.data_ptr<float>();
  array.mutable_float_val()->Add(data, data + values.numel());
  return array;
}

}  // namespace tzrec::serve
