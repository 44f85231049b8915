#include "api/json_yaml.h"

#include <algorithm>

namespace ptbsteer::api {
namespace {

// A JSON string literal, non-ASCII as \u escapes (both JSON and YAML double-quoted scalars).
std::string quoted(const std::string& s) {
    return nlohmann::json(s).dump(-1, ' ', true);
}

} // namespace

std::string pointer_token(const std::string& key) {
    std::string out;
    for (char c : key) {
        if (c == '~')
            out += "~0";
        else if (c == '/')
            out += "~1";
        else
            out += c;
    }
    return out;
}

FlowYaml::FlowYaml(const nlohmann::json& doc) {
    write(doc, "");
}

void FlowYaml::write(const nlohmann::json& v, const std::string& path) {
    mark(path);
    if (v.is_object()) {
        text_ += '{';
        bool first = true;
        for (const auto& [key, value] : v.items()) {
            if (!first) text_ += ", ";
            first = false;
            const std::string at = path + "/" + pointer_token(key);
            mark(at); // a key's errors (unknown, repeated) are about its field
            text_ += quoted(key) + ": ";
            write(value, at);
        }
        text_ += '}';
    } else if (v.is_array()) {
        text_ += '[';
        for (std::size_t i = 0; i < v.size(); ++i) {
            if (i) text_ += ", ";
            write(v[i], path + "/" + std::to_string(i));
        }
        text_ += ']';
    } else if (v.is_string()) {
        text_ += quoted(v.get<std::string>());
    } else {
        text_ += v.dump(); // numbers, true, false, null: the same plain scalars in YAML
    }
}

std::string FlowYaml::path_at(int column) const {
    const auto it = std::upper_bound(starts_.begin(), starts_.end(), column,
                                     [](int c, const auto& s) { return c < s.first; });
    return it == starts_.begin() ? std::string() : std::prev(it)->second;
}

} // namespace ptbsteer::api
