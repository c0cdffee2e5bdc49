#include "export/remote/s3_xml.h"

#include <expat.h>

#include <cstdlib>

#include "common/error.h"

namespace tzrec::exporting::remote {

namespace {

struct ParseState {
  std::unique_ptr<XmlElement> root;
  std::vector<XmlElement*> open;
};

void OnStart(void* data, const XML_Char* name, const XML_Char** /*attributes*/) {
  auto* state = static_cast<ParseState*>(data);
  auto element = std::make_unique<XmlElement>();
  element->name = name;
  XmlElement* raw = element.get();
  if (state->open.empty()) {
    state->root = std::move(element);
  } else {
    state->open.back()->children.push_back(std::move(element));
  }
  state->open.push_back(raw);
}

void OnEnd(void* data, const XML_Char* /*name*/) {
  static_cast<ParseState*>(data)->open.pop_back();
}

void OnText(void* data, const XML_Char* text, int length) {
  auto* state = static_cast<ParseState*>(data);
  if (!state->open.empty()) state->open.back()->text.append(text, static_cast<size_t>(length));
}

}  // namespace

const XmlElement* XmlElement::Child(const std::string& child_name) const {
  for (const auto& child : children) {
    if (child->name == child_name) return child.get();
  }
  return nullptr;
}

std::string XmlElement::ChildText(const std::string& child_name) const {
  const XmlElement* child = Child(child_name);
  return child ? child->text : "";
}

std::unique_ptr<XmlElement> ParseXml(const std::string& xml) {
  ParseState state;
  XML_Parser parser = XML_ParserCreate(nullptr);
  XML_SetUserData(parser, &state);
  XML_SetElementHandler(parser, OnStart, OnEnd);
  XML_SetCharacterDataHandler(parser, OnText);
  const bool ok = XML_Parse(parser, xml.data(), static_cast<int>(xml.size()), 1) == XML_STATUS_OK;
  XML_ParserFree(parser);
  if (!ok) return nullptr;
  return std::move(state.root);
}

std::optional<S3ErrorBody> ParseS3Error(const std::string& xml) {
  std::unique_ptr<XmlElement> root = ParseXml(xml);
  if (!root || root->name != "Error") return std::nullopt;
  return S3ErrorBody{root->ChildText("Code"), root->ChildText("Message")};
}

ListPage ParseListPage(const std::string& xml) {
  std::unique_ptr<XmlElement> root = ParseXml(xml);
  if (!root || root->name != "ListBucketResult") {
    Fail("the object store's listing is not a ListBucketResult document: {}", xml.substr(0, 200));
  }
  ListPage page;
  for (const auto& child : root->children) {
    if (child->name == "Contents") {
      ObjectEntry entry;
      entry.key = child->ChildText("Key");
      entry.size = std::strtoull(child->ChildText("Size").c_str(), nullptr, 10);
      page.objects.push_back(std::move(entry));
    } else if (child->name == "CommonPrefixes") {
      page.common_prefixes.push_back(child->ChildText("Prefix"));
    }
  }
  if (root->ChildText("IsTruncated") == "true") {
    page.next_continuation_token = root->ChildText("NextContinuationToken");
    if (page.next_continuation_token.empty()) {
      Fail("the object store's listing is truncated but has no NextContinuationToken");
    }
  }
  return page;
}

std::string ParseUploadId(const std::string& xml) {
  std::unique_ptr<XmlElement> root = ParseXml(xml);
  const std::string id = root ? root->ChildText("UploadId") : "";
  if (id.empty()) Fail("the object store's answer to CreateMultipartUpload has no UploadId");
  return id;
}

}  // namespace tzrec::exporting::remote
