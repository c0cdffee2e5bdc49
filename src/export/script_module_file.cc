#include "export/script_module_file.h"

#include <torch/csrc/jit/serialization/export.h>

#include "common/error.h"
#include "common/file_writer.h"

namespace tzrec::exporting {

void SaveScriptModule(const torch::jit::Module& module, const std::string& path) {
  FileWriter file(path);
  try {
    torch::jit::ExportModule(module, file.Sink());
  } catch (const c10::Error& e) {
    file.RethrowFailure();  // the file system's reason first: it is the cause
    const std::string message = e.what_without_backtrace();
    Fail("cannot save {}: {}", path, message.substr(0, message.find('\n')));
  }
  file.Close();
}

}  // namespace tzrec::exporting
