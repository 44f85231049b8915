#include "api/capture.h"

#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>

#include <fmt/format.h>

#include "control/capture.h"

namespace ptbsteer::api {
namespace {

using nlohmann::json;

constexpr std::size_t max_name = 200;

json status_json(const control::CaptureStatus& s) {
    return {{"running", s.running},
            {"copying", s.copying},
            {"file", s.file},
            {"what", std::string(config::name(s.what))},
            {"max_bytes", s.max_bytes},
            {"written_packets", s.frames},
            {"file_bytes", s.bytes},
            {"over_limit_packets", s.over_limit},
            {"write_failed", s.write_failed}};
}

// A plain file name: letters, digits, '.', '_', '-'; not hidden, not "." or "..".
bool plain_name(const std::string& n) {
    if (n.empty() || n.size() > max_name || n.front() == '.') return false;
    for (const char c : n)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-')
            return false;
    return true;
}

// ptbsteer-STAMP.pcapng, or ptbsteer-STAMP-N.pcapng for the first N free in dir: two captures
// in one second must both start (the file is still opened O_EXCL, so a race only refuses).
std::string default_name(const std::string& dir) {
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &utc);
    std::string name = fmt::format("ptbsteer-{}.pcapng", stamp);
    struct stat st {};
    for (unsigned n = 2; n < 1000 && ::stat((dir + "/" + name).c_str(), &st) == 0; ++n)
        name = fmt::format("ptbsteer-{}-{}.pcapng", stamp, n);
    return name;
}

// The body as a capture, or the refusal naming the field.
std::optional<config::Capture> capture_from(const json& doc, std::string& file, Response& refused) {
    auto refuse = [&](const std::string& sentence, const std::string& path) {
        refused = {400, refusal(sentence, path)};
        return std::nullopt;
    };
    if (!doc.is_object())
        return refuse("the body must be a JSON object: {\"file\", \"what\", \"max_bytes\"}", "");
    config::Capture c;
    for (const auto& [key, v] : doc.items()) {
        const std::string path = "/" + key;
        if (key == "file") {
            if (!v.is_string() || !plain_name(v.get<std::string>()))
                return refuse(fmt::format("file must be a plain file name (letters, digits, '.', "
                                          "'_', '-'; at most {} characters, not starting with "
                                          "'.'): it is created in control.capture_dir",
                                          max_name),
                              path);
            file = v.get<std::string>();
        } else if (key == "what") {
            const auto w = v.is_string() ? config::capture_what_names.parse(v.get<std::string>())
                                         : std::nullopt;
            if (!w) return refuse("what must be \"drops\" or \"all\"", path);
            c.what = *w;
        } else if (key == "max_bytes") {
            if (!v.is_number_unsigned() || v.get<std::uint64_t>() < config::capture_min_bytes ||
                v.get<std::uint64_t>() > config::capture_max_bytes)
                return refuse(fmt::format("max_bytes must be an integer from {} to {}",
                                          config::capture_min_bytes, config::capture_max_bytes),
                              path);
            c.max_bytes = v.get<std::uint64_t>();
        } else {
            return refuse(
                fmt::format("unknown field '{}'; a capture has file, what and max_bytes", key),
                path);
        }
    }
    return c;
}

} // namespace

Response capture_status(const control::Runtime& rt) {
    return {200, status_json(rt.capture->status())};
}

Response start_capture(const control::Runtime& rt, const std::string& body) {
    const json doc = body.empty() ? json::object() : json::parse(body, nullptr, false);
    if (doc.is_discarded())
        return {400, refusal("the body is not JSON (RFC 8259); send {\"file\", \"what\", "
                             "\"max_bytes\"} or nothing")};
    std::string file;
    Response refused;
    std::optional<config::Capture> c = capture_from(doc, file, refused);
    if (!c) return refused;
    const std::string& dir = rt.config->control.capture_dir;
    // Only the last component is made (owner and group only); a missing parent is an error.
    if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST)
        return {500, refusal(fmt::format("capture_dir {}: cannot create it: {}", dir,
                                         std::strerror(errno)))};
    if (file.empty()) file = default_name(dir);
    c->file = dir + "/" + file;
    try {
        return {200, status_json(rt.capture->start(*c, control::CaptureOpen::create_new))};
    } catch (const control::CaptureRefused& e) {
        return {e.conflict ? 409 : 500, refusal(e.what())};
    }
}

Response stop_capture(const control::Runtime& rt) {
    const std::optional<control::CaptureStatus> s = rt.capture->stop();
    if (!s) return {404, refusal("no capture runs")};
    return {200, status_json(*s)};
}

} // namespace ptbsteer::api
