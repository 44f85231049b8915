// Hot reload: which edits a running appliance takes over and which need a restart. Each fixture
// edits one line of a base configuration; the expected sentences are written here by hand.
#include <catch2/catch.hpp>

#include <string>

#include "config/config.h"
#include "config/restart_diff.h"

using namespace ptbsteer::config;

namespace {

const std::string base = R"(eal: [--no-huge, --no-pci]
ports:
  - {name: in, device: net_null0}
  - {name: out, device: net_null1}
lcores:
  - {id: 0, rx: [in, out]}
  - {id: 1, tx: true}
addresses:
  - {port: in, ipv4: 203.0.113.2/24}
limits: {global: {rate: 1000, burst: 100}}
groups:
  - name: web
    prefixes: [198.51.100.0/24]
    hash: {model: linux, seed: 1}
    next_hops: [{name: a, port: out, mac: "02:00:00:00:00:01"}]
metrics: {listen: "127.0.0.1:9469"}
)";

Config load(const std::string& text) {
    const LoadResult r = load_config_text(text, "t.yaml");
    INFO((r.errors.empty() ? std::string() : to_string(r.errors.front())));
    REQUIRE(r.config);
    return *r.config;
}

std::string edit(const std::string& from, const std::string& to) {
    std::string s = base;
    const auto at = s.find(from);
    REQUIRE(at != std::string::npos);
    return s.replace(at, from.size(), to);
}

std::vector<std::string> changes(const std::string& from, const std::string& to) {
    return restart_only_changes(load(base), load(edit(from, to)));
}

// Two edits at once (a port and the lcore that polls it).
std::vector<std::string> changes(const std::string& from1, const std::string& to1,
                                 const std::string& from2, const std::string& to2) {
    std::string s = edit(from1, to1);
    const auto at = s.find(from2);
    REQUIRE(at != std::string::npos);
    return restart_only_changes(load(base), load(s.replace(at, from2.size(), to2)));
}

} // namespace

TEST_CASE("reload: groups, addresses and limits change without a restart") {
    CHECK(restart_only_changes(load(base), load(base)).empty());
    CHECK(changes("seed: 1", "seed: 2").empty());
    CHECK(changes(R"([{name: a, port: out, mac: "02:00:00:00:00:01"}])",
                  R"([{name: b, port: in, mac: "02:00:00:00:00:02"},
                {name: c, port: out, mac: "02:00:00:00:00:03"}])")
              .empty());
    CHECK(changes("198.51.100.0/24", "198.51.100.0/25").empty());
    CHECK(changes("ipv4: 203.0.113.2/24", "ipv4: 203.0.113.3/24").empty());
    CHECK(changes("limits: {global: {rate: 1000, burst: 100}}", "limits: {global: off}").empty());
}

TEST_CASE("reload: each restart-only edit is named in one sentence") {
    using V = std::vector<std::string>;
    CHECK(changes("device: net_null1", "device: net_null2") ==
          V{"port 'out': device changed from 'net_null1' to 'net_null2'"});
    CHECK(changes("{name: in, device: net_null0}", "{name: in, device: net_null0, rx_queues: 2}",
                  "rx: [in, out]", "rx: [in:0, in:1, out]") ==
          V{"port 'in': rx_queues changed from 1 to 2",
            "lcore 0: rx changed from '[in:0, out:0]' to '[in:0, in:1, out:0]'"});
    CHECK(changes("{id: 1, tx: true}", "{id: 2, tx: true}") ==
          V{"lcores: entry 2 is lcore 2 instead of 1"});
    CHECK(changes("  - {id: 1, tx: true}\n", "", "rx: [in, out]}", "rx: [in, out], tx: true}") ==
          V{"lcores: 1 lcore(s) instead of 2"});
    CHECK(changes("127.0.0.1:9469", "127.0.0.1:9470") ==
          V{"metrics.listen changed from '127.0.0.1:9469' to '127.0.0.1:9470'"});
    CHECK(changes("metrics: {listen: \"127.0.0.1:9469\"}",
                  "metrics: {listen: \"127.0.0.1:9469\", reload: off}") ==
          V{"metrics.reload changed from 'loopback' to 'off'"});
    CHECK(changes("eal: [--no-huge, --no-pci]", "eal: [--no-pci]") ==
          V{"eal changed from '--no-huge --no-pci' to '--no-pci'"});
    CHECK(changes("metrics: {listen: \"127.0.0.1:9469\"}",
                  "metrics: {listen: \"127.0.0.1:9469\"}\ncapture: {file: /tmp/x.pcapng}") ==
          V{"capture.file changed from '' to '/tmp/x.pcapng'"});
}

TEST_CASE("reload: a renamed or added port is reported, lcores are not compared against it") {
    const auto v =
        changes("  - {name: out, device: net_null1}\n",
                "  - {name: out, device: net_null1}\n  - {name: more, device: net_null2}\n",
                "rx: [in, out]", "rx: [in, out, more]");
    REQUIRE(v.size() == 1);
    CHECK(v[0] == "ports: 3 port(s) instead of 2");
}

TEST_CASE("same_group: what steers counts, where it was written does not") {
    const Config original = load(base);
    const Group& web = original.groups.front();
    // The same group, moved down the file by a comment line: other positions, same steering.
    const Config moved = load(edit("groups:\n", "groups:\n  # moved\n"));
    CHECK(moved.groups.front().where.line != web.where.line);
    CHECK(same_group(web, moved.groups.front()));
    for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
             {"seed: 1", "seed: 2"},
             {"198.51.100.0/24", "198.51.100.0/25"},
             {"\"02:00:00:00:00:01\"}", "\"02:00:00:00:00:02\"}"},
             {"\"02:00:00:00:00:01\"}", "\"02:00:00:00:00:01\", weight: 2}"},
             {"name: a,", "name: b,"},
             {"next_hops: [", "select: maglev\n    next_hops: ["},
             {"port: out, mac: \"02:00:00:00:00:01\"", "port: in, via: 203.0.113.9"},
             {"seed: 1}", "seed: 1}\n    transition: 5"},
         }) {
        INFO(from << " -> " << to);
        CHECK_FALSE(same_group(web, load(edit(from, to)).groups.front()));
    }
}

TEST_CASE("same_owners: who owns each flow counts, how a next-hop is reached does not") {
    const Group web = load(base).groups.front();
    for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
             {"\"02:00:00:00:00:01\"}", "\"02:00:00:00:00:02\"}"},
             {"port: out, mac: \"02:00:00:00:00:01\"", "port: in, via: 203.0.113.9"},
             {"seed: 1}", "seed: 1}\n    transition: 5"},
             {"198.51.100.0/24", "198.51.100.0/25"},
         }) {
        INFO(from << " -> " << to);
        CHECK(same_owners(web, load(edit(from, to)).groups.front()));
    }
    for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
             {"seed: 1", "seed: 2"},
             {"\"02:00:00:00:00:01\"}", "\"02:00:00:00:00:01\", weight: 2}"},
             {"name: a,", "name: b,"},
             {"next_hops: [", "select: maglev\n    next_hops: ["},
             {"next_hops: [", "mode: replicate\n    next_hops: ["},
             {"}]\nmetrics", "}, {name: b, port: out, mac: \"02:00:00:00:00:02\"}]\nmetrics"},
         }) {
        INFO(from << " -> " << to);
        CHECK_FALSE(same_owners(web, load(edit(from, to)).groups.front()));
    }
}
