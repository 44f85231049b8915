// YAML -> Config: the schema, read section by section (the Loader, loader_sections.h; its
// sections in loader_ports.cpp, loader_groups.cpp and loader_options.cpp). Cross-references
// between sections are checked in validate.cpp once everything is read.
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "config/config.h"
#include "config/loader_sections.h"
#include "config/routers.h"
#include "config/validate.h"

namespace ptbsteer::config {
namespace {

using detail::Loader;

LoadResult load(const std::string& text, const std::string& name) {
    LoadResult out;
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
        out.errors.push_back(ConfigError{Location{name, e.mark.line + 1, e.mark.column + 1},
                                         fmt::format("YAML syntax error: {}", e.msg)});
        return out;
    }
    Loader l{Reader(name, out.errors), {}, {}, out.errors, {}, {}};
    l.cfg.file = name;
    Map top(l.r, Node(root), "the configuration",
            {"eal", "presets_dir", "ports", "lcores", "addresses", "routers", "groups", "metrics",
             "control", "capture", "limits", "neighbors", "simd"});
    if (!top.valid()) return out;
    try {
        l.eal(top.get("eal"));
        l.presets_dir(top.get("presets_dir"));
        l.ports(top.get("ports", true));
        l.lcores(top.get("lcores", true));
        l.addresses(top.get("addresses"));
        l.routers(top.get("routers"));
        l.groups(top.get("groups", true));
        l.metrics(top.get("metrics"));
        l.control(top.get("control"));
        l.capture(top.get("capture"));
        l.limits(top.get("limits"));
        l.neighbors(top.get("neighbors"));
        l.simd(top.get("simd"));
    } catch (const YAML::Exception& e) {
        // yaml-cpp throws on a few shapes (e.g. a non-scalar key); report it where it happened.
        out.errors.push_back(
            ConfigError{Location{name, e.mark.line + 1, e.mark.column + 1}, e.msg});
        return out;
    }
    // Derived first, so the shared states are checked too (a union of next-hops over the
    // selector's limit, two names for one server).
    derive_shared_states(l.cfg);
    validate(l.cfg, l.r);
    if (!out.errors.empty()) return out;
    out.config = std::move(l.cfg);
    return out;
}

} // namespace

GroupRead read_group(const Config& base, const GroupDoc& doc) {
    GroupRead out;
    Config shell; // the loader appends to cfg.groups; only the ports are read from `base`
    shell.ports = base.ports;
    Loader l{Reader(doc.origin, out.errors), std::move(shell), {}, out.errors, {}, {}};
    l.known_hops = &doc.known_hops;
    for (std::size_t i = 0; i < l.cfg.ports.size(); ++i)
        l.port_index[l.cfg.ports[i].name] = i;
    l.group(Node(doc.json, doc.paths, JsonPaths::root));
    if (out.errors.empty() && l.cfg.groups.size() == 1) {
        out.group = std::move(l.cfg.groups.back());
        out.group->source = Source::api;
    }
    return out;
}

LoadResult with_groups(const Config& base, std::vector<Group> extra) {
    LoadResult out;
    Config cfg = base;
    // The shared states follow from all states, the new ones included: derived again.
    std::erase_if(cfg.groups, [](const Group& g) { return g.derived; });
    for (Group& g : extra)
        cfg.groups.push_back(std::move(g));
    Reader r(base.file, out.errors);
    derive_shared_states(cfg);
    validate(cfg, r);
    if (!out.errors.empty()) return out;
    out.config = std::move(cfg);
    return out;
}

LoadResult load_config_text(const std::string& text, const std::string& name) {
    return load(text, name);
}

LoadResult load_config_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        LoadResult out;
        out.errors.push_back(ConfigError{Location{path, 0, 0}, "cannot open the file for reading"});
        return out;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return load(ss.str(), path);
}

} // namespace ptbsteer::config
