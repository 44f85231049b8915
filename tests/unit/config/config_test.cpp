// lib/config: a valid file loads into the expected values; each kind of mistake is reported at
// its exact line:column with a sentence that names it.
#include <catch2/catch.hpp>

#include <string>

#include "config/config.h"
#include "config/values.h"

using namespace ptbsteer;
using namespace ptbsteer::config;

namespace {

// A small but complete configuration; the error fixtures below each change one line of it.
const std::string valid = R"(eal: [--no-huge, -m, "512", --no-pci]
ports:
  - name: in0
    device: net_pcap0,rx_pcap=in.pcap
    rx_queues: 2
  - name: out0
    device: "0000:03:00.0"
    preset: ixgbe
lcores:
  - id: 1
    rx: [in0:0, in0:1, out0]
    tx: true
addresses:
  - port: in0
    ipv4: 203.0.113.2/24
    ipv6: 2001:db8:ff::2/64
  - port: out0
    ipv4: 192.0.2.1/24
groups:
  - name: web
    prefixes: [198.51.100.0/24, 2001:db8:100::/48]
    hash: {model: linux, policy: 3, seed: 12345, )"
                          R"(fields: [src_ip, dst_ip, ip_proto, src_port, dst_port]}
    select: hash-threshold
    next_hops:
      - {name: srv1, port: out0, mac: "02:00:00:00:01:01", weight: 2}
      - {name: srv2, port: out0, mac: "02:00:00:00:01:02", vlan: 100}
      - {name: srv3, port: out0, mac: "02:00:00:00:01:03", deliver: ipip, address: 192.0.2.50}
  - name: api
    prefixes: 203.0.113.128/25
    hash: {model: toeplitz, key: symmetric, fields: 0x33}
    select: maglev
    mode: replicate
    fallback: drop
    next_hops:
      - {name: a1, port: out0, mac: "02:00:00:00:02:01"}
)";

// Replaces the first occurrence of `from` in the valid config.
std::string with(const std::string& from, const std::string& to) {
    std::string s = valid;
    const auto at = s.find(from);
    REQUIRE(at != std::string::npos);
    s.replace(at, from.size(), to);
    return s;
}

std::string all_errors(const LoadResult& r) {
    std::string s;
    for (const auto& e : r.errors)
        s += to_string(e) + "\n";
    return s;
}

} // namespace

TEST_CASE("the sample configuration loads with every value", "[config]") {
    const LoadResult r = load_config_text(valid, "t.yaml");
    INFO(all_errors(r));
    REQUIRE(r.errors.empty());
    const Config& c = *r.config;
    CHECK(c.eal.size() == 4);
    REQUIRE(c.ports.size() == 2);
    CHECK(c.ports[0].is_vdev);
    CHECK(c.ports[0].rx_queues == 2);
    CHECK_FALSE(c.ports[1].is_vdev);
    CHECK(c.ports[1].preset == "ixgbe");
    REQUIRE(c.lcores.size() == 1);
    CHECK(c.lcores[0].rx.size() == 3);
    CHECK(c.lcores[0].rx[1].queue == 1);
    CHECK(c.lcores[0].tx);
    REQUIRE(c.addresses.size() == 2);
    CHECK(to_string(*c.addresses[0].ipv4) == "203.0.113.2/24"); // the address itself is kept
    REQUIRE(c.groups.size() == 2);
    const Group& web = c.groups[0];
    CHECK(web.prefixes.size() == 2);
    CHECK(web.hash.kind == hash::ModelKind::linux_kernel);
    CHECK(web.hash.linux_params.policy == 3);
    CHECK(web.hash.linux_params.seed == 12345);
    CHECK(web.hash.linux_params.fields == 0x37);
    REQUIRE(web.next_hops.size() == 3);
    CHECK(web.next_hops[0].weight == 2);
    CHECK(web.next_hops[1].vlan == std::optional<std::uint16_t>(100));
    CHECK(web.next_hops[2].deliver == Deliver::ipip);
    CHECK(web.next_hops[1].mac == MacAddr{2, 0, 0, 0, 1, 2});
    const Group& api = c.groups[1];
    CHECK(api.hash.kind == hash::ModelKind::toeplitz);
    CHECK(api.hash.toeplitz.key == hash::symmetric_rss_key());
    CHECK(api.hash.toeplitz.fields == 0x33);
    CHECK(api.select == steer::SelectKind::maglev);
    CHECK(api.mode == Mode::replicate);
    CHECK(api.fallback == Fallback::drop);
    CHECK(c.metrics.listen == "127.0.0.1:9469");
}

TEST_CASE("each mistake is reported at its line and column, in a sentence", "[config]") {
    struct Bad {
        const char* what;
        std::string text;
        const char* where; // "line:col"
        const char* says;
    };
    const std::vector<Bad> table = {
        {"unknown top-level key", valid + "colour: blue\n", "36:1", "unknown key 'colour'"},
        {"unknown key in a next-hop", with("weight: 2}", "wieght: 2}"), "25:60",
         "unknown key 'wieght' in a next-hop"},
        {"wrong type", with("rx_queues: 2", "rx_queues: [2]"), "5:16",
         "rx_queues must be a single value"},
        {"not a number", with("rx_queues: 2", "rx_queues: two"), "5:16", "must be a whole number"},
        {"out of range", with("rx_queues: 2", "rx_queues: 999"), "5:16", "between 1 and 128"},
        {"duplicate next-hop", with("name: srv2", "name: srv1"), "26:9",
         "next-hop 'srv1' appears twice"},
        {"bad MAC", with("02:00:00:00:01:02", "02:00:00:00:01"), "26:39", "is not a MAC address"},
        {"bad prefix", with("198.51.100.0/24", "198.51.100.0/33"), "21:16",
         "is not an IPv4 or IPv6 prefix"},
        {"host bits", with("198.51.100.0/24", "198.51.100.1/24"), "21:16",
         "did you mean 198.51.100.0/24"},
        {"overlap across groups", with("203.0.113.128/25", "198.51.100.128/25"), "29:15",
         "overlaps 198.51.100.0/24 of group 'web'"},
        {"unknown port", with("{name: a1, port: out0", "{name: a1, port: out9"), "35:26",
         "names port 'out9', which is not defined"},
        {"weight 0", with("weight: 2}", "weight: 0}"), "25:68", "weight 0 would never be chosen"},
        {"seed 0", with("seed: 12345", "seed: 0"), "22:43", "between 1 and 4294967295"},
        {"fields on policy 1", with("policy: 3", "policy: 1"), "22:58",
         "'fields' applies to policy 3 only"},
        {"unpolled queue", with("in0:0, in0:1, out0", "in0:0, out0"), "3:5",
         "rx queue in0:1 is not polled"},
        {"queue that does not exist", with("in0:1", "in0:5"), "11:17", "queue 5 does not exist"},
        {"ipip without address", with(", deliver: ipip, address: 192.0.2.50}", ", deliver: ipip}"),
         "27:9", "needs the server's address"},
        {"bad select", with("select: maglev", "select: random"), "31:13",
         "must be one of hash-threshold, modulo, maglev"},
        {"missing hash", with("    hash: {model: toeplitz, key: symmetric, fields: 0x33}\n", ""),
         "28:5", "a group needs the key 'hash'"},
        {"unknown preset", with("preset: ixgbe", "preset: e1000"), "8:13", "preset must be one of"},
        {"bad device", with("\"0000:03:00.0\"", "eth0"), "7:13", "neither a PCI address"},
        {"no tx lcore", with("tx: true", "tx: false"), "10:5", "no lcore has tx: true"},
        {"ipip with no address to send from", with("  - port: out0\n    ipv4: 192.0.2.1/24\n", ""),
         "25:9", "has no IPv4 address under addresses to send from"},
        {"YAML syntax", with("ports:", "ports: ["), "3:3", "YAML syntax error"},
        {"resilient without buckets", with("select: hash-threshold", "select: resilient"), "20:5",
         "select: resilient needs buckets"},
        {"buckets without resilient",
         with("select: hash-threshold", "select: hash-threshold\n    buckets: [srv1]"), "24:14",
         "buckets applies to select: resilient only"},
        {"a bucket's unknown next-hop",
         with("select: hash-threshold", "select: resilient\n    buckets: [srv1, srv9]"), "24:21",
         "bucket next-hop 'srv9' is not one of the group's next_hops"},
        {"bad neighbour", with("weight: 2}", "weight: 2, neighbour: failed}"), "25:82",
         "neighbour must be one of valid, invalid"},
        {"neighbour invalid with modulo",
         with("weight: 2}\n", "weight: 2, neighbour: invalid}\n")
             .replace(valid.find("select: hash-threshold"), 22, "select: modulo        "),
         "25:9", "neighbour: invalid applies to select: hash-threshold only"},
        {"transition over an hour", with("select: hash-threshold", "transition: 3601"), "23:17",
         "transition (seconds) must be between 0 and 3600"},
        {"transition_copies 0", with("select: hash-threshold", "transition_copies: 0"), "23:24",
         "transition_copies must be between 1 and 3"},
    };
    for (const Bad& b : table) {
        DYNAMIC_SECTION(b.what) {
            const LoadResult r = load_config_text(b.text, "site.yaml");
            INFO(all_errors(r));
            CHECK_FALSE(r.config);
            bool found = false;
            for (const auto& e : r.errors)
                found |= to_string(e).starts_with(std::string("site.yaml:") + b.where + ": ") &&
                         e.message.find(b.says) != std::string::npos;
            CHECK(found);
        }
    }
}

TEST_CASE("select: resilient reads its bucket table by next-hop name", "[config]") {
    const LoadResult r = load_config_text(
        with("select: hash-threshold", "select: resilient\n    buckets: [srv3, srv1, srv1, srv2]"),
        "site.yaml");
    INFO(all_errors(r));
    REQUIRE(r.config);
    CHECK(r.config->groups[0].select == steer::SelectKind::resilient);
    CHECK(r.config->groups[0].buckets == std::vector<std::uint16_t>{2, 0, 0, 1});
}

TEST_CASE("neighbour: invalid marks a next-hop the router passes over", "[config]") {
    const LoadResult r =
        load_config_text(with("weight: 2}", "weight: 2, neighbour: invalid}"), "site.yaml");
    INFO(all_errors(r));
    REQUIRE(r.config);
    CHECK_FALSE(r.config->groups[0].next_hops[0].neighbour_valid);
    CHECK(r.config->groups[0].next_hops[1].neighbour_valid);
}

TEST_CASE("transition keys: their defaults and values", "[config][transition]") {
    const LoadResult r = load_config_text(valid, "site.yaml");
    REQUIRE(r.config);
    CHECK(r.config->groups[0].transition == 60);
    CHECK(r.config->groups[0].transition_copies == 2);
    const LoadResult t = load_config_text(
        with("select: hash-threshold", "transition: 0\n    transition_copies: 3"), "site.yaml");
    REQUIRE(t.config);
    CHECK(t.config->groups[0].transition == 0);
    CHECK(t.config->groups[0].transition_copies == 3);
}

TEST_CASE("every error of a file is reported in one run", "[config]") {
    std::string text = with("rx_queues: 2", "rx_queues: 0");
    text.replace(text.find("02:00:00:00:01:03"), 17, "zz:00:00:00:01:03");
    text.replace(text.find("select: maglev"), 14, "select: nope");
    const LoadResult r = load_config_text(text, "x.yaml");
    CHECK(r.errors.size() >= 3);
}

TEST_CASE("a missing file is one clear error", "[config]") {
    const LoadResult r = load_config_file("/nonexistent/ptbsteer.yaml");
    REQUIRE(r.errors.size() == 1);
    CHECK(to_string(r.errors[0]).find("cannot open") != std::string::npos);
}

TEST_CASE("each enum's name table names and parses its values", "[config][names]") {
    STATIC_REQUIRE(name(steer::SelectKind::hash_threshold) == "hash-threshold");
    STATIC_REQUIRE(steer::select_kind_names.parse("maglev") == steer::SelectKind::maglev);
    STATIC_REQUIRE(!steer::select_kind_names.parse("hash_threshold"));
    STATIC_REQUIRE(hash::model_kind_names.parse("linux") == hash::ModelKind::linux_kernel);
    STATIC_REQUIRE(name(Mode::replicate) == "replicate");
    STATIC_REQUIRE(name(Fallback::drop) == "drop");
    STATIC_REQUIRE(steer::deliver_names.parse("ipip") == Deliver::ipip);
    STATIC_REQUIRE(name(ReloadAccess::off) == "off");
    STATIC_REQUIRE(capture_what_names.parse("all") == CaptureWhat::all);
    STATIC_REQUIRE(name(static_cast<Mode>(7)) == "?");
    STATIC_REQUIRE(steer::fallback_names.names().size() == 2);
    STATIC_REQUIRE(steer::fallback_names.names()[1] == "drop");
}

TEST_CASE("prefix containment", "[config]") {
    auto p = [](const char* s) { return *parse_prefix(s); };
    CHECK(contains(p("198.51.100.0/24"), p("198.51.100.128/25")));
    CHECK_FALSE(contains(p("198.51.100.128/25"), p("198.51.100.0/24")));
    CHECK(contains(p("0.0.0.0/0"), p("192.0.2.1")));
    CHECK_FALSE(contains(p("2001:db8::/32"), p("192.0.2.1")));
    CHECK(contains(p("2001:db8::/32"), p("2001:db8:ffff::/48")));
    CHECK_FALSE(contains(p("2001:db8:1::/48"), p("2001:db8:2::/48")));
}

TEST_CASE("validate: and limits: keys", "[config]") {
    const std::string good = valid + R"(limits:
  per_source: {rate: 5000, burst: 1000}
  global: off
  source_slots: 1024
)";
    const LoadResult r = load_config_text(good, "l.yaml");
    INFO(all_errors(r));
    REQUIRE(r.config);
    CHECK(r.config->limits.per_source.rate == 5000);
    CHECK(r.config->limits.per_source.burst == 1000);
    CHECK(r.config->limits.global.rate == 0);          // off
    CHECK(r.config->limits.replication.rate == 20000); // default
    CHECK(r.config->limits.source_slots == 1024);
    CHECK(r.config->groups[0].validation.v4_floor == 552);

    auto errors_of = [](const std::string& text) {
        return all_errors(load_config_text(text, "l.yaml"));
    };
    CHECK(errors_of(valid + "limits: {global: {burst: 5}}\n")
              .find("limits.global needs the key 'rate'") != std::string::npos);
    CHECK(errors_of(valid + "limits: {global: {rate: 0}}\n").find("write `off` for no limit") !=
          std::string::npos);
    const std::string v =
        with("    select: hash-threshold\n",
             "    select: hash-threshold\n    validate: {mtu_floor_v4: 1400, mtu_ceiling: 1300}\n");
    CHECK(errors_of(v).find("mtu_ceiling 1300 is below mtu_floor_v4 1400") != std::string::npos);
    const std::string ok =
        with("    select: hash-threshold\n",
             "    select: hash-threshold\n    validate: {mtu_floor_v4: 1200, checksum: false}\n");
    const LoadResult r2 = load_config_text(ok, "l.yaml");
    REQUIRE(r2.config);
    CHECK(r2.config->groups[0].validation.v4_floor == 1200);
    CHECK_FALSE(r2.config->groups[0].validation.verify_checksum);
}

TEST_CASE("an lcore outside the EAL's -l list would never poll: refused", "[config]") {
    auto errors_of = [](const std::string& text) {
        return all_errors(load_config_text(text, "e.yaml"));
    };
    const std::string with_l =
        with("eal: [--no-huge, -m, \"512\", --no-pci]", "eal: [--no-huge, -l, \"0,2-3\"]");
    CHECK(errors_of(with_l).find("lcore 1 is not in the EAL's -l list") != std::string::npos);
    const std::string ok =
        with("eal: [--no-huge, -m, \"512\", --no-pci]", "eal: [--no-huge, -l, \"0-1\"]");
    CHECK(errors_of(ok).empty());
}

TEST_CASE("control: on when given, with a token file; its mistakes are refused", "[config]") {
    const LoadResult on =
        load_config_text(valid + "control: {token_file: /etc/ptbsteer/token}\n", "site.yaml");
    REQUIRE(on.config);
    CHECK(on.config->control.enabled);
    CHECK(on.config->control.listen == "127.0.0.1:9470");
    CHECK(on.config->control.token_file == "/etc/ptbsteer/token");
    CHECK(on.config->control.capture_dir == "/var/tmp/ptbsteer");
    CHECK(load_config_text(valid + "control: {token_file: t, capture_dir: /srv/cap}\n", "s.yaml")
              .config->control.capture_dir == "/srv/cap");
    CHECK_FALSE(load_config_text(valid, "site.yaml").config->control.enabled);
    for (const auto& [text, says] : std::vector<std::pair<std::string, std::string>>{
             {"control: {listen: \"127.0.0.1:9470\"}", "needs the key 'token_file'"},
             {"control: {token_file: \"\"}", "token_file must name a file"},
             {"control: {token_file: t, listen: \"\"}", "control listen must be ADDRESS:PORT"},
             {"control: {token_file: t, port: 1}", "unknown key 'port' in control"},
             {"control: {token_file: [a, b]}", "token_file must be a single value"},
             {"control: {token_file: t, capture_dir: cap}", "capture_dir must be an absolute"},
         }) {
        const LoadResult r = load_config_text(valid + text + "\n", "site.yaml");
        INFO(text << "\n" << all_errors(r));
        CHECK_FALSE(r.config);
        CHECK(all_errors(r).find(says) != std::string::npos);
    }
}

TEST_CASE("via: next-hops by address load, and each mistake is named", "[config][via]") {
    const std::string srv1 = R"({name: srv1, port: out0, mac: "02:00:00:00:01:01", weight: 2})";
    auto via = [&](const std::string& hop) { return with(srv1, hop); };
    const LoadResult ok = load_config_text(via("{name: srv1, port: out0, via: 192.0.2.11}") +
                                               "neighbors: {reachable_time: 60, unres_qlen: 8}\n",
                                           "site.yaml");
    INFO(all_errors(ok));
    REQUIRE(ok.config);
    const NextHop& h = ok.config->groups[0].next_hops[0];
    REQUIRE(h.via);
    CHECK(h.via_family == packet::Family::v4);
    packet::Family f = packet::Family::v6;
    CHECK(*h.via == *parse_ip("192.0.2.11", f));
    CHECK(f == packet::Family::v4);
    CHECK(h.mac == MacAddr{});
    CHECK(ok.config->neighbors == Neighbors{60, 8});
    // A link-local via needs no IPv6 address on its port (out0 has none).
    CHECK(load_config_text(via("{name: srv1, port: out0, via: \"fe80::1\"}"), "s").config);
    CHECK(load_config_text(via("{name: srv1, port: in0, via: \"2001:db8:ff::9\"}"), "s").config);

    const std::vector<std::pair<std::string, const char*>> bad = {
        {via(R"({name: srv1, port: out0, mac: "02:00:00:00:01:01", via: 192.0.2.11})"),
         "gives both mac and via"},
        {via("{name: srv1, port: out0}"), "needs mac (static) or via"},
        {via("{name: srv1, port: out0, via: server1}"), "'server1' is not an IPv4 or IPv6"},
        {via("{name: srv1, port: out0, via: 198.51.100.7}"),
         "via 198.51.100.7 is not on port out0's segment (192.0.2.1/24)"},
        {via("{name: srv1, port: out0, via: \"2001:db8:ff::9\"}"),
         "addresses gives that port none"},
        {via("{name: srv1, port: out0, via: \"ff02::1\"}"), "is a multicast address"},
        {via("{name: srv1, port: out0, via: 192.0.2.1}"), "is our own address on port out0"},
        {valid + "neighbors: {reachable_time: 1}\n", "between 5 and 3600"},
        {valid + "neighbors: {unres_qlen: 65}\n", "between 0 and 64"},
    };
    for (const auto& [text, says] : bad) {
        const LoadResult r = load_config_text(text, "site.yaml");
        INFO(says << "\n" << all_errors(r));
        CHECK_FALSE(r.config);
        bool found = false;
        for (const auto& e : r.errors)
            found |= e.message.find(says) != std::string::npos;
        CHECK(found);
    }
    // Two next-hops of one group at the same via and VLAN: the same server twice.
    const std::string twice =
        with(R"(mac: "02:00:00:00:01:02", vlan: 100)", "via: 192.0.2.11, vlan: 100");
    const std::string both = with(srv1, "{name: srv1, port: out0, via: 192.0.2.11, vlan: 100}");
    std::string dup = twice;
    dup.replace(dup.find(srv1), srv1.size(),
                "{name: srv1, port: out0, via: 192.0.2.11, vlan: 100}");
    CHECK(load_config_text(twice, "s").config);
    CHECK(load_config_text(both, "s").config);
    const LoadResult r = load_config_text(dup, "site.yaml");
    INFO(all_errors(r));
    REQUIRE_FALSE(r.config);
    CHECK(r.errors.front().message.find("same port, via 192.0.2.11 and VLAN") != std::string::npos);
}

TEST_CASE("simd: auto by default, a path by name, an unknown word refused where it is",
          "[config][simd]") {
    const LoadResult plain = load_config_text(valid, "site.yaml");
    REQUIRE(plain.config);
    CHECK(plain.config->simd == hash::SimdPath::automatic);
    for (const char* word : {"auto", "scalar", "avx2", "avx512"}) {
        const LoadResult r = load_config_text(valid + "simd: " + word + "\n", "site.yaml");
        const hash::SimdPath want = *hash::parse_simd_path(word);
        INFO(word << "\n" << all_errors(r));
        // A forced path this CPU lacks is refused, naming the best it runs; never replaced.
        if (!hash::simd_path_supported(want)) {
            REQUIRE_FALSE(r.config);
            CHECK(all_errors(r).find("this CPU cannot run the") != std::string::npos);
            continue;
        }
        REQUIRE(r.config);
        CHECK(r.config->simd == want);
    }
    const LoadResult bad = load_config_text(valid + "simd: sse4\n", "site.yaml");
    REQUIRE_FALSE(bad.config);
    REQUIRE(bad.errors.size() == 1);
    CHECK(to_string(bad.errors[0]).rfind("site.yaml:36:7:", 0) == 0);
    CHECK(bad.errors[0].message.find("scalar") != std::string::npos); // the choices listed
}
