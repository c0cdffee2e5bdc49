#include "models/modules/embedding_table.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <fmt/format.h>

#include "common/error.h"
#include "common/strings.h"
#include "models/modules/jit_module.h"

namespace tzrec::models {
namespace {

// The quantized tables' attribute: lookups of at least this many ids gather,
// unpack and pool in FP32 instead of calling the quantized bag operator.
constexpr char kUnpackFromIds[] = "unpack_from_ids";

// "nn.init.uniform_,a=-0.01,b=0.01" -> name and keyword arguments.
std::pair<std::string, std::map<std::string, double>> ParseInitFn(const std::string& spec,
                                                                  const std::string& table) {
  std::map<std::string, double> args;
  std::vector<std::string> parts;
  for (std::string_view part : SplitExact(spec, ",")) parts.emplace_back(Trim(part));
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

// The lookup of a row-wise quantized table; `kind` names PyTorch's operators
// (embedding_bag_<kind>_rowwise_offsets, embedding_bag_<kind>_unpack).
std::string QuantizedForward(const std::string& kind) {
  return fmt::format(
      "def forward(self, values: Tensor, offsets: Tensor, weights: Optional[Tensor]) -> Tensor:\n"
      "    if values.size(0) < self.unpack_from_ids:\n"
      "        return quantized.embedding_bag_{0}_rowwise_offsets(self.weight, values, offsets, False, 0,\n"
      "                                                           False, weights, None, False)\n"
      "    rows = quantized.embedding_bag_{0}_unpack(torch.index_select(self.weight, 0, values))\n"
      "    ids = torch.arange(values.size(0))\n"
      "    return torch.embedding_bag(rows, ids, offsets, False, 0, False, weights, False)[0]\n",
      kind);
}

const std::string kTableForward[] = {
    // kFp32: sparse gradients, so the sparse optimizer only touches looked-up rows.
    "def forward(self, values: Tensor, offsets: Tensor, weights: Optional[Tensor]) -> Tensor:\n"
    "    return torch.embedding_bag(self.weight, values, offsets, False, 0, True, weights, False)[0]\n",
    // kFp16: gather the half rows, widen them, then pool in float (summing in
    // half would lose precision; widening the whole table per call would cost
    // its size in time).
    "def forward(self, values: Tensor, offsets: Tensor, weights: Optional[Tensor]) -> Tensor:\n"
    "    rows = torch.embedding(self.weight, values, -1, False, False).float()\n"
    "    ids = torch.arange(values.size(0))\n"
    "    return torch.embedding_bag(rows, ids, offsets, False, 0, False, weights, False)[0]\n",
    // Row-wise quantized (INT8, INT4, INT2): PyTorch's quantized bag operator.
    // Without FBGEMM (Debian's libtorch) that operator dequantizes and adds
    // one scalar at a time; from a few hundred ids it is faster to gather the
    // packed rows (plain row copies), unpack them in one pass and pool them
    // with the FP32 bag. `unpack_from_ids` says from how many: exports say
    // never (stock PyTorch has FBGEMM), TuneQuantizedLookups lowers it where
    // the running libtorch lacks FBGEMM.
    QuantizedForward("byte"),
    QuantizedForward("4bit"),
    QuantizedForward("2bit"),
};

}  // namespace

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
    case TableStorage::kFp16:
      return w.to(at::kHalf);
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

void PackTableInto(const at::Tensor& weight, TableStorage storage, const at::Tensor& stored) {
  // Blocks of ~1 MiB of FP32 rows: their packed temporaries are reused from
  // the heap, and two threads keep both cores busy on the generic (non-FBGEMM)
  // packing loops.
  const int64_t rows = weight.size(0);
  const int64_t block = std::max<int64_t>(1, (int64_t{1} << 18) / std::max<int64_t>(1, weight.size(1)));
  at::parallel_for(0, (rows + block - 1) / block, 1, [&](int64_t first, int64_t last) {
    for (int64_t b = first; b < last; ++b) {
      const int64_t begin = b * block;
      const int64_t count = std::min(block, rows - begin);
      stored.narrow(0, begin, count).copy_(PackTable(weight.narrow(0, begin, count), storage));
    }
  });
}

torch::jit::Module BuildTable(const at::Tensor& weight, TableStorage storage) {
  return BuildStoredTable(storage == TableStorage::kFp32 ? weight : PackTable(weight, storage), storage);
}

at::Tensor EmptyStoredTable(int64_t rows, int64_t dim, TableStorage storage) {
  if (storage == TableStorage::kFp32) return at::empty({rows, dim}, at::kFloat);
  // The packed row layout (scales and offsets beside the values) is the
  // operator's own: take its shape and dtype from packing one row.
  const at::Tensor one_row = PackTable(at::zeros({1, dim}, at::kFloat), storage);
  return at::empty({rows, one_row.size(1)}, one_row.options());
}

torch::jit::Module BuildStoredTable(const at::Tensor& stored, TableStorage storage) {
  torch::jit::Module table = NewModule(std::string("EmbeddingBag") + TableStorageName(storage));
  if (storage == TableStorage::kFp32) {
    AddParameter(table, "weight", stored);
  } else {
    AddBuffer(table, "weight", stored);
  }
  if (storage != TableStorage::kFp32 && storage != TableStorage::kFp16) {
    table.register_attribute(kUnpackFromIds, c10::IntType::get(), std::numeric_limits<int64_t>::max());
  }
  DefineMethods(table, kTableForward[static_cast<int>(storage)]);
  return table;
}

bool HasFbgemm() {
  const auto& engines = at::globalContext().supportedQEngines();
  return std::find(engines.begin(), engines.end(), at::QEngine::FBGEMM) != engines.end();
}

void TuneQuantizedLookups(torch::jit::Module& module, bool fbgemm) {
  // Where gather + unpack starts to cost less than the generic operator,
  // measured with bench/int8_lookup_ops.py in Debian's libtorch 1.13
  // (docs/benchmarks.md): between 256 and 512 ids for INT8, between 512 and
  // 4096 for INT4 (INT2 unpacks like INT4).
  constexpr int64_t kInt8GenericUpTo = 256;
  constexpr int64_t kSubByteGenericUpTo = 1024;
  for (torch::jit::Module table : module.modules()) {
    if (!table.hasattr(kUnpackFromIds)) continue;
    const bool int8 = table.type()->name()->name().find(TableStorageName(TableStorage::kInt8)) != std::string::npos;
    table.setattr(kUnpackFromIds, fbgemm ? std::numeric_limits<int64_t>::max()
                                         : (int8 ? kInt8GenericUpTo : kSubByteGenericUpTo));
  }
}

}  // namespace tzrec::models
