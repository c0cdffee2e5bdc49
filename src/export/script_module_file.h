// Saving a TorchScript module (scripted_model.pt, the distributed dense graph)
// so that a full disk or a file size limit is a clear error, never a
// truncated file or a crash.
//
// libtorch 1.13's Module::save(path) does neither: it ignores the result of
// the final flush (a file cut short at its central directory is reported as
// saved) and a failed write earlier throws from the writer's destructor
// during unwinding, which terminates the process (both seen with
// RLIMIT_FSIZE). Here the archive goes through ExportModule's writer
// callback into a common/file_writer.h FileWriter, which checks every write
// and the close. The one visible difference: the archive's top folder is
// "archive/" (as torch.jit.save to a buffer writes it) instead of the file's
// stem; torch.jit.load and libtorch read either.
#pragma once

#include <string>

#include <torch/script.h>

namespace tzrec::exporting {

// Writes `module` to `path`; Error "cannot write <path>: <reason>" when the
// file system refuses, "cannot save <path>: ..." when serialization fails.
void SaveScriptModule(const torch::jit::Module& module, const std::string& path);

}  // namespace tzrec::exporting
