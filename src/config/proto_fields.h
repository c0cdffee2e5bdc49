// Reading config messages by field name (protobuf reflection), for code that
// handles many message types alike (the feature configs' shared fields:
// embedding_dim, value_dim, num_buckets, ...). A missing field or a field of
// another type reads as empty / zero / false, never as an error.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

namespace tzrec {

const google::protobuf::FieldDescriptor* FieldOf(const google::protobuf::Message& m, const char* name);

// Set (a singular field), or non-empty (a repeated or map field).
bool HasValue(const google::protobuf::Message& m, const char* name);

// An integer field's value (its proto default when unset; negatives as 0).
uint64_t GetUInt(const google::protobuf::Message& m, const char* name);
// The same, but `unset` when the field is not set.
uint64_t GetUIntOr(const google::protobuf::Message& m, const char* name, uint64_t unset);

// A string field's value (its default when unset), "" when absent.
std::string GetString(const google::protobuf::Message& m, const char* name);
bool GetBool(const google::protobuf::Message& m, const char* name);
// A string field or a repeated string field, as a list.
std::vector<std::string> GetStrings(const google::protobuf::Message& m, const char* name);
std::vector<float> GetFloats(const google::protobuf::Message& m, const char* name);
// Keys and values of a map<string, integer> field (vocab_dict), sorted by key.
std::vector<std::pair<std::string, uint64_t>> GetStringUIntMap(const google::protobuf::Message& m,
                                                               const char* name);

// The set field of the oneof `oneof_name`, or nullptr.
const google::protobuf::FieldDescriptor* OneofCase(const google::protobuf::Message& m, const char* oneof_name);

}  // namespace tzrec
