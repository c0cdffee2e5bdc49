// Python pickles as plain data (checkpoint/pickle.h), the reader behind a
// torch.distributed.checkpoint `.metadata`: the bytes straight to
// pickle::Parse (dcp_metadata_fuzzer runs the same reader through the file
// and the metadata checks; this one reaches the opcodes faster). What parses
// is walked and described as the metadata reader's errors describe it.
#include <cstdint>
#include <functional>
#include <string>

#include "checkpoint/pickle.h"
#include "fuzz_util.h"

namespace {

namespace pickle = tzrec::checkpoint::pickle;

// Visits the tree (a pickle's memo may share one node many times, so a DAG
// is walked only up to a node budget).
void Walk(const pickle::Value& value, int& budget) {
  if (--budget < 0) return;
  value.Describe();
  value.ClassName();
  for (const auto& item : value.items) Walk(*item, budget);
  for (const auto& [key, val] : value.entries) {
    Walk(*key, budget);
    Walk(*val, budget);
  }
  if (value.callable != nullptr) Walk(*value.callable, budget);
  if (value.state != nullptr) Walk(*value.state, budget);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tzrec::fuzzing::ExpectOnlyTzrecErrors([&] {
    const pickle::ValuePtr root = pickle::Parse(tzrec::fuzzing::AsView(data, size), "fuzz.pkl");
    int budget = 2000;
    Walk(*root, budget);
  });
  return 0;
}
