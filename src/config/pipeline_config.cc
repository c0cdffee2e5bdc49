#include "config/pipeline_config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/type_resolver.h>
#include <google/protobuf/util/type_resolver_util.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/error.h"

namespace tzrec {
namespace {

namespace pb = google::protobuf;

constexpr char kTypeUrlPrefix[] = "type.googleapis.com";

// Line `index` (0-based) of `text`, without its newline.
std::string LineText(const std::string& text, int index) {
  size_t begin = 0;
  for (int i = 0; i < index; ++i) {
    begin = text.find('\n', begin);
    if (begin == std::string::npos) return "";
    ++begin;
  }
  size_t end = text.find('\n', begin);
  return text.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

// Keeps the first error protobuf's text parser reports; later ones are usually
// consequences of the first.
class FirstErrorCollector : public pb::io::ErrorCollector {
 public:
  void AddError(int line, pb::io::ColumnNumber column, const std::string& message) override {
    if (has_error_) return;
    has_error_ = true;
    line_ = line;
    column_ = column;
    message_ = message;
  }
  bool has_error() const { return has_error_; }
  // protobuf counts from 0; editors and compilers count from 1. For "unknown
  // field/value" errors protobuf points past the offending name (at the next
  // token); point at the name itself, as upstream's Python parser does: the
  // quoted name from the message that starts last on the line before the column.
  std::string Format(const std::string& source_name, const std::string& text) const {
    int column = column_;
    const std::string line = LineText(text, line_);
    size_t best = std::string::npos;
    const bool names_a_token = message_.find("has no field named") != std::string::npos ||
                               message_.find("Unknown enumeration value") != std::string::npos;
    for (size_t open = names_a_token ? message_.find('"') : std::string::npos; open != std::string::npos;) {
      size_t close = message_.find('"', open + 1);
      if (close == std::string::npos) break;
      std::string name = message_.substr(open + 1, close - open - 1);
      size_t start = name.empty() ? std::string::npos : line.rfind(name, static_cast<size_t>(std::max(column_, 0)));
      if (start != std::string::npos && (best == std::string::npos || start > best)) best = start;
      open = message_.find('"', close + 1);
    }
    if (best != std::string::npos) column = static_cast<int>(best);
    return fmt::format("{}:{}:{}: {}", source_name, line_ + 1, column + 1, message_);
  }

 private:
  bool has_error_ = false;
  int line_ = 0;
  int column_ = 0;
  std::string message_;
};

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string ReadConfigFile(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    FailConfig("pipeline config {} does not exist", path);
  }
  if (std::filesystem::is_directory(path, ec)) {
    FailConfig("pipeline config {} is a directory, expected a file", path);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) FailConfig("cannot open pipeline config {}", path);
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) FailConfig("cannot read pipeline config {}", path);
  return content.str();
}

// 1-based line and column of byte `offset` in `text`.
std::pair<size_t, size_t> LineColumnAt(const std::string& text, size_t offset) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

void RelaxRequired(pb::DescriptorProto* message) {
  for (auto& field : *message->mutable_field()) {
    if (field.label() == pb::FieldDescriptorProto::LABEL_REQUIRED) {
      field.set_label(pb::FieldDescriptorProto::LABEL_OPTIONAL);
    }
  }
  for (auto& nested : *message->mutable_nested_type()) RelaxRequired(&nested);
}

void AddRelaxedFile(const pb::FileDescriptor* file, pb::DescriptorPool& pool) {
  if (pool.FindFileByName(file->name()) != nullptr) return;
  for (int i = 0; i < file->dependency_count(); ++i) AddRelaxedFile(file->dependency(i), pool);
  pb::FileDescriptorProto proto;
  file->CopyTo(&proto);
  for (auto& message : *proto.mutable_message_type()) RelaxRequired(&message);
  if (pool.BuildFile(proto) == nullptr) Fail("cannot build schema copy of {}", file->name());
}

// protobuf's JSON converter insists on `required` fields, which text format
// lets us skip. It converts through a type resolver, so it is given a copy of
// the schema in which every field is optional; the wire format is identical,
// so the binary it produces parses into the generated EasyRecConfig.
pb::util::TypeResolver& RelaxedTypeResolver() {
  static pb::DescriptorPool* pool = [] {
    auto* relaxed = new pb::DescriptorPool();
    AddRelaxedFile(protos::EasyRecConfig::descriptor()->file(), *relaxed);
    return relaxed;
  }();
  static std::unique_ptr<pb::util::TypeResolver> resolver(
      pb::util::NewTypeResolverForDescriptorPool(kTypeUrlPrefix, pool));
  return *resolver;
}

std::string ConfigTypeUrl() {
  return std::string(kTypeUrlPrefix) + "/" + protos::EasyRecConfig::descriptor()->full_name();
}

}  // namespace

void ApplyFgModeCompat(protos::EasyRecConfig& config) {
  protos::DataConfig* data = config.mutable_data_config();
  protos::FgMode mode = data->fg_mode();
  if (data->has_fg_encoded()) {
    spdlog::warn("data_config.fg_encoded is deprecated, use data_config.fg_mode");
    if (data->fg_encoded()) {
      mode = protos::FG_NONE;
    } else if (data->fg_threads() > 0) {
      mode = protos::FG_DAG;
    } else {
      mode = protos::FG_NORMAL;
    }
  }
  // Upstream assigns the field unconditionally, so a saved config always has it.
  data->set_fg_mode(mode);
}

protos::EasyRecConfig ParsePipelineConfigText(const std::string& text,
                                              const std::string& source_name) {
  protos::EasyRecConfig config;
  FirstErrorCollector errors;
  pb::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  parser.AllowPartialMessage(true);
  // Merge, like upstream's text_format.Merge: a repeated singular field keeps
  // its last value instead of being an error.
  if (!parser.MergeFromString(text, &config)) {
    if (errors.has_error()) throw ConfigError(errors.Format(source_name, text));
    FailConfig("{}: cannot parse pipeline config", source_name);
  }
  ApplyFgModeCompat(config);
  return config;
}

protos::EasyRecConfig ParsePipelineConfigJson(const std::string& json,
                                              const std::string& source_name) {
  // protobuf's JSON reader reports syntax errors without a position; a JSON
  // parser run first gives the user line and column.
  try {
    nlohmann::json parsed = nlohmann::json::parse(json);
    (void)parsed;
  } catch (const nlohmann::json::parse_error& e) {
    auto [line, column] = LineColumnAt(json, e.byte > 0 ? e.byte - 1 : 0);
    std::string what = e.what();
    // nlohmann's message starts with "[json.exception.parse_error.101] parse error at ...: ".
    auto pos = what.find("syntax error");
    FailConfig("{}:{}:{}: invalid JSON: {}", source_name, line, column,
               pos == std::string::npos ? what : what.substr(pos));
  }

  std::string binary;
  pb::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status =
      pb::util::JsonToBinaryString(&RelaxedTypeResolver(), ConfigTypeUrl(), json, &binary, options);
  if (!status.ok()) {
    FailConfig("{}: {}", source_name, std::string(status.message()));
  }
  protos::EasyRecConfig config;
  // Partial: required fields may be missing, as in text format.
  if (!config.ParsePartialFromString(binary)) {
    FailConfig("{}: cannot decode pipeline config", source_name);
  }
  ApplyFgModeCompat(config);
  return config;
}

protos::EasyRecConfig LoadPipelineConfig(const std::string& path) {
  std::string content = ReadConfigFile(path);
  if (EndsWith(path, ".json")) return ParsePipelineConfigJson(content, path);
  return ParsePipelineConfigText(content, path);
}

std::string PipelineConfigToText(const protos::EasyRecConfig& config) {
  pb::TextFormat::Printer printer;
  printer.SetUseUtf8StringEscaping(true);
  std::string text;
  if (!printer.PrintToString(config, &text)) Fail("cannot print pipeline config as text");
  return text;
}

std::string PipelineConfigToJson(const protos::EasyRecConfig& config) {
  pb::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.add_whitespace = true;
  std::string json;
  auto status = pb::util::BinaryToJsonString(&RelaxedTypeResolver(), ConfigTypeUrl(),
                                             config.SerializePartialAsString(), &json, options);
  if (!status.ok()) Fail("cannot print pipeline config as JSON: {}", std::string(status.message()));
  return json;
}

void SavePipelineConfig(const protos::EasyRecConfig& config, const std::string& path) {
  std::filesystem::path target(path);
  std::error_code ec;
  if (target.has_parent_path()) {
    std::filesystem::create_directories(target.parent_path(), ec);
    if (ec) Fail("cannot create directory {}: {}", target.parent_path().string(), ec.message());
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) Fail("cannot write pipeline config {}", path);
  out << PipelineConfigToText(config);
  out.close();
  if (!out) Fail("cannot write pipeline config {}", path);
}

}  // namespace tzrec
