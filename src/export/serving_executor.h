// How a process that only runs exported models (predict, the export's check
// run) executes TorchScript.
//
// libtorch's default, the profiling graph executor, spends the first calls of
// every graph recording tensor shapes for specialisations (fusion groups) that
// its CPU build does not form for these models, and only then optimises: for a
// DeepFM at batch 4096 the first two calls cost ~5x and ~2.5x a steady call.
// The simple executor optimises once on the first call and runs steady from
// the second; steady-state calls are equally fast. For `tzrec predict` on
// 20,000 rows (5 batches) the model stage drops from ~0.8 to ~0.57 CPU s.
#pragma once

namespace tzrec::exporting {

// Selects the simple graph executor for the rest of the process. Call it before
// running any TorchScript; training keeps the default.
void UseServingGraphExecutor();

}  // namespace tzrec::exporting
