// Building TorchScript modules from C++.
//
// Every model part is a torch::jit::Module: parameters are registered from C++,
// forward is TorchScript source compiled with define(). The same object trains
// (autograd through the interpreter), evaluates and, once saved, is the exported
// scripted_model.pt that stock PyTorch loads. Helpers here keep that pattern
// short: a fresh module with a unique class, the `training` flag that
// Module::train()/eval() toggle, and a resolver that knows `torch` and
// `quantized` (PyTorch's row-wise quantized embedding-bag operators).
#pragma once

#include <string>

#include <torch/script.h>

namespace tzrec::models {

// A new, empty module whose class is named __torch__.tzrec.<kind> (mangled to
// stay unique). It already has the `training` attribute (true).
torch::jit::Module NewModule(const std::string& kind);

// Compiles `source` (one or more `def` blocks) into methods of `module`. The
// names `torch` and `quantized` resolve to the aten and quantized operator
// namespaces. A compile error is reported with the module kind and the source.
void DefineMethods(torch::jit::Module& module, const std::string& source);

// Python-style string literal for embedding a name into TorchScript source.
std::string PyStr(const std::string& text);

// Parameter (trainable) or buffer registration, with a clear error on a name
// clash.
void AddParameter(torch::jit::Module& module, const std::string& name, at::Tensor value);
void AddBuffer(torch::jit::Module& module, const std::string& name, at::Tensor value);

// `child` is reachable in TorchScript as getattr(self, "<name>"), so any
// string works as a name (upstream uses "0", "1" for Sequential entries).
void AddChild(torch::jit::Module& parent, const std::string& name,
              const torch::jit::Module& child);

// Runs forward(Dict[str, Tensor]) -> Dict[str, Tensor].
c10::Dict<std::string, at::Tensor> ForwardDict(torch::jit::Module& module,
                                               const c10::Dict<std::string, at::Tensor>& inputs);

}  // namespace tzrec::models
