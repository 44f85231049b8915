// Regressions found by the libFuzzer harnesses (tests/fuzz), each as the minimal input that
// crashed, plus a replay of every committed corpus input through the parser and the config
// loader in the ordinary builds (gcc release and gcc ASan+UBSan), not only in clang's fuzz build.
//
// A separate executable from unit-tests: an input that still crashes fails this test alone.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "config/config.h"
#include "packet/parser.h"

using namespace ptbsteer;
namespace fs = std::filesystem;

namespace {

std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<fs::path> corpus(const char* target) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(fs::path(PTBSTEER_FUZZ_CORPUS_DIR) / target))
        if (e.is_regular_file()) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    return files;
}

bool any_error_contains(const config::LoadResult& r, const std::string& text) {
    for (const config::ConfigError& e : r.errors)
        if (e.message.find(text) != std::string::npos) return true;
    return false;
}

} // namespace

// Fuzz finding 1 (fuzz-config, first seconds of its first run): an address entry or a next-hop
// whose `port` names no port kept index 0, and validate() then read cfg.ports[0] of an empty
// port list (check_addresses, check_tunnel_sources): `ptbsteer --check` died of SIGSEGV.
// Inputs: tests/fuzz/corpus/config/regression-{address,ipip}-unknown-port.yaml.
TEST_CASE("fuzz: address entries and ipip next-hops naming undefined ports, with no ports at all, "
          "are refused",
          "[fuzz][config]") {
    const struct {
        const char* input; // in tests/fuzz/corpus/config/
        const char* says;
    } cases[] = {
        {"regression-address-unknown-port.yaml",
         "names port 'a', which is not defined under ports"},
        {"regression-ipip-unknown-port.yaml", "names port 'x', which is not defined under ports"},
    };
    for (const auto& c : cases) {
        INFO(c.input);
        const config::LoadResult r = config::load_config_text(
            read(fs::path(PTBSTEER_FUZZ_CORPUS_DIR) / "config" / c.input), "t.yaml");
        CHECK_FALSE(r.config);
        CHECK(any_error_contains(r, c.says));
    }
}

TEST_CASE("fuzz: an unresolved port reference never stands for port 0", "[fuzz][config]") {
    // Same root cause with ports defined: both entries fell back to index 0, and the loader
    // blamed port p for "two address entries" that were really two typos.
    const config::LoadResult r = config::load_config_text(R"(ports: [{name: p, device: net_null0}]
lcores: [{id: 0, rx: p, tx: true}]
addresses:
  - {port: typo1, ipv4: 192.0.2.1/24}
  - {port: typo2, ipv4: 192.0.2.2/24}
groups: [{name: g, prefixes: 198.51.100.0/24, hash: {model: crc32c},
          next_hops: [{name: n, port: p, mac: "02:00:00:00:00:01"}]}]
)",
                                                          "t.yaml");
    CHECK_FALSE(r.config);
    CHECK(any_error_contains(r, "names port 'typo1'"));
    CHECK_FALSE(any_error_contains(r, "two address entries"));
}

TEST_CASE("fuzz: every parser corpus input parses to a named outcome inside its frame",
          "[fuzz][parser]") {
    const std::vector<fs::path> files = corpus("parser");
    REQUIRE(files.size() > 50);
    for (const fs::path& f : files) {
        const std::string bytes = read(f);
        // An exactly sized heap copy: under ASan a read past the frame is reported.
        std::unique_ptr<std::uint8_t[]> frame(new std::uint8_t[bytes.size()]);
        std::copy(bytes.begin(), bytes.end(), frame.get());
        packet::PtbInfo info;
        const packet::ParseStatus s =
            packet::parse_frame(std::span<const std::uint8_t>(frame.get(), bytes.size()), info);
        INFO(f.filename().string());
        CHECK(packet::name(s) != "?");
        if (s == packet::ParseStatus::ptb)
            CHECK(std::size_t(info.quote_offset) + info.quote_len <= bytes.size());
    }
}

TEST_CASE("fuzz: every config corpus input loads or is refused, without throwing",
          "[fuzz][config]") {
    const std::vector<fs::path> files = corpus("config");
    REQUIRE(files.size() > 10);
    for (const fs::path& f : files) {
        INFO(f.filename().string());
        config::LoadResult r;
        CHECK_NOTHROW(r = config::load_config_text(read(f), f.filename().string()));
        CHECK(r.config.has_value() == r.errors.empty());
    }
}
