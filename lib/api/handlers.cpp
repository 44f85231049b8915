#include "api/handlers.h"

#include <civetweb.h>
#include <fmt/format.h>
#include <rte_cycles.h>

#include "api/capture.h"
#include "api/decide.h"
#include "api/group_json.h"
#include "config/node.h"
#include "control/reload.h"
#include "control/report.h"

namespace ptbsteer::api {
namespace {

using nlohmann::json;

constexpr std::string_view groups_path = "/v1/groups";

constexpr auto npos = std::string::npos;

// /v1/groups/NAME -> ("", NAME); /v1/routers/ROUTER/groups/NAME -> (ROUTER, NAME): a group's
// state for every router without its own, or router ROUTER's (docs/api.md).
std::optional<std::pair<std::string, std::string>> group_path(std::string_view path) {
    if (path.starts_with(groups_path) && path.size() > groups_path.size() + 1 &&
        path[groups_path.size()] == '/')
        return std::pair(std::string(), std::string(path.substr(groups_path.size() + 1)));
    constexpr std::string_view routers = "/v1/routers/";
    if (!path.starts_with(routers)) return std::nullopt;
    const std::string_view rest = path.substr(routers.size());
    const std::size_t slash = rest.find("/groups/");
    if (slash == 0 || slash == npos) return std::nullopt;
    return std::pair(std::string(rest.substr(0, slash)),
                     std::string(rest.substr(slash + std::string_view("/groups/").size())));
}

Response not_allowed(std::string_view method, std::string_view path) {
    return {405, refusal(fmt::format("{} is not allowed on {}", method, path))};
}

Response list_groups(const control::Runtime& rt) {
    const config::Config c = rt.reloader->serving();
    json groups = json::array();
    for (const config::Group& g : c.groups)
        groups.push_back(group_json(c, g));
    return {200, {{"generation", rt.reloader->stats().generation.load()}, {"groups", groups}}};
}

// A group's state by its key: NAME (the state for every router without its own) or
// ROUTER/NAME (config::Group::key()).
Response get_group(const control::Runtime& rt, const std::string& key) {
    const config::Config c = rt.reloader->serving();
    for (const config::Group& g : c.groups)
        if (g.key() == key) return {200, group_json(c, g)};
    return {404, refusal(fmt::format("no group '{}' serves", key))};
}

// The loader's errors as refusals: inside the group, at the JSON field; elsewhere, as they are.
json errors_json(const std::vector<config::ConfigError>& errors, const std::string& origin,
                 const config::JsonPaths& paths) {
    json out = json::array();
    for (const config::ConfigError& e : errors) {
        if (e.where.file == origin)
            out.push_back(
                refusal(e.message, e.where.column > 0 ? paths.pointer(e.where.column - 1) : ""));
        else
            out.push_back(refusal(config::to_string(e)));
    }
    return out;
}

int status_of(control::UpdateOutcome o) {
    switch (o) {
    case control::UpdateOutcome::served: return 200;
    case control::UpdateOutcome::invalid: return 400;
    case control::UpdateOutcome::collision:
    case control::UpdateOutcome::file_owned: return 409;
    case control::UpdateOutcome::not_found: return 404;
    }
    return 500;
}

// The first refusal at the top (what a script reads), every one under "errors".
Response refused(int status, json errors) {
    json body = errors.empty() ? refusal("refused") : errors.front();
    body["errors"] = std::move(errors);
    return {status, std::move(body)};
}

// The next-hops of `doc` the cache has read before (GroupDoc::known_hops); `keys` gets every
// next-hop's JSON text, for HopCache::keep once the group serves.
std::vector<std::optional<config::NextHop>> known_hops(HopCache& cache, const std::string& name,
                                                       const json& doc,
                                                       std::vector<std::string>& keys) {
    const auto hops = doc.find("next_hops");
    if (hops == doc.end() || !hops->is_array()) return {};
    for (const json& h : *hops)
        keys.push_back(h.dump());
    return cache.known(name, keys);
}

Response put_group(const control::Runtime& rt, HopCache& cache, const std::string& name,
                   const std::string& router, const std::string& body) {
    json doc = json::parse(body, nullptr, false);
    if (doc.is_discarded())
        return {400, refusal("the body is not JSON (RFC 8259); send one group as a JSON object")};
    if (!doc.is_object()) return {400, refusal("the body must be a JSON object: one group")};
    if (auto n = doc.find("name"); n != doc.end() && *n != name)
        return {400, refusal(fmt::format("the body names group {}, the path '{}'", n->dump(), name),
                             "/name")};
    if (auto r = doc.find("router"); r != doc.end() && *r != router)
        return {400, refusal(fmt::format("the body names router {}, the path {}", r->dump(),
                                         router.empty() ? "none (/v1/routers/R/groups/NAME "
                                                          "puts router R's state)"
                                                        : "'" + router + "'"),
                             "/router")};
    if (doc.contains("derived"))
        return {400, refusal("derived is what GET says of a shared state ptbsteer made; a group "
                             "put through the API is not derived",
                             "/derived")};
    const std::string key = config::Group::state_key(name, router);
    if (auto s = doc.find("source"); s != doc.end()) {
        if (*s != "api")
            return {400, refusal("a group put through the API has source \"api\"", "/source")};
        doc.erase("source"); // what GET adds, so that its answer can be put back
    }
    doc["name"] = name;
    if (!router.empty()) doc["router"] = router;
    std::vector<std::string> keys;
    config::JsonPaths paths;
    const config::GroupDoc group{"api:" + key, doc, paths, known_hops(cache, key, doc, keys)};
    const control::UpdateResult r = rt.reloader->put_group(key, group);
    if (r.outcome != control::UpdateOutcome::served)
        return refused(status_of(r.outcome), errors_json(r.errors, group.origin, paths));
    cache.keep(key, keys, *r.group);
    // Not the group itself: writing 4096 next-hops back took longer than serving them.
    json summary = {{"name", name}, {"source", "api"}, {"next_hops", r.group->next_hops.size()}};
    if (!router.empty()) summary["router"] = router;
    return {200, {{"generation", r.generation}, {"group", std::move(summary)}}};
}

Response delete_group(const control::Runtime& rt, HopCache& cache, const std::string& name) {
    const control::UpdateResult r = rt.reloader->delete_group(name);
    if (r.outcome == control::UpdateOutcome::served) cache.forget(name);
    if (r.outcome != control::UpdateOutcome::served) {
        json errors = json::array();
        for (const config::ConfigError& e : r.errors)
            errors.push_back(refusal(e.message));
        return refused(status_of(r.outcome), std::move(errors));
    }
    return {200, {{"generation", r.generation}, {"deleted", name}}};
}

Response reload(const control::Runtime& rt) {
    const control::ReloadResult r = rt.reloader->reload();
    const int status = r.outcome == control::ReloadOutcome::success   ? 200
                       : r.outcome == control::ReloadOutcome::failure ? 400
                                                                      : 409;
    json body = {{"result", name(r.outcome)},
                 {"generation", r.generation},
                 {"summary", r.summary()},
                 {"messages", r.messages}};
    if (status != 200) body["error"] = r.summary(), body["path"] = "";
    return {status, std::move(body)};
}

// GET /v1/decide?src=&dst=&proto=&sport=&dport=[&flow_label=]: one flow.
Response decide_one(const control::Runtime& rt, const std::string& query) {
    json flow = json::object();
    for (const char* key : {"src", "dst", "proto", "sport", "dport", "flow_label", "router"}) {
        char value[128];
        const int n = mg_get_var(query.data(), query.size(), key, value, sizeof value);
        if (n < 0) continue; // absent (or too long: then flow_from names it missing)
        const std::string v(value, std::size_t(n));
        const bool digits = !v.empty() && v.find_first_not_of("0123456789") == std::string::npos;
        if (std::string_view(key) == "src" || std::string_view(key) == "dst" ||
            std::string_view(key) == "router" || !digits)
            flow[key] = v;
        else
            flow[key] = std::stoull(v.substr(0, 10));
    }
    std::string error, path;
    const auto k = flow_from(flow, error, path);
    if (!k) return {400, refusal(error, path)};
    return rt.reloader->with_live([&](const control::Generation& g) {
        const auto router = router_number(g.tables, flow, error);
        if (!router) return Response{400, refusal(error, "/router")};
        json d = decide_json(g.tables, *k, rte_rdtsc(), *router);
        d["generation"] = g.number;
        return Response{200, std::move(d)};
    });
}

// POST /v1/decide {"flows": [flow, ...]}: up to max_decide_flows, in one generation.
Response decide_many(const control::Runtime& rt, const std::string& body) {
    const json doc = json::parse(body, nullptr, false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("flows") ||
        !doc["flows"].is_array())
        return {400, refusal("the body must be JSON: {\"flows\": [{\"src\", \"dst\", "
                             "\"proto\", \"sport\", \"dport\"}, ...]}")};
    const json& flows = doc["flows"];
    if (flows.size() > max_decide_flows)
        return {413, refusal(fmt::format("{} flows; at most {} per request", flows.size(),
                                         max_decide_flows),
                             "/flows")};
    std::vector<packet::FlowKey> keys;
    keys.reserve(flows.size());
    for (std::size_t i = 0; i < flows.size(); ++i) {
        std::string error, path;
        const auto k = flow_from(flows[i], error, path);
        if (!k) return {400, refusal(error, fmt::format("/flows/{}{}", i, path))};
        keys.push_back(*k);
    }
    return rt.reloader->with_live([&](const control::Generation& g) {
        json out = json::array();
        const std::uint64_t now = rte_rdtsc(); // one instant for the whole list
        for (std::size_t i = 0; i < keys.size(); ++i) {
            std::string error;
            const auto router = router_number(g.tables, flows[i], error);
            if (!router) return Response{400, refusal(error, fmt::format("/flows/{}/router", i))};
            out.push_back(decide_json(g.tables, keys[i], now, *router));
        }
        return Response{200, {{"generation", g.number}, {"decisions", std::move(out)}}};
    });
}

// The exit report's counters, summed over the lcores now (lib/datapath/counters.h).
Response counters(const control::Runtime& rt) {
    const datapath::LcoreCounters t = control::sum(*rt.counters);
    json j = json::object();
    for (const datapath::ScalarCounter& k : datapath::scalar_counters)
        j[std::string(k.key)] = t.*k.field;
    json drops = json::object();
    for (std::size_t i = 0; i < datapath::drop_count; ++i)
        if (datapath::is_drop(datapath::Drop(i)))
            drops[std::string(datapath::drop_reasons[i].name)] = t.drops[i];
    j["drops"] = std::move(drops);
    json hops = json::object();
    for (const control::NextHopSlots::Total& n : rt.reloader->slots().totals(t))
        hops[n.name.group + "/" + n.name.next_hop] = {{"unicast", n.sent.unicast},
                                                      {"copies", n.sent.copies},
                                                      {"transition", n.sent.transition}};
    j["next_hops"] = std::move(hops);
    return {200, std::move(j)};
}

} // namespace

control::Endpoint endpoint_of(std::string_view path) {
    if (path == groups_path) return control::Endpoint::groups;
    if (group_path(path)) return control::Endpoint::group;
    if (path == "/v1/decide") return control::Endpoint::decide;
    if (path == "/v1/reload") return control::Endpoint::reload;
    if (path == capture_path) return control::Endpoint::capture;
    if (path == "/v1/counters") return control::Endpoint::counters;
    return control::Endpoint::other;
}

json refusal(const std::string& message, const std::string& path) {
    return {{"error", message}, {"path", path}};
}

Response handle(const control::Runtime& rt, HopCache& hops, std::string_view method,
                std::string_view path, const std::string& query, const std::string& body) {
    if (path == groups_path) {
        if (method == "GET") return list_groups(rt);
        return not_allowed(method, path);
    }
    if (const auto at = group_path(path)) {
        const auto& [router, name] = *at;
        if (name.empty() || name.find('/') != std::string::npos || router.find('/') != npos)
            return {404, refusal(fmt::format("no such resource: {}", path))};
        const std::string key = config::Group::state_key(name, router);
        if (method == "GET") return get_group(rt, key);
        if (method == "PUT") return put_group(rt, hops, name, router, body);
        if (method == "DELETE") return delete_group(rt, hops, key);
        return not_allowed(method, path);
    }
    if (path == "/v1/decide") {
        if (method == "GET") return decide_one(rt, query);
        if (method == "POST") return decide_many(rt, body);
        return not_allowed(method, path);
    }
    if (path == "/v1/reload") return method == "POST" ? reload(rt) : not_allowed(method, path);
    if (path == "/v1/counters") return method == "GET" ? counters(rt) : not_allowed(method, path);
    if (path == capture_path) {
        if (method == "GET") return capture_status(rt);
        if (method == "POST") return start_capture(rt, body);
        if (method == "DELETE") return stop_capture(rt);
        return not_allowed(method, path);
    }
    return {404, refusal(fmt::format("no such resource: {}", path))};
}

} // namespace ptbsteer::api
