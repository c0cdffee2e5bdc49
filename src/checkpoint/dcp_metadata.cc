#include "checkpoint/dcp_metadata.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <unordered_map>

#include <fmt/ranges.h>

#include "checkpoint/pickle.h"
#include "checkpoint/torch_archive.h"
#include "common/error.h"

namespace fs = std::filesystem;

namespace tzrec::checkpoint {

namespace {

using pickle::Value;
using Kind = Value::Kind;

struct DtypeName {
  at::ScalarType type;
  const char* name;
};
constexpr DtypeName kDtypes[] = {
    {at::kFloat, "float32"}, {at::kDouble, "float64"}, {at::kHalf, "float16"}, {at::kBFloat16, "bfloat16"},
    {at::kLong, "int64"},    {at::kInt, "int32"},      {at::kShort, "int16"},  {at::kChar, "int8"},
    {at::kByte, "uint8"},    {at::kBool, "bool"},
};

// Reads the .metadata tree; `where` prefixes every error.
class MetadataParser {
 public:
  explicit MetadataParser(std::string where) : where_(std::move(where)) {}

  template <typename... Args>
  [[noreturn]] void Bad(fmt::format_string<Args...> format, Args&&... args) const {
    Fail("cannot read {}: {}", where_, fmt::format(format, std::forward<Args>(args)...));
  }

  const Value& Required(const Value& object, const std::string& field) const {
    const Value* v = object.Field(field);
    if (v == nullptr) Bad("{} has no field '{}'", object.Describe(), field);
    return *v;
  }

  int64_t Int(const Value& v, const std::string& what) const {
    if (!v.Is(Kind::kInt)) Bad("{} is a {}, expected an int", what, v.Describe());
    return v.integer;
  }

  std::string String(const Value& v, const std::string& what) const {
    if (!v.Is(Kind::kString)) Bad("{} is a {}, expected a str", what, v.Describe());
    return v.text;
  }

  // torch.Size pickles as REDUCE(torch.Size, ((d0, d1, ...),)); plain tuples
  // and lists of ints are taken too.
  std::vector<int64_t> Shape(const Value& v, const std::string& what) const {
    const Value* list = &v;
    if (v.Is(Kind::kObject)) {
      if (v.items.size() != 1) Bad("{} is a {} with {} arguments", what, v.Describe(), v.items.size());
      list = v.items[0].get();
    }
    if (!list->Is(Kind::kTuple) && !list->Is(Kind::kList)) Bad("{} is a {}, expected a shape", what, v.Describe());
    std::vector<int64_t> out;
    for (const auto& d : list->items) out.push_back(Int(*d, what));
    return out;
  }

  at::ScalarType Dtype(const Value& properties, const std::string& fqn) const {
    // State: (dtype, layout, requires_grad, memory_format, pin_memory) in
    // current torch; a dict with "dtype" in others.
    const Value* dtype = properties.Field("dtype");
    if (dtype == nullptr && properties.state && properties.state->Is(Kind::kTuple) &&
        !properties.state->items.empty()) {
      dtype = properties.state->items[0].get();
    }
    if (dtype == nullptr || !dtype->Is(Kind::kGlobal) || dtype->text.rfind("torch.", 0) != 0) {
      Bad("tensor {}: its properties name no torch dtype", fqn);
    }
    return DtypeFromTorchName(dtype->text.substr(6), where_ + ": tensor " + fqn);
  }

 private:
  std::string where_;
};

std::string StorageKey(const std::string& fqn, const std::vector<int64_t>* offsets) {
  return offsets == nullptr ? fqn + "\x1f" + "none" : fqn + "\x1f" + fmt::format("{}", fmt::join(*offsets, ","));
}

// Checks that `chunks` tile [0, size) exactly; identical replicas (a tensor
// saved whole by several ranks) are dropped first.
void CheckCoverage(DcpTensor& tensor, const MetadataParser& parser) {
  std::vector<DcpChunk> unique;
  for (DcpChunk& chunk : tensor.chunks) {
    const bool seen = std::any_of(unique.begin(), unique.end(), [&](const DcpChunk& c) {
      return c.offsets == chunk.offsets && c.sizes == chunk.sizes;
    });
    if (!seen) unique.push_back(std::move(chunk));
  }
  tensor.chunks = std::move(unique);
  const size_t dims = tensor.size.size();
  // Products are checked: a shape declaring more than 2^62 elements can be
  // neither held nor counted.
  auto volume_of = [&](const std::vector<int64_t>& shape, const char* what) {
    int64_t n = 1;
    for (int64_t d : shape) {
      if (d < 0 || __builtin_mul_overflow(n, d, &n) || n > (int64_t{1} << 62)) {
        parser.Bad("tensor {}: {} [{}] is not a possible shape", tensor.fqn, what, fmt::join(shape, ", "));
      }
    }
    return n;
  };
  const int64_t numel = volume_of(tensor.size, "shape");
  int64_t covered = 0;
  for (const DcpChunk& c : tensor.chunks) {
    if (c.offsets.size() != dims || c.sizes.size() != dims) {
      parser.Bad("tensor {}: a chunk has {} dims, the tensor {}", tensor.fqn, c.offsets.size(), dims);
    }
    for (size_t d = 0; d < dims; ++d) {
      if (c.offsets[d] < 0 || c.sizes[d] < 0 || c.offsets[d] > tensor.size[d] || c.sizes[d] > tensor.size[d] - c.offsets[d]) {
        parser.Bad("tensor {}: chunk at [{}] of size [{}] lies outside its shape [{}]", tensor.fqn,
                   fmt::join(c.offsets, ", "), fmt::join(c.sizes, ", "), fmt::join(tensor.size, ", "));
      }
    }
    // Each chunk holds at most numel <= 2^62 elements, but several
    // overlapping ones (refused below) can add up past int64.
    if (__builtin_add_overflow(covered, volume_of(c.sizes, "chunk size"), &covered)) {
      parser.Bad("tensor {}: its chunks hold more elements than it has", tensor.fqn);
    }
  }
  for (size_t i = 0; i < tensor.chunks.size(); ++i) {
    for (size_t j = i + 1; j < tensor.chunks.size(); ++j) {
      const DcpChunk& a = tensor.chunks[i];
      const DcpChunk& b = tensor.chunks[j];
      bool overlap = true;
      for (size_t d = 0; d < dims && overlap; ++d) {
        overlap = a.offsets[d] < b.offsets[d] + b.sizes[d] && b.offsets[d] < a.offsets[d] + a.sizes[d];
      }
      if (overlap && dims > 0) {
        parser.Bad("tensor {}: chunks at [{}] and [{}] overlap", tensor.fqn, fmt::join(a.offsets, ", "),
                   fmt::join(b.offsets, ", "));
      }
    }
  }
  if (covered != numel) {
    parser.Bad("tensor {}: its chunks cover {} of its {} elements", tensor.fqn, covered, numel);
  }
}

// The first bytes of a data file tell a torch.save item (a zip) from a
// safetensors blob (8-byte header length, then '{').
void CheckDataFile(const fs::path& path, int64_t size, const MetadataParser& parser) {
  if (size < 9) return;
  char head[9];
  std::ifstream in(path, std::ios::binary);
  in.read(head, sizeof(head));
  if (!in) parser.Bad("cannot read {}", path.string());
  if (head[0] == 'P' && head[1] == 'K') return;
  if (head[8] == '{') {
    parser.Bad("{} is in safetensors serialization, which tzrec does not read (save with the default "
               "torch.save serialization)",
               path.filename().string());
  }
  parser.Bad("{} does not hold torch.save items", path.filename().string());
}

}  // namespace

at::ScalarType DtypeFromTorchName(const std::string& name, const std::string& where) {
  for (const DtypeName& d : kDtypes) {
    if (name == d.name) return d.type;
  }
  if (name == "float") return at::kFloat;
  if (name == "double") return at::kDouble;
  if (name == "half") return at::kHalf;
  if (name == "long") return at::kLong;
  if (name == "int") return at::kInt;
  Fail("{}: dtype torch.{} is not read by tzrec", where, name);
}

std::string TorchDtypeName(at::ScalarType dtype) {
  for (const DtypeName& d : kDtypes) {
    if (d.type == dtype) return d.name;
  }
  Fail("dtype {} has no torch name known to tzrec", c10::toString(dtype));
}

DcpMetadata ReadDcpMetadata(const std::string& dir) {
  const fs::path path = fs::path(dir) / kDcpMetadataFile;
  const MetadataParser parser(path.string());
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail("cannot read {}: no such file", path.string());
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const pickle::ValuePtr root = pickle::Parse(bytes, path.string());
  if (!root->Is(Kind::kObject)) parser.Bad("expected a Metadata object, found {}", root->Describe());

  // storage_data: MetadataIndex(fqn, offset) -> _StorageInfo(relative_path, offset, length).
  std::unordered_map<std::string, DcpStorage> storage;
  const Value& storage_data = parser.Required(*root, "storage_data");
  if (!storage_data.Is(Kind::kDict)) parser.Bad("storage_data is a {}", storage_data.Describe());
  for (const auto& [key, info] : storage_data.entries) {
    if (!key->Is(Kind::kObject)) parser.Bad("a storage_data key is a {}", key->Describe());
    const std::string fqn = parser.String(parser.Required(*key, "fqn"), "MetadataIndex.fqn");
    const Value* offset = key->Field("offset");
    std::vector<int64_t> offsets;
    const bool has_offset = offset != nullptr && !offset->Is(Kind::kNone);
    if (has_offset) offsets = parser.Shape(*offset, "MetadataIndex.offset of " + fqn);
    if (!info->Is(Kind::kObject)) parser.Bad("storage of {} is a {}", fqn, info->Describe());
    if (const Value* transforms = info->Field("transform_descriptors")) {
      if (!transforms->Is(Kind::kNone) && !transforms->items.empty()) {
        std::vector<std::string> names;
        for (const auto& t : transforms->items) names.push_back(t->Is(Kind::kString) ? t->text : t->Describe());
        parser.Bad("{} is stored through stream transforms ({}), which tzrec does not read", fqn,
                   fmt::join(names, ", "));
      }
    }
    DcpStorage s;
    s.relative_path = parser.String(parser.Required(*info, "relative_path"), "relative_path of " + fqn);
    s.offset = parser.Int(parser.Required(*info, "offset"), "offset of " + fqn);
    s.length = parser.Int(parser.Required(*info, "length"), "length of " + fqn);
    const fs::path rel(s.relative_path);
    if (rel.is_absolute() || s.relative_path.find("..") != std::string::npos || rel.has_parent_path()) {
      parser.Bad("{} names data file '{}' outside its directory", fqn, s.relative_path);
    }
    storage[StorageKey(fqn, has_offset ? &offsets : nullptr)] = s;
  }

  DcpMetadata out;
  const Value& tensors = parser.Required(*root, "state_dict_metadata");
  if (!tensors.Is(Kind::kDict)) parser.Bad("state_dict_metadata is a {}", tensors.Describe());
  for (const auto& [key, meta] : tensors.entries) {
    const std::string fqn = parser.String(*key, "a state_dict_metadata key");
    if (!meta->Is(Kind::kObject)) parser.Bad("metadata of {} is a {}", fqn, meta->Describe());
    if (meta->Field("chunks") == nullptr) {
      // BytesStorageMetadata: no fields.
      auto it = storage.find(StorageKey(fqn, nullptr));
      if (it == storage.end()) parser.Bad("no storage entry for {}", fqn);
      out.bytes.push_back({fqn, it->second});
      continue;
    }
    DcpTensor tensor;
    tensor.fqn = fqn;
    tensor.dtype = parser.Dtype(parser.Required(*meta, "properties"), fqn);
    tensor.size = parser.Shape(parser.Required(*meta, "size"), "size of " + fqn);
    const Value& chunks = parser.Required(*meta, "chunks");
    for (const auto& c : chunks.items) {
      DcpChunk chunk;
      chunk.offsets = parser.Shape(parser.Required(*c, "offsets"), "chunk offsets of " + fqn);
      chunk.sizes = parser.Shape(parser.Required(*c, "sizes"), "chunk sizes of " + fqn);
      auto it = storage.find(StorageKey(fqn, &chunk.offsets));
      if (it == storage.end()) {
        parser.Bad("no storage entry for the chunk of {} at [{}]", fqn, fmt::join(chunk.offsets, ", "));
      }
      chunk.storage = it->second;
      tensor.chunks.push_back(std::move(chunk));
    }
    CheckCoverage(tensor, parser);
    out.tensors.push_back(std::move(tensor));
  }

  // Every referenced data file exists and holds its ranges.
  std::map<std::string, int64_t> file_sizes;
  auto check_range = [&](const std::string& fqn, const DcpStorage& s) {
    auto it = file_sizes.find(s.relative_path);
    if (it == file_sizes.end()) {
      const fs::path file = fs::path(dir) / s.relative_path;
      std::error_code ec;
      const auto size = fs::file_size(file, ec);
      if (ec) parser.Bad("{} references {}, which is missing", fqn, file.string());
      CheckDataFile(file, static_cast<int64_t>(size), parser);
      it = file_sizes.emplace(s.relative_path, static_cast<int64_t>(size)).first;
    }
    if (s.offset < 0 || s.length < 0 || s.offset > it->second || s.length > it->second - s.offset) {
      parser.Bad("{} lies at bytes [{}, {}) of {}, which has {} bytes", fqn, s.offset, s.offset + s.length,
                 s.relative_path, it->second);
    }
  };
  for (const DcpTensor& t : out.tensors) {
    for (const DcpChunk& c : t.chunks) {
      check_range(t.fqn, c.storage);
      // A chunk's item (a torch.save of it) holds at least its bytes: so a
      // tensor's declared size is bounded by its data files' sizes before
      // anything is allocated for it.
      const int64_t element_size = static_cast<int64_t>(c10::elementSize(t.dtype));
      int64_t elements = 1;
      for (int64_t d : c.sizes) elements *= d;  // <= 2^62 (CheckCoverage)
      if (elements > c.storage.length / element_size) {
        parser.Bad("tensor {}: the chunk at [{}] declares {} elements of {} bytes, but its item in {} has {} bytes",
                   t.fqn, fmt::join(c.offsets, ", "), elements, element_size, c.storage.relative_path,
                   c.storage.length);
      }
    }
  }
  for (const DcpBytes& b : out.bytes) check_range(b.fqn, b.storage);

  if (const Value* planner = root->Field("planner_data"); planner != nullptr && planner->Is(Kind::kDict)) {
    for (const auto& [key, path_value] : planner->entries) {
      if (!key->Is(Kind::kString)) continue;
      std::vector<std::string> parts;
      for (const auto& p : path_value->items) {
        parts.push_back(p->Is(Kind::kInt) ? std::to_string(p->integer) : p->text);
      }
      out.planner_data[key->text] = std::move(parts);
    }
  }
  return out;
}

}  // namespace tzrec::checkpoint
