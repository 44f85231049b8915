// The control API's pure parts: a JSON body read by the loader's checks with its errors at JSON
// pointers, next-hops read before taken as they are, groups added beside a file's (ownership,
// collisions), the bearer token check and the token file's refusals, and a group's JSON read
// back by the loader unchanged.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <string>

#include <sys/stat.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "api/auth.h"
#include "api/group_json.h"
#include "config/config.h"
#include "config/node.h"
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

// An API group read beside the file's, and the JSON pointers its errors' columns lead to.
struct Added {
    config::LoadResult result;
    config::JsonPaths paths;
};

Added add(const json& group) {
    Added a;
    const std::string name = group.value("name", std::string("x"));
    config::GroupRead read = config::read_group(base(), {"api:" + name, group, a.paths, {}});
    if (!read.group) {
        a.result.errors = std::move(read.errors);
        return a;
    }
    a.result = config::with_groups(base(), {std::move(*read.group)});
    return a;
}

// Each error as "pointer: message".
std::vector<std::string> pointed(const Added& a) {
    std::vector<std::string> out;
    for (const auto& e : a.result.errors)
        out.push_back(a.paths.pointer(e.where.column - 1) + ": " + e.message);
    return out;
}

} // namespace

TEST_CASE("a JSON node's place is its JSON pointer (RFC 6901)", "[api]") {
    const json doc = {{"a", 1}, {"b/c", {"x", {{"d~", true}}}}};
    config::JsonPaths paths;
    const config::Node root(doc, paths, config::JsonPaths::root);
    CHECK(root.position() == std::pair{1, 1});
    CHECK(paths.pointer(root.position().second - 1) == "");
    const auto top = root.entries();
    REQUIRE(top.size() == 2);
    CHECK(top[0].key == "a");
    CHECK(top[0].value.Scalar() == "1");
    CHECK(paths.pointer(top[0].key_node.position().second - 1) == "/a");
    CHECK(paths.pointer(top[1].value.position().second - 1) == "/b~1c"); // '/' as ~1
    const auto items = top[1].value.elements();
    REQUIRE(items.size() == 2);
    CHECK(items[0].Scalar() == "x");
    CHECK(paths.pointer(items[0].position().second - 1) == "/b~1c/0");
    const auto inner = items[1].entries();
    REQUIRE(inner.size() == 1);
    CHECK(inner[0].value.Scalar() == "true");
    CHECK(paths.pointer(inner[0].value.position().second - 1) == "/b~1c/1/d~0"); // '~' as ~0
    CHECK_FALSE(root.IsScalar());
    CHECK(config::Node().position() == std::pair{0, 0});
}

TEST_CASE("an API group is read as a file group is, beside the file's, and owned by the API",
          "[api]") {
    const json group = api_group("api", "198.51.100.128/25");
    const Added a = add(group);
    const config::LoadResult& r = a.result;
    INFO(fmt::format("{}", fmt::join(pointed(a), "\n")));
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
            const Added a = add(b.group);
            const config::LoadResult& r = a.result;
            CHECK_FALSE(r.config);
            const auto errors = pointed(a);
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
    const Added a = add(j);
    const config::LoadResult& r = a.result;
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
    config::JsonPaths paths;
    const config::GroupRead first = config::read_group(cfg, {"api:g", full, paths, {}});
    REQUIRE(first.group);

    // Next-hops 0 and 2 known: their elements are not read (here: not even next-hops), and the
    // group read is the same.
    json sparse = full;
    sparse["next_hops"][0] = "not read";
    sparse["next_hops"][2] = json::object();
    std::vector<std::optional<config::NextHop>> known = {first.group->next_hops[0], std::nullopt,
                                                         first.group->next_hops[2]};
    config::JsonPaths paths2;
    const config::GroupRead again = config::read_group(cfg, {"api:g", sparse, paths2, known});
    REQUIRE(again.group);
    CHECK(config::same_group(*again.group, *first.group));

    // A known next-hop that clashes with a new one is still refused, at the known one's place.
    json clash = full;
    clash["next_hops"][1] = {{"name", "a3"}, {"port", "out"}, {"mac", "02:00:00:00:09:09"}};
    known[1] = std::nullopt;
    config::JsonPaths paths3;
    const config::GroupRead read = config::read_group(cfg, {"api:g", clash, paths3, known});
    REQUIRE(read.group);
    const config::LoadResult r = config::with_groups(cfg, {*read.group});
    REQUIRE_FALSE(r.config);
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].message == "next-hop 'a3' appears twice in group 'g'");
    CHECK(paths3.pointer(r.errors[0].where.column - 1) == "/next_hops/2");
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
