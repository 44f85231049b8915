// The control API's pure parts: the JSON body as the loader's YAML with the way back to JSON
// pointers, groups added beside a file's (ownership, collisions), the bearer token check and
// the token file's refusals, and a group's JSON read back by the loader unchanged.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <string>

#include <sys/stat.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "api/auth.h"
#include "api/group_json.h"
#include "api/json_yaml.h"
#include "config/config.h"
#include "config/restart_diff.h"

using namespace ptbsteer;
using nlohmann::json;

namespace {

const char* base_yaml = R"(eal: [--no-huge]
ports: [{name: out, device: net_null0}]
lcores: [{id: 0, rx: out, tx: true}]
groups:
  - name: web
    prefixes: [198.51.100.0/25]
    hash: {model: linux, seed: 7}
    next_hops: [{name: w1, port: out, mac: "02:00:00:00:01:01"}]
)";

config::Config base() {
    const config::LoadResult r = config::load_config_text(base_yaml, "site.yaml");
    REQUIRE(r.config);
    return *r.config;
}

json api_group(const std::string& name, const std::string& prefix) {
    return {{"name", name},
            {"prefixes", {prefix}},
            {"hash", {{"model", "linux"}, {"seed", 11}}},
            {"next_hops",
             {{{"name", "a1"}, {"port", "out"}, {"mac", "02:00:00:00:02:01"}},
              {{"name", "a2"}, {"port", "out"}, {"mac", "02:00:00:00:02:02"}, {"weight", 3}}}}};
}

config::LoadResult add(const json& group) {
    const api::FlowYaml y(group);
    const std::string name = group.value("name", std::string("x"));
    config::GroupRead read = config::read_group(base(), {"api:" + name, y.text(), {}});
    if (!read.group) return {std::nullopt, std::move(read.errors)};
    std::vector<config::Group> extra;
    extra.push_back(std::move(*read.group));
    return config::with_groups(base(), std::move(extra));
}

// Each error of `r` as "pointer: message", pointers found through the group's FlowYaml.
std::vector<std::string> pointed(const config::LoadResult& r, const json& group) {
    const api::FlowYaml y(group);
    std::vector<std::string> out;
    for (const auto& e : r.errors)
        out.push_back(y.path_at(e.where.column) + ": " + e.message);
    return out;
}

} // namespace

TEST_CASE("a JSON body becomes one line of flow YAML; columns lead back to JSON pointers",
          "[api]") {
    const json doc = {{"a", 1}, {"b/c", {"x", {{"d~", true}}}}};
    const api::FlowYaml y(doc);
    CHECK(y.text() == R"({"a": 1, "b/c": ["x", {"d~": true}]})");
    CHECK(y.path_at(1) == "");
    CHECK(y.path_at(2) == "/a");     // the key "a"
    CHECK(y.path_at(7) == "/a");     // its value 1
    CHECK(y.path_at(10) == "/b~1c"); // the key "b/c" (RFC 6901: '/' as ~1)
    CHECK(y.path_at(18) == "/b~1c/0");
    CHECK(y.path_at(23) == "/b~1c/1");
    CHECK(y.path_at(24) == "/b~1c/1/d~0");
    const api::FlowYaml text(json("caf\xc3\xa9 \"q\""));
    CHECK(text.text() == R"("caf\u00e9 \"q\"")"); // ASCII only: bytes are columns
}

TEST_CASE("an API group is read as a file group is, beside the file's, and owned by the API",
          "[api]") {
    const config::LoadResult r = add(api_group("api", "198.51.100.128/25"));
    INFO(pointed(r, api_group("api", "198.51.100.128/25")).size());
    REQUIRE(r.config);
    REQUIRE(r.config->groups.size() == 2);
    CHECK(r.config->groups[0].source == config::Source::file);
    const config::Group& g = r.config->groups[1];
    CHECK(g.source == config::Source::api);
    CHECK(g.name == "api");
    CHECK(g.next_hops.size() == 2);
    CHECK(g.next_hops[1].weight == 3);
    CHECK(g.hash.linux_params.seed == 11);
}

TEST_CASE("an API group's mistakes are reported at their JSON fields", "[api]") {
    struct Bad {
        const char* what;
        json group;
        const char* says; // "pointer: message start"
        bool collision;
    };
    json bad_mac = api_group("api", "198.51.100.128/25");
    bad_mac["next_hops"][1]["mac"] = "02:00";
    json bad_key = api_group("api", "198.51.100.128/25");
    bad_key["next_hops"][0]["wieght"] = 1;
    json bad_port = api_group("api", "198.51.100.128/25");
    bad_port["next_hops"][0]["port"] = "in";
    json bad_seed = api_group("api", "198.51.100.128/25");
    bad_seed["hash"]["seed"] = 0;
    const std::vector<Bad> table = {
        {"bad MAC", bad_mac, "/next_hops/1/mac: '02:00' is not a MAC address", false},
        {"unknown key", bad_key, "/next_hops/0/wieght: unknown key 'wieght' in a next-hop", false},
        {"unknown port", bad_port, "/next_hops/0/port: a next-hop names port 'in'", false},
        {"seed 0", bad_seed, "/hash/seed: seed", false},
        {"overlap", api_group("api", "198.51.100.0/24"),
         "/prefixes/0: prefix 198.51.100.0/24 of group 'api' overlaps", true},
        {"a file group's name", api_group("web", "203.0.113.0/24"),
         ": group 'web' is defined twice", true},
    };
    for (const Bad& b : table) {
        DYNAMIC_SECTION(b.what) {
            const config::LoadResult r = add(b.group);
            CHECK_FALSE(r.config);
            const auto errors = pointed(r, b.group);
            bool found = false;
            for (std::size_t i = 0; i < errors.size(); ++i)
                if (errors[i].starts_with(b.says)) found = r.errors[i].collision == b.collision;
            INFO(fmt::format("{}", fmt::join(errors, "\n")));
            CHECK(found);
        }
    }
}

TEST_CASE("a group's JSON, given back, is read to the same group", "[api]") {
    const config::Config cfg = base();
    json j = api::group_json(cfg, cfg.groups[0]);
    CHECK(j["source"] == "file");
    j.erase("source");
    j["name"] = "copy";
    j["prefixes"] = {"203.0.113.0/24"};
    const config::LoadResult r = add(j);
    REQUIRE(r.config);
    json again = api::group_json(*r.config, r.config->groups[1]);
    CHECK(again["source"] == "api");
    again.erase("source");
    CHECK(again == j);
}

TEST_CASE("next-hops read before are taken as they are; the group is still checked whole",
          "[api]") {
    const config::Config cfg = base();
    json full = api_group("g", "203.0.113.0/24");
    full["next_hops"].push_back({{"name", "a3"}, {"port", "out"}, {"mac", "02:00:00:00:02:03"}});
    const config::GroupRead first =
        config::read_group(cfg, {"api:g", api::FlowYaml(full).text(), {}});
    REQUIRE(first.group);

    // Next-hops 0 and 2 known: the text holds {} in their places, and the group read is the same.
    json sparse = full;
    sparse["next_hops"][0] = json::object();
    sparse["next_hops"][2] = json::object();
    std::vector<std::optional<config::NextHop>> known = {first.group->next_hops[0], std::nullopt,
                                                         first.group->next_hops[2]};
    const config::GroupRead again =
        config::read_group(cfg, {"api:g", api::FlowYaml(sparse).text(), known});
    REQUIRE(again.group);
    CHECK(config::same_group(*again.group, *first.group));

    // A known next-hop that clashes with a new one is still refused, at the known one's place.
    json clash = sparse;
    clash["next_hops"][1] = {{"name", "a3"}, {"port", "out"}, {"mac", "02:00:00:00:09:09"}};
    const api::FlowYaml y(clash);
    known[1] = std::nullopt;
    const config::GroupRead read = config::read_group(cfg, {"api:g", y.text(), known});
    REQUIRE(read.group);
    const config::LoadResult r = config::with_groups(cfg, {*read.group});
    REQUIRE_FALSE(r.config);
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].message == "next-hop 'a3' appears twice in group 'g'");
    CHECK(y.path_at(r.errors[0].where.column) == "/next_hops/2");
}

TEST_CASE("the bearer token: the exact token only; the token file owner-only and not empty",
          "[api]") {
    CHECK(api::authorized("Bearer s3cret", "s3cret"));
    CHECK_FALSE(api::authorized("Bearer s3cre", "s3cret"));
    CHECK_FALSE(api::authorized("Bearer s3cretX", "s3cret"));
    CHECK_FALSE(api::authorized("Bearer S3cret", "s3cret"));
    CHECK_FALSE(api::authorized("Basic s3cret", "s3cret"));
    CHECK_FALSE(api::authorized("Bearer ", ""));
    CHECK_FALSE(api::authorized("", "s3cret"));

    char dir[] = "/tmp/ptbsteer-token-XXXXXX";
    REQUIRE(::mkdtemp(dir));
    const std::string path = std::string(dir) + "/token";
    auto write = [&](const char* text, mode_t mode) {
        std::ofstream(path) << text;
        ::chmod(path.c_str(), mode);
    };
    CHECK_THROWS_WITH(api::read_token(path), Catch::Contains("No such file"));
    write("  tok3n\n", 0600);
    CHECK(api::read_token(path) == "tok3n");
    write("tok3n\n", 0640);
    CHECK_THROWS_WITH(api::read_token(path), Catch::Contains("chmod 600"));
    write(" \n", 0600);
    CHECK_THROWS_WITH(api::read_token(path), Catch::Contains("is empty"));
    std::remove(path.c_str());
    ::rmdir(dir);
}
