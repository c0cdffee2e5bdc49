// One embedding table as a module: its initial values (init_fn), its
// storage forms (FP32 for training; FP16 and the row-wise quantized forms of
// an export, table_storage.h) and the TorchScript lookup each form runs on
// stock PyTorch operators.
#pragma once

#include <cstdint>

#include <torch/script.h>

#include "features/feature.h"
#include "models/modules/table_storage.h"

namespace tzrec::models {

// A table module for `storage`, with forward(values, offsets,
// per_sample_weights: Optional[Tensor]) -> Tensor[bags, dim] (sum pooling).
// `weight` is the FP32 [rows, dim] table; other forms convert or pack it.
torch::jit::Module BuildTable(const at::Tensor& weight, TableStorage storage);
// The same from a table already in `storage`'s form (PackTable's output, or
// the FP32 weight itself).
torch::jit::Module BuildStoredTable(const at::Tensor& stored, TableStorage storage);
// An uninitialised [rows, dim] table in `storage`'s form.
at::Tensor EmptyStoredTable(int64_t rows, int64_t dim, TableStorage storage);

// The tensor a table of `storage` holds for FP32 `weight`.
at::Tensor PackTable(const at::Tensor& weight, TableStorage storage);
// The same written into `stored` (EmptyStoredTable's shape), in blocks of rows
// packed on the intra-op threads: no table-sized temporary.
void PackTableInto(const at::Tensor& weight, TableStorage storage, const at::Tensor& stored);

// Whether the running libtorch has FBGEMM (stock PyTorch's builds do,
// Debian's libtorch does not): its quantized bag operators are then the
// fastest lookups at every size.
bool HasFbgemm();
// Points the quantized tables of `module` (a loaded export, a built model) at
// the lookup path that is fastest in a libtorch with or without FBGEMM.
// Exports are written for FBGEMM (stock PyTorch, the reference runtime);
// without it, large lookups gather, unpack and pool in FP32.
void TuneQuantizedLookups(torch::jit::Module& module, bool fbgemm = HasFbgemm());

// The initial FP32 table for `table` (torchrec's default uniform(+-sqrt(1/rows))
// unless init_fn says otherwise: nn.init.uniform_/normal_/zeros_/ones_/constant_).
at::Tensor InitTable(const EmbeddingTable& table);

}  // namespace tzrec::models
