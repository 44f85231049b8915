#include "config/yaml_reader.h"

#include <algorithm>
#include <charconv>
#include <utility>

#include <fmt/format.h>

namespace ptbsteer::config {
namespace {

std::string join(std::span<const std::string_view> items) {
    std::string s;
    for (std::string_view i : items)
        s += (s.empty() ? "" : ", ") + std::string(i);
    return s;
}

} // namespace

Location Reader::at(const Node& n) const {
    const auto [line, column] = n.position();
    return Location{file_, line, column};
}

void Reader::error(const Node& n, std::string message) {
    error(at(n), std::move(message));
}

void Reader::error(const Location& where, std::string message) {
    errors_.push_back(ConfigError{where, std::move(message)});
}

void Reader::collision(const Location& where, std::string message) {
    errors_.push_back(ConfigError{where, std::move(message), true});
}

std::optional<std::string> Reader::string(const Node& n, std::string_view what) {
    if (!n.IsScalar()) {
        error(n, fmt::format("{} must be a single value, not a list or mapping", what));
        return std::nullopt;
    }
    return n.Scalar();
}

std::optional<std::uint64_t> Reader::unsigned_in(const Node& n, std::string_view what,
                                                 std::uint64_t min, std::uint64_t max) {
    const auto s = string(n, what);
    if (!s) return std::nullopt;
    std::uint64_t v = 0;
    const bool hex = s->size() > 2 && (*s)[0] == '0' && ((*s)[1] == 'x' || (*s)[1] == 'X');
    const char* b = s->data() + (hex ? 2 : 0);
    const char* e = s->data() + s->size();
    auto [end, ec] = std::from_chars(b, e, v, hex ? 16 : 10);
    if (ec != std::errc() || end != e || b == e) {
        error(n, fmt::format("{} must be a whole number, not '{}'", what, *s));
        return std::nullopt;
    }
    if (v < min || v > max) {
        error(n, fmt::format("{} must be between {} and {}, not {}", what, min, max, v));
        return std::nullopt;
    }
    return v;
}

std::optional<bool> Reader::boolean(const Node& n, std::string_view what) {
    const auto s = string(n, what);
    if (!s) return std::nullopt;
    if (*s == "true" || *s == "yes" || *s == "on") return true;
    if (*s == "false" || *s == "no" || *s == "off") return false;
    error(n, fmt::format("{} must be true or false, not '{}'", what, *s));
    return std::nullopt;
}

std::optional<std::size_t> Reader::choice(const Node& n, std::string_view what,
                                          std::span<const std::string_view> choices) {
    const auto s = string(n, what);
    if (!s) return std::nullopt;
    std::size_t i = 0;
    for (std::string_view c : choices) {
        if (*s == c) return i;
        ++i;
    }
    error(n, fmt::format("{} must be one of {}, not '{}'", what, join(choices), *s));
    return std::nullopt;
}

std::optional<std::vector<Node>> Reader::list(const Node& n, std::string_view what,
                                              bool scalar_ok) {
    if (n.IsScalar() && scalar_ok) return std::vector<Node>{n};
    if (!n.IsSequence()) {
        error(n, fmt::format("{} must be a list", what));
        return std::nullopt;
    }
    return n.elements();
}

Map::Map(Reader& r, const Node& node, std::string_view what, std::span<const std::string_view> keys)
    : r_(r), node_(node), what_(what) {
    if (!node.IsMap()) {
        r.error(node, fmt::format("{} must be a mapping of keys to values", what));
        return;
    }
    valid_ = true;
    for (Node::Entry& e : node.entries()) {
        const bool duplicate = std::any_of(entries_.begin(), entries_.end(),
                                           [&](const auto& k) { return k.first == e.key; });
        if (duplicate) r.error(e.key_node, fmt::format("duplicate key '{}' in {}", e.key, what));
        bool known = false;
        for (std::string_view k : keys)
            known |= k == e.key;
        if (!known)
            r.error(e.key_node, fmt::format("unknown key '{}' in {} (known keys: {})", e.key, what,
                                            join(keys)));
        if (!duplicate) entries_.emplace_back(std::move(e.key), std::move(e.value));
    }
}

Node Map::get(std::string_view key, bool required) {
    if (!valid_) return Node();
    for (const auto& [k, v] : entries_)
        if (k == key) return v;
    if (required) r_.error(node_, fmt::format("{} needs the key '{}'", what_, key));
    return Node();
}

} // namespace ptbsteer::config
