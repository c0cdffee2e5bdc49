// JSON text exactly as Python's `json.dump(obj, f, indent=4)` writes it.
//
// Upstream writes fg.json that way and serving systems compare those files
// byte for byte, so the layout is part of the format: 4-space indent, ", " never
// used (items end in "," + newline), ": " between key and value, every
// non-printable or non-ASCII character escaped as a lowercase \uXXXX (UTF-16
// surrogate pairs above U+FFFF), floats in Python's repr form and no trailing
// newline. nlohmann's dump() differs on floats and on escapes, hence this file.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace tzrec {

// Python's repr() of a double: shortest round-trip digits, fixed notation for
// decimal exponents in [-4, 16), else "1e-05" / "1.5e+16"; integral values keep
// ".0"; non-finite values are written as json.dump does (NaN, Infinity, -Infinity).
std::string PythonFloatRepr(double value);

// A JSON string literal with Python's ensure_ascii escaping. Throws tzrec::Error
// if `utf8` is not valid UTF-8.
std::string PythonJsonString(const std::string& utf8);

// The whole document, as json.dump(value, f, indent=4).
std::string DumpPythonJson(const nlohmann::ordered_json& value);

}  // namespace tzrec
