// The percent-encoding and query canonicalization of AWS Signature Version 4.
// libcurl (CURLOPT_AWS_SIGV4, 7.88) signs the path and the query string
// exactly as they appear in the URL, so tzrec writes URLs already in canonical
// form: key segments encoded, query parameters encoded and sorted.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tzrec::exporting::remote {

// Encodes every byte except A-Z a-z 0-9 - . _ ~ as %XX (uppercase hex); '/' is
// kept when `keep_slash` (object keys in paths) and encoded otherwise.
std::string AwsUriEncode(std::string_view text, bool keep_slash);

using QueryParams = std::vector<std::pair<std::string, std::string>>;

// "a=1&b=x%2Fy": names and values encoded, sorted by encoded name, then value;
// a parameter without value is written "name=" (as SigV4 canonicalizes it).
std::string CanonicalQueryString(const QueryParams& params);

}  // namespace tzrec::exporting::remote
