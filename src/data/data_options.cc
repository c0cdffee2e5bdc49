#include "data/data_options.h"

#include <algorithm>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include "common/error.h"
#include "common/strings.h"
#include "data/negative_sampler.h"

namespace tzrec::data {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// The set oneof member of a FeatureConfig-like message (one field set).
const Message* SetSubMessage(const Message& msg) {
  const Reflection* refl = msg.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  refl->ListFields(msg, &fields);
  for (const FieldDescriptor* f : fields) {
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !f->is_repeated()) {
      return &refl->GetMessage(msg, f);
    }
  }
  return nullptr;
}

std::string StringField(const Message& msg, const char* name, bool* has) {
  const FieldDescriptor* f = msg.GetDescriptor()->FindFieldByName(name);
  if (f == nullptr || f->cpp_type() != FieldDescriptor::CPPTYPE_STRING || f->is_repeated()) {
    *has = false;
    return "";
  }
  *has = msg.GetReflection()->HasField(msg, f);
  return msg.GetReflection()->GetString(msg, f);
}

void AddDefault(const Message& feature, const std::string& prefix,
                std::unordered_map<std::string, std::string>& out) {
  bool has_name = false, has_default = false;
  std::string name = StringField(feature, "feature_name", &has_name);
  std::string value = StringField(feature, "fg_encoded_default_value", &has_default);
  if (has_name && has_default) out[prefix + name] = value;
}

}  // namespace

fg::FgEngineOptions FgEngineOptionsFromConfig(const protos::EasyRecConfig& config) {
  const protos::DataConfig& dc = config.data_config();
  fg::FgEngineOptions options;
  switch (dc.fg_mode()) {
    case protos::FG_NONE: options.mode = fg::FgMode::kEncoded; break;
    case protos::FG_DAG:
    case protos::FG_NORMAL: options.mode = fg::FgMode::kFg; break;
    default:
      FailConfig("data_config.fg_mode {} is not supported (use FG_NONE, FG_NORMAL or FG_DAG)",
                 protos::FgMode_Name(dc.fg_mode()));
  }
  const std::string& sep = dc.fg_encoded_multival_sep();
  if (sep.size() != 1) {
    FailConfig("data_config.fg_encoded_multival_sep must be one character, got '{}'", sep);
  }
  options.fg_encoded_multival_sep = sep[0];
  options.fg_encoded_defaults = FgEncodedDefaults(config);
  return options;
}

std::unordered_map<std::string, std::string> FgEncodedDefaults(const protos::EasyRecConfig& config) {
  std::unordered_map<std::string, std::string> out;
  for (const auto& fc : config.feature_configs()) {
    const Message* feature = SetSubMessage(fc);
    if (feature == nullptr) continue;
    bool has_seq_name = false;
    std::string seq_name = StringField(*feature, "sequence_name", &has_seq_name);
    const FieldDescriptor* subs = feature->GetDescriptor()->FindFieldByName("features");
    if (has_seq_name && subs != nullptr && subs->is_repeated()) {
      const Reflection* refl = feature->GetReflection();
      for (int i = 0; i < refl->FieldSize(*feature, subs); ++i) {
        const Message* sub = SetSubMessage(refl->GetRepeatedMessage(*feature, subs, i));
        if (sub != nullptr) AddDefault(*sub, seq_name + "__", out);
      }
    } else {
      AddDefault(*feature, "", out);
    }
  }
  return out;
}

char MultiValueSeparator(const protos::DataConfig& dc) {
  return dc.fg_mode() == protos::FG_NONE && dc.fg_encoded_multival_sep().size() == 1 ? dc.fg_encoded_multival_sep()[0]
                                                                                     : '\x1d';
}

BatchIteratorOptions BatchIteratorOptionsFromConfig(const protos::DataConfig& dc, const std::string& input_path,
                                                    int num_epochs, bool for_eval) {
  BatchIteratorOptions options;
  options.input_path = input_path;
  options.batch_size = for_eval && dc.has_eval_batch_size() ? dc.eval_batch_size() : dc.batch_size();
  options.num_epochs = num_epochs;
  options.drop_remainder = dc.drop_remainder();
  options.num_workers = static_cast<int>(std::max<uint32_t>(dc.num_workers(), 1));
  // Upstream shuffles training data only.
  options.shuffle = dc.shuffle() && !for_eval;
  options.shuffle_buffer_size = dc.shuffle_buffer_size();
  if (dc.delimiter().size() != 1) {
    FailConfig("data_config.delimiter must be one character, got '{}'", dc.delimiter());
  }
  options.csv.delimiter = dc.delimiter()[0];
  options.csv.with_header = dc.with_header();
  for (const auto& field : dc.input_fields()) options.csv.column_names.push_back(field.input_name());
  if (options.csv.column_names.empty() && dc.has_input_fields_str()) {
    for (const std::string& item : SplitList(dc.input_fields_str())) {
      options.csv.column_names.push_back(item.substr(0, item.find(':')));
    }
  }
  if (input_path.rfind("odps://", 0) == 0) {
    FailConfig("{}: {} reads MaxCompute (ODPS) tables, a cloud service tzrec does not reach; point "
               "--train_input_path / --eval_input_path / --predict_input_path at local Parquet (*.parquet) or "
               "CSV files (the file extension then decides the format)",
               input_path, protos::DatasetType_Name(dc.dataset_type()));
  }
  options.parquet_dataset = dc.dataset_type() == protos::ParquetDataset;
  options.parquet.list_separator = MultiValueSeparator(dc);
  if (!options.csv.with_header && options.csv.column_names.empty()) {
    // Only CSV needs this: a Parquet file names its columns.
    bool any_csv = false;
    for (const std::string& file : ExpandInputPath(input_path)) any_csv = any_csv || !IsParquetPath(file, options.parquet_dataset);
    if (any_csv) FailConfig("data_config: CSV input without header needs input_fields to name its columns");
  }
  return options;
}

DataParserOptions DataParserOptionsFromConfig(const protos::DataConfig& dc) {
  DataParserOptions options;
  options.label_fields.assign(dc.label_fields().begin(), dc.label_fields().end());
  options.sample_weight_fields.assign(dc.sample_weight_fields().begin(), dc.sample_weight_fields().end());
  return options;
}

void SetNegativeSampler(const protos::DataConfig& dc, const std::vector<const Feature*>& features,
                        bool for_eval, uint64_t seed, DataParserOptions& options) {
  if (dc.sampler_case() == protos::DataConfig::SAMPLER_NOT_SET) return;
  if (dc.sampler_case() != protos::DataConfig::kNegativeSampler) {
    const auto* field = dc.GetDescriptor()->FindFieldByNumber(dc.sampler_case());
    FailConfig("data_config.{}: training with it is not supported yet (negative_sampler is; export "
               "and predict of such a model work)",
               field->name());
  }
  std::vector<std::string> negative_features;
  for (const Feature* feature : features) {
    if (feature->gets_sampled_rows()) negative_features.push_back(feature->name());
  }
  if (negative_features.empty()) {
    FailConfig("data_config.negative_sampler.attr_fields: no feature reads them, so sampled items "
               "would reach no item tower");
  }
  // force_base_data_group changes only where the sampled features' tables
  // live (__BASE__), not their rows: upstream pads the other features with
  // empty rows and its models cut them off again; here they keep B rows.
  options.negative_sampler = std::make_shared<NegativeSampler>(dc.negative_sampler(), for_eval);
  options.negative_features = negative_features;
  options.seed = seed;
}

}  // namespace tzrec::data
