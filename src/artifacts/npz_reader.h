// Reads .npz archives (numpy.savez's format, and what NpzWriter writes) with
// libzip: every "<name>.npy" entry as a tensor. Used to read a distributed
// export's shards back (prediction, tests); arrays are loaded whole.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace tzrec::artifacts {

struct NpyArray {
  std::string descr;           // "<f4", "|u1", ...
  std::vector<int64_t> shape;
  at::Tensor data;             // C order, of the descr's dtype
};

// Parses a .npy header read through `read` (which must fill the whole
// buffer): descr and shape, and `data` allocated (not filled) for them.
// Error naming `origin` when malformed, in Fortran order, or of a dtype other
// than little-endian f2/f4/f8, i8, u1. `max_bytes` is what the whole .npy can
// hold (its zip entry's size): a header or an array that would not fit is an
// error before anything is allocated for it, so a few bytes cannot ask for
// gigabytes.
NpyArray ReadNpyHeader(const std::function<void(char*, size_t)>& read, const std::string& origin,
                       uint64_t max_bytes = UINT64_MAX);

// Every array of `path` by name (entry name without ".npy").
std::map<std::string, NpyArray> ReadNpz(const std::string& path);

}  // namespace tzrec::artifacts
