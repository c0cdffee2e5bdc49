#include "models/modules/jit_module.h"

#include <torch/csrc/jit/frontend/resolver.h>
#include <torch/csrc/jit/frontend/sugared_value.h>

#include "common/error.h"

namespace tzrec::models {
namespace {

// One compilation unit for every module tzrec builds: class names are mangled
// within it, so two models built in one process never clash.
std::shared_ptr<torch::jit::CompilationUnit> SharedUnit() {
  static auto unit = std::make_shared<torch::jit::CompilationUnit>();
  return unit;
}

// The default resolver knows only `torch`; quantized embedding tables call
// `quantized.embedding_bag_byte_rowwise_offsets(...)` and friends.
struct TzrecResolver : public torch::jit::Resolver {
  std::shared_ptr<torch::jit::SugaredValue> resolveValue(const std::string& name,
                                                         torch::jit::GraphFunction& fn,
                                                         const torch::jit::SourceRange& loc) override {
    if (name == "torch") return std::make_shared<torch::jit::BuiltinModule>("aten");
    if (name == "quantized") return std::make_shared<torch::jit::BuiltinModule>("quantized");
    return nullptr;
  }
  c10::TypePtr resolveType(const std::string& name, const torch::jit::SourceRange& loc) override {
    return nullptr;
  }
};

}  // namespace

torch::jit::Module NewModule(const std::string& kind) {
  torch::jit::Module module(c10::QualifiedName("__torch__.tzrec." + kind), SharedUnit(),
                            /*shouldMangle=*/true);
  module.register_attribute("training", c10::BoolType::get(), true);
  return module;
}

void DefineMethods(torch::jit::Module& module, const std::string& source) {
  try {
    module.define(source, std::make_shared<TzrecResolver>());
  } catch (const std::exception& e) {
    // A failure here is a bug in tzrec's generated source, not a user error;
    // keep the whole message, it points into the source.
    throw Error(fmt::format("internal error compiling TorchScript for {}: {}\nsource:\n{}",
                            module.type()->name()->qualifiedName(), e.what(), source));
  }
}

std::string PyStr(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  out += "\"";
  return out;
}

void AddParameter(torch::jit::Module& module, const std::string& name, at::Tensor value) {
  if (module.type()->hasAttribute(name)) Fail("module already has an attribute named {}", name);
  module.register_parameter(name, value.set_requires_grad(true), /*is_buffer=*/false);
}

void AddBuffer(torch::jit::Module& module, const std::string& name, at::Tensor value) {
  if (module.type()->hasAttribute(name)) Fail("module already has an attribute named {}", name);
  module.register_buffer(name, std::move(value));
}

void AddChild(torch::jit::Module& parent, const std::string& name,
              const torch::jit::Module& child) {
  if (parent.type()->hasAttribute(name)) Fail("module already has an attribute named {}", name);
  parent.register_module(name, child);
}

c10::Dict<std::string, at::Tensor> ForwardDict(torch::jit::Module& module,
                                               const c10::Dict<std::string, at::Tensor>& inputs) {
  c10::IValue out = module.forward({inputs});
  return c10::impl::toTypedDict<std::string, at::Tensor>(out.toGenericDict());
}

}  // namespace tzrec::models
