#include "config/proto_fields.h"

#include <algorithm>

namespace tzrec {

namespace pb = google::protobuf;

const pb::FieldDescriptor* FieldOf(const pb::Message& m, const char* name) {
  return m.GetDescriptor()->FindFieldByName(name);
}

bool HasValue(const pb::Message& m, const char* name) {
  const pb::FieldDescriptor* f = FieldOf(m, name);
  if (f == nullptr) return false;
  const pb::Reflection* r = m.GetReflection();
  return f->is_repeated() ? r->FieldSize(m, f) > 0 : r->HasField(m, f);
}

uint64_t GetUInt(const pb::Message& m, const char* name) {
  const pb::FieldDescriptor* f = FieldOf(m, name);
  if (f == nullptr || f->is_repeated()) return 0;
  const pb::Reflection* r = m.GetReflection();
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_UINT32: return r->GetUInt32(m, f);
    case pb::FieldDescriptor::CPPTYPE_UINT64: return r->GetUInt64(m, f);
    case pb::FieldDescriptor::CPPTYPE_INT32: return static_cast<uint64_t>(std::max(0, r->GetInt32(m, f)));
    case pb::FieldDescriptor::CPPTYPE_INT64: return static_cast<uint64_t>(std::max<int64_t>(0, r->GetInt64(m, f)));
    default: return 0;
  }
}

uint64_t GetUIntOr(const pb::Message& m, const char* name, uint64_t unset) {
  const pb::FieldDescriptor* f = FieldOf(m, name);
  if (f == nullptr || f->is_repeated() || !m.GetReflection()->HasField(m, f)) return unset;
  return GetUInt(m, name);
}

std::string GetString(const pb::Message& m, const char* name) {
  const pb::FieldDescriptor* f = FieldOf(m, name);
  if (f == nullptr || f->is_repeated() || f->cpp_type() != pb::FieldDescriptor::CPPTYPE_STRING) return "";
  return m.GetReflection()->GetString(m, f);
}

bool GetBool(const pb::Message& m, const char* name) {
  const pb::FieldDescriptor* f = FieldOf(m, name);
  if (f == nullptr || f->is_repeated() || f->cpp_type() != pb::FieldDescriptor::CPPTYPE_BOOL) return false;
  return m.GetReflection()->GetBool(m, f);
}

std::vector<std::string> GetStrings(const pb::Message& m, const char* name) {
  std::vector<std::string> out;
  const pb::FieldDescriptor* f = FieldOf(m, name);
  if (f == nullptr || f->cpp_type() != pb::FieldDescriptor::CPPTYPE_STRING) return out;
  const pb::Reflection* r = m.GetReflection();
  if (f->is_repeated()) {
    for (int i = 0; i < r->FieldSize(m, f); ++i) out.push_back(r->GetRepeatedString(m, f, i));
  } else if (r->HasField(m, f)) {
    out.push_back(r->GetString(m, f));
  }
  return out;
}

std::vector<float> GetFloats(const pb::Message& m, const char* name) {
  std::vector<float> out;
  const pb::FieldDescriptor* f = FieldOf(m, name);
  if (f == nullptr || !f->is_repeated() || f->cpp_type() != pb::FieldDescriptor::CPPTYPE_FLOAT) return out;
  const pb::Reflection* r = m.GetReflection();
  for (int i = 0; i < r->FieldSize(m, f); ++i) out.push_back(r->GetRepeatedFloat(m, f, i));
  return out;
}

std::vector<std::pair<std::string, uint64_t>> GetStringUIntMap(const pb::Message& m, const char* name) {
  std::vector<std::pair<std::string, uint64_t>> out;
  const pb::FieldDescriptor* f = FieldOf(m, name);
  if (f == nullptr || !f->is_map()) return out;
  const pb::Reflection* r = m.GetReflection();
  for (int i = 0; i < r->FieldSize(m, f); ++i) {
    const pb::Message& entry = r->GetRepeatedMessage(m, f, i);
    out.emplace_back(GetString(entry, "key"), GetUInt(entry, "value"));
  }
  std::sort(out.begin(), out.end());
  return out;
}

const pb::FieldDescriptor* OneofCase(const pb::Message& m, const char* oneof_name) {
  const pb::OneofDescriptor* od = m.GetDescriptor()->FindOneofByName(oneof_name);
  if (od == nullptr) return nullptr;
  return m.GetReflection()->GetOneofFieldDescriptor(m, od);
}

}  // namespace tzrec
