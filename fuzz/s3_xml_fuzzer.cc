// The S3 XML answers a remote export reads (export/remote/s3_xml.h): the
// same bytes as a generic document, an <Error> body, a ListObjectsV2 page
// and a CreateMultipartUpload answer, as a server (or anything posing as
// one) may send any of them to any request.
#include <cstdint>
#include <functional>
#include <string>

#include "export/remote/s3_xml.h"
#include "fuzz_util.h"

namespace {

namespace remote = tzrec::exporting::remote;

void Walk(const remote::XmlElement& element) {
  element.ChildText("Key");
  for (const auto& child : element.children) Walk(*child);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string xml(tzrec::fuzzing::AsView(data, size));
  tzrec::fuzzing::ExpectOnlyTzrecErrors([&] {
    if (const auto root = remote::ParseXml(xml)) Walk(*root);
    remote::ParseS3Error(xml);
  });
  tzrec::fuzzing::ExpectOnlyTzrecErrors([&] { remote::ParseListPage(xml); });
  tzrec::fuzzing::ExpectOnlyTzrecErrors([&] { remote::ParseUploadId(xml); });
  return 0;
}
