#include "serve/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/file_digest.h"

namespace tzrec::serve {
namespace {

std::string Base64HmacSha1(const std::string& key, const std::string& message) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &length);
  std::string encoded(4 * ((length + 2) / 3) + 1, '\0');
  const int written =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()), digest, static_cast<int>(length));
  encoded.resize(static_cast<size_t>(written));
  return encoded;
}

// Compares in time independent of where the strings differ.
bool SameSecret(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

bool Authorized(const std::string& token, const SignedRequest& request) {
  if (token.empty()) return true;
  if (SameSecret(request.authorization, token)) return true;
  const std::string prefix = "EAS ";
  if (request.authorization.compare(0, prefix.size(), prefix) != 0 || request.body == nullptr) {
    return false;
  }
  if (request.content_md5 != DigestHex(*request.body, DigestKind::kMd5)) return false;
  const std::string message = "POST\n" + request.content_md5 + "\n" + request.content_type + "\n" +
                              request.date + "\n" + request.path;
  return SameSecret(request.authorization.substr(prefix.size()), Base64HmacSha1(token, message));
}

}  // namespace tzrec::serve
