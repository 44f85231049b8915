#include "api/auth.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <sys/stat.h>

#include <fmt/format.h>

namespace ptbsteer::api {

std::string read_token(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        throw std::runtime_error(
            fmt::format("control: token_file {}: {}", path, std::strerror(errno)));
    if ((st.st_mode & 077) != 0)
        throw std::runtime_error(fmt::format(
            "control: token_file {} has mode {:04o}: group or others can read or change it; "
            "chmod 600 {}",
            path, st.st_mode & 07777, path));
    std::ifstream in(path);
    if (!in)
        throw std::runtime_error(
            fmt::format("control: token_file {}: cannot open it for reading", path));
    std::ostringstream ss;
    ss << in.rdbuf();
    std::string t = ss.str();
    const auto first = t.find_first_not_of(" \t\r\n");
    if (first == std::string::npos)
        throw std::runtime_error(
            fmt::format("control: token_file {} is empty; put a long random token in it "
                        "(e.g. head -c 32 /dev/urandom | base64)",
                        path));
    t = t.substr(first, t.find_last_not_of(" \t\r\n") - first + 1);
    return t;
}

bool authorized(std::string_view header, std::string_view token) {
    constexpr std::string_view scheme = "Bearer ";
    if (header.size() < scheme.size() || header.substr(0, scheme.size()) != scheme) return false;
    if (token.empty()) return false;
    const std::string_view given = header.substr(scheme.size());
    // Every byte of the given token is compared, whatever came before (no early exit).
    unsigned diff = given.size() != token.size();
    for (std::size_t i = 0; i < given.size(); ++i)
        diff |= unsigned(std::uint8_t(given[i]) ^ std::uint8_t(token[i % token.size()]));
    return diff == 0;
}

} // namespace ptbsteer::api
