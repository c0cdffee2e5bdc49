// The few S3 XML documents tzrec reads (ListObjectsV2 results, multipart
// upload ids, error bodies), parsed with expat into a small element tree.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tzrec::exporting::remote {

struct XmlElement {
  std::string name;  // without namespace (S3 documents use one default namespace)
  std::string text;  // character data directly inside
  std::vector<std::unique_ptr<XmlElement>> children;

  // The first child named `name`; nullptr when there is none.
  const XmlElement* Child(const std::string& name) const;
  // The text of the first child named `name`; "" when there is none.
  std::string ChildText(const std::string& name) const;
};

// The document's root element; nullptr when `xml` is not well-formed.
std::unique_ptr<XmlElement> ParseXml(const std::string& xml);

struct S3ErrorBody {
  std::string code;     // "NoSuchBucket", "SignatureDoesNotMatch", ...
  std::string message;  // may be empty
};
// An <Error> document's code and message; nullopt for anything else.
std::optional<S3ErrorBody> ParseS3Error(const std::string& xml);

struct ObjectEntry {
  std::string key;
  uint64_t size = 0;
};

struct ListPage {
  std::vector<ObjectEntry> objects;
  std::vector<std::string> common_prefixes;
  std::string next_continuation_token;  // empty when this was the last page
};
// A ListObjectsV2 result; an Error naming the problem when it is not one.
ListPage ParseListPage(const std::string& xml);

// CreateMultipartUpload's UploadId; an Error when absent.
std::string ParseUploadId(const std::string& xml);

}  // namespace tzrec::exporting::remote
