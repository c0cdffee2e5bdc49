#include "export/serving_executor.h"

#include <torch/csrc/jit/runtime/graph_executor.h>

namespace tzrec::exporting {

void UseServingGraphExecutor() {
  torch::jit::getExecutorMode() = false;   // the simple (non-profiling) executor
  torch::jit::getProfilingMode() = false;  // and no profiling runs in it
}

}  // namespace tzrec::exporting
