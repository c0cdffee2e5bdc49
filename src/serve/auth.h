// Who may call the service (--token): EAS services take the token two ways,
// and so does tzrec serve:
//  - the token itself in the Authorization header (what a caller with a custom
//    URL sends, and plain HTTP clients);
//  - the EAS SDK's signature: "EAS " + base64(HMAC-SHA1(token, "POST\n" +
//    Content-MD5 + "\n" + Content-Type + "\n" + Date + "\n" + path)), where
//    Content-MD5 is the hex MD5 of the body (checked against the body).
#pragma once

#include <string>

namespace tzrec::serve {

struct SignedRequest {
  std::string path;           // e.g. "/api/predict/my_service"
  std::string authorization;  // the Authorization header
  std::string content_md5;
  std::string content_type;
  std::string date;
  const std::string* body = nullptr;
};

// True when `token` is empty (no token required) or the request carries it.
bool Authorized(const std::string& token, const SignedRequest& request);

}  // namespace tzrec::serve
