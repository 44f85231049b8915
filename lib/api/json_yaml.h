// A JSON document as the YAML the configuration loader reads, with the way back from a loader
// error's line:column to the JSON field it is about. JSON is YAML's flow style (YAML 1.2 §1.3),
// so the text is the document written out on one line with every string quoted and escaped to
// ASCII; what this adds is a record of where each key and value starts, so that an API error
// says `"path": "/next_hops/1/mac"` instead of a column. No parsing here: nlohmann-json parsed the
// body, yaml-cpp parses the text.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace ptbsteer::api {

class FlowYaml {
  public:
    explicit FlowYaml(const nlohmann::json& doc);

    const std::string& text() const { return text_; }
    // The JSON pointer (RFC 6901) of the key or value that starts last at or before `column`
    // (1-based, as the loader reports it); "" (the whole document) before the first.
    std::string path_at(int column) const;

  private:
    void write(const nlohmann::json& v, const std::string& path);
    void mark(const std::string& path) { starts_.emplace_back(int(text_.size()) + 1, path); }

    std::string text_;
    std::vector<std::pair<int, std::string>> starts_; // (column, pointer), ascending columns
};

// One reference token of a JSON pointer: '~' as "~0", '/' as "~1" (RFC 6901 §3).
std::string pointer_token(const std::string& key);

} // namespace ptbsteer::api
