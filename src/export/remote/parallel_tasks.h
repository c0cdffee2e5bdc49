// Runs independent tasks (transfers) on a few threads. The first failure stops
// the others from starting new tasks and is rethrown once every thread is done,
// so no transfer is still running when the caller reports the error.
#pragma once

#include <functional>
#include <vector>

namespace tzrec::exporting::remote {

void RunParallel(int threads, const std::vector<std::function<void()>>& tasks);

}  // namespace tzrec::exporting::remote
