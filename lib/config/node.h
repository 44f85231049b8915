// One node of a configuration document, as the loader's checks read it (yaml_reader.h): a
// yaml-cpp node (the file, the presets) or a node of a parsed JSON document (a group put
// through the control API, lib/api). One set of checks for both, so a group is refused for the
// same mistakes with the same sentences whichever way it came; JSON is read from nlohmann-json's
// tree directly, without a YAML text in between (yaml-cpp reading 4096 next-hops took most of a
// PUT).
//
// A JSON node's place is its JSON pointer (RFC 6901): JsonPaths numbers the nodes the checks
// visit, and a JSON node's Location is line 1, column 1 + that number (JsonPaths::pointer gives
// the pointer back).
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace ptbsteer::config {

class JsonPaths {
  public:
    JsonPaths() { steps_.push_back(Step{-1, {}, 0, false}); } // 0: the document, pointer ""
    static constexpr int root = 0;
    int member(int parent, std::string_view key); // `key` must outlive this (the document's)
    int element(int parent, std::size_t index);
    std::string pointer(int id) const;

  private:
    struct Step {
        int parent;
        std::string_view key; // an object member's
        std::size_t index;    // an array element's
        bool is_element;
    };
    std::vector<Step> steps_;
};

class Node {
  public:
    Node() = default; // undefined: a key that was not there
    explicit Node(const YAML::Node& n) : yaml_(n), is_yaml_(true) {}
    Node(const nlohmann::json& j, JsonPaths& paths, int id) : json_(&j), paths_(&paths), id_(id) {}

    explicit operator bool() const { return is_yaml_ ? bool(yaml_) : json_ != nullptr; }
    bool IsScalar() const;
    bool IsNull() const;
    bool IsMap() const;
    bool IsSequence() const;
    // A scalar's text: a YAML scalar as written; a JSON string's value, a number or boolean as
    // JSON writes it ("4096", "-1", "1.5", "true").
    std::string Scalar() const;
    std::size_t size() const;

    std::vector<Node> elements() const; // a sequence's
    struct Entry;
    std::vector<Entry> entries() const; // a mapping's, in document order (JSON: key order)

    // 1-based line and column; (0, 0) when unknown.
    std::pair<int, int> position() const;

  private:
    YAML::Node yaml_;
    bool is_yaml_ = false;
    const nlohmann::json* json_ = nullptr;
    JsonPaths* paths_ = nullptr;
    int id_ = 0;
};

struct Node::Entry {
    std::string key;
    Node key_node; // where the key is (a JSON member's key and value share one pointer)
    Node value;
};

} // namespace ptbsteer::config
