#include "config/node.h"

#include <nlohmann/json.hpp>

namespace ptbsteer::config {
namespace {

// One reference token (RFC 6901 §3): '~' as "~0", '/' as "~1".
void append_token(std::string& out, std::string_view key) {
    for (const char c : key) {
        if (c == '~')
            out += "~0";
        else if (c == '/')
            out += "~1";
        else
            out += c;
    }
}

} // namespace

int JsonPaths::member(int parent, std::string_view key) {
    steps_.push_back(Step{parent, key, 0, false});
    return int(steps_.size() - 1);
}

int JsonPaths::element(int parent, std::size_t index) {
    steps_.push_back(Step{parent, {}, index, true});
    return int(steps_.size() - 1);
}

std::string JsonPaths::pointer(int id) const {
    if (id <= 0 || std::size_t(id) >= steps_.size()) return "";
    std::vector<int> chain;
    for (int i = id; i > 0; i = steps_[std::size_t(i)].parent)
        chain.push_back(i);
    std::string out;
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
        const Step& s = steps_[std::size_t(*it)];
        out += '/';
        if (s.is_element)
            out += std::to_string(s.index);
        else
            append_token(out, s.key);
    }
    return out;
}

bool Node::IsScalar() const {
    if (is_yaml_) return yaml_.IsScalar();
    return json_ && (json_->is_string() || json_->is_number() || json_->is_boolean());
}

bool Node::IsNull() const {
    return is_yaml_ ? yaml_.IsNull() : json_ && json_->is_null();
}

bool Node::IsMap() const {
    return is_yaml_ ? yaml_.IsMap() : json_ && json_->is_object();
}

bool Node::IsSequence() const {
    return is_yaml_ ? yaml_.IsSequence() : json_ && json_->is_array();
}

std::string Node::Scalar() const {
    if (is_yaml_) return yaml_.Scalar();
    if (!json_) return "";
    if (json_->is_string()) return json_->get_ref<const std::string&>();
    if (json_->is_number() || json_->is_boolean()) return json_->dump();
    return "";
}

std::size_t Node::size() const {
    if (is_yaml_) return yaml_.size();
    return json_ && (json_->is_array() || json_->is_object()) ? json_->size() : 0;
}

std::vector<Node> Node::elements() const {
    std::vector<Node> out;
    if (is_yaml_) {
        for (const YAML::Node& item : yaml_)
            out.emplace_back(item);
        return out;
    }
    if (!json_ || !json_->is_array()) return out;
    out.reserve(json_->size());
    for (std::size_t i = 0; i < json_->size(); ++i)
        out.emplace_back((*json_)[i], *paths_, paths_->element(id_, i));
    return out;
}

std::vector<Node::Entry> Node::entries() const {
    std::vector<Entry> out;
    if (is_yaml_) {
        for (const auto& kv : yaml_)
            out.push_back(Entry{kv.first.Scalar(), Node(kv.first), Node(kv.second)});
        return out;
    }
    if (!json_ || !json_->is_object()) return out;
    out.reserve(json_->size());
    for (auto it = json_->begin(); it != json_->end(); ++it) {
        const Node value(it.value(), *paths_, paths_->member(id_, it.key()));
        out.push_back(Entry{it.key(), value, value});
    }
    return out;
}

std::pair<int, int> Node::position() const {
    if (!is_yaml_) return json_ ? std::pair{1, id_ + 1} : std::pair{0, 0};
    const YAML::Mark m = yaml_.Mark();
    if (m.is_null()) return {0, 0};
    return {m.line + 1, m.column + 1};
}

} // namespace ptbsteer::config
