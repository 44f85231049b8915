// Checked access to a configuration document (node.h: YAML or JSON): every wrong type, unknown key
// or bad value becomes a ConfigError at the node's file:line:column, and reading goes on so that
// one run reports all.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/node.h"
#include "util/name_table.h"

namespace ptbsteer::config {

class Reader {
  public:
    Reader(std::string file, std::vector<ConfigError>& errors)
        : file_(std::move(file)), errors_(errors) {}

    Location at(const Node& n) const;
    void error(const Node& n, std::string message);
    void error(const Location& where, std::string message);
    // An error that is a clash with another group (ConfigError::collision).
    void collision(const Location& where, std::string message);
    const std::string& file() const { return file_; }

    std::optional<std::string> string(const Node& n, std::string_view what);
    std::optional<std::uint64_t> unsigned_in(const Node& n, std::string_view what,
                                             std::uint64_t min, std::uint64_t max);
    std::optional<bool> boolean(const Node& n, std::string_view what);
    // The index of the value in `choices`, or nullopt after an error listing them.
    std::optional<std::size_t> choice(const Node& n, std::string_view what,
                                      std::span<const std::string_view> choices);
    std::optional<std::size_t> choice(const Node& n, std::string_view what,
                                      std::initializer_list<std::string_view> choices) {
        return choice(n, what, std::span<const std::string_view>(choices.begin(), choices.size()));
    }
    // The enumerator named by the value, or nullopt after an error listing the table's names.
    template <typename E, std::size_t N>
    std::optional<E> choice(const Node& n, std::string_view what,
                            const util::NameTable<E, N>& names) {
        const auto i = choice(n, what, names.names());
        return i ? std::optional<E>(static_cast<E>(*i)) : std::nullopt;
    }
    // A sequence (a single scalar is accepted as a one-element list when `scalar_ok`).
    std::optional<std::vector<Node>> list(const Node& n, std::string_view what,
                                          bool scalar_ok = false);

  private:
    std::string file_;
    std::vector<ConfigError>& errors_;
};

// A mapping with a fixed set of keys. Unknown and duplicate keys are reported on construction.
class Map {
  public:
    Map(Reader& r, const Node& node, std::string_view what,
        std::initializer_list<std::string_view> keys)
        : Map(r, node, what, std::span<const std::string_view>(keys.begin(), keys.size())) {}
    Map(Reader& r, const Node& node, std::string_view what, std::span<const std::string_view> keys);
    bool valid() const { return valid_; }
    const Node& node() const { return node_; }
    // The value of `key`, or an undefined node when absent (an error when `required`).
    Node get(std::string_view key, bool required = false);

  private:
    Reader& r_;
    Node node_;
    std::string what_;
    bool valid_ = false;
    // The keys' first occurrences, read once: yaml-cpp's map iteration allocates a node per
    // step, and a 4096-next-hop group asks each next-hop for seven keys.
    std::vector<std::pair<std::string, Node>> entries_;
};

} // namespace ptbsteer::config
