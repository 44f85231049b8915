// The control API's bearer token (RFC 6750): read once from `control: {token_file}` at start,
// compared in constant time on every request, loopback clients included.
#pragma once

#include <string>
#include <string_view>

namespace ptbsteer::api {

// The token in `path` (surrounding whitespace removed). Throws std::runtime_error with a sentence
// when the file is missing or unreadable, empty, or readable or writable by group or others:
// a token others can read authenticates nobody.
std::string read_token(const std::string& path);

// Whether the Authorization header value is "Bearer <token>". Takes as long for every wrong token
// of a given length, wherever it differs.
bool authorized(std::string_view header, std::string_view token);

} // namespace ptbsteer::api
