// Driver presets (drivers-config/*.yaml): every shipped file loads; a port gets its preset's
// values, its own keys win; mistakes inside a preset are reported at the preset's own
// path:line:column; a preset that cannot be found is one clear error.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "config/config.h"
#include "config/presets.h"

using namespace ptbsteer::config;
namespace fs = std::filesystem;

namespace {

const std::string shipped_dir = PTBSTEER_TEST_PRESETS_DIR;

// A minimal valid configuration with one port; `port_extra` is added to the port's mapping and
// `top_extra` to the top level.
std::string config_with(const std::string& port_extra, const std::string& top_extra = "") {
    return top_extra + R"(ports:
  - name: p0
    device: net_af_packet0,iface=eth9
    rx_queues: 2
)" + port_extra +
           R"(lcores:
  - {id: 1, rx: ["p0:0", "p0:1"], tx: true}
groups:
  - name: g
    prefixes: [198.51.100.0/24]
    hash: {model: linux, seed: 1}
    next_hops:
      - {name: s1, port: p0, mac: "02:00:00:00:00:01"}
)";
}

std::string all_errors(const LoadResult& r) {
    std::string s;
    for (const auto& e : r.errors)
        s += to_string(e) + "\n";
    return s;
}

// A scratch directory of preset files, removed at the end of the test.
struct TempDir {
    fs::path path;
    TempDir() {
        path = fs::temp_directory_path() / ("ptbsteer-presets-" + std::to_string(::getpid()) + "-" +
                                            std::to_string(std::rand()));
        fs::create_directories(path);
    }
    ~TempDir() { fs::remove_all(path); }
    void write(const std::string& name, const std::string& text) const {
        std::ofstream(path / name) << text;
    }
};

} // namespace

TEST_CASE("every shipped preset loads without error, and the list matches the folder",
          "[config][presets]") {
    std::set<std::string> files;
    for (const auto& entry : fs::directory_iterator(shipped_dir)) {
        if (entry.path().extension() != ".yaml") continue;
        files.insert(entry.path().stem().string());
        std::vector<ConfigError> errors;
        const auto s = load_preset_file(entry.path().string(), errors);
        std::string text;
        for (const auto& e : errors)
            text += to_string(e) + "\n";
        INFO(entry.path().string() << "\n" << text);
        CHECK(s.has_value());
        CHECK(errors.empty());
    }
    std::set<std::string> listed(shipped_presets.begin(), shipped_presets.end());
    CHECK(files == listed);
    // Each also loads through a port that names it.
    for (std::string_view name : shipped_presets) {
        const LoadResult r =
            load_config_text(config_with("    preset: \"" + std::string(name) + "\"\n",
                                         "presets_dir: " + shipped_dir + "\n"),
                             "site.yaml");
        INFO(name << "\n" << all_errors(r));
        CHECK(r.errors.empty());
    }
}

TEST_CASE("shipped presets hash PTBs on IP addresses and send chains", "[config][presets]") {
    auto port = [](std::string_view name) {
        const LoadResult r =
            load_config_text(config_with("    preset: \"" + std::string(name) + "\"\n",
                                         "presets_dir: " + shipped_dir + "\n"),
                             "site.yaml");
        INFO(name << "\n" << all_errors(r));
        REQUIRE(r.config);
        return r.config->ports[0];
    };
    // ICMP has no ports: no NIC preset may rely on a TCP/UDP hash type.
    const RssTypes l4 = rss_bit(RssType::nonfrag_ipv4_tcp) | rss_bit(RssType::nonfrag_ipv4_udp) |
                        rss_bit(RssType::nonfrag_ipv6_tcp) | rss_bit(RssType::nonfrag_ipv6_udp) |
                        rss_bit(RssType::nonfrag_ipv4_sctp) | rss_bit(RssType::nonfrag_ipv6_sctp) |
                        rss_bit(RssType::ipv6_tcp_ex) | rss_bit(RssType::ipv6_udp_ex);
    for (std::string_view nic : {"ixgbe", "i40e", "ice", "mlx5", "virtio"}) {
        const Port p = port(nic);
        INFO(nic);
        CHECK((p.rss & l4) == 0);
        CHECK((p.rss & (rss_bit(RssType::ipv4) | rss_bit(RssType::nonfrag_ipv4_other))) != 0);
        CHECK((p.rss & (rss_bit(RssType::ipv6) | rss_bit(RssType::nonfrag_ipv6_other))) != 0);
        CHECK(p.tx_offloads == tx_offload_bit(TxOffload::multi_segs));
        CHECK_FALSE(p.promiscuous);
    }
    // i40e hashes per packet type: ICMP is "other", and plain ipv4 is not offered.
    CHECK(port("i40e").rss == (rss_bit(RssType::frag_ipv4) | rss_bit(RssType::nonfrag_ipv4_other) |
                               rss_bit(RssType::frag_ipv6) | rss_bit(RssType::nonfrag_ipv6_other)));
    // net_pcap and net_null offer no TX offloads: asking would make rte_eth_dev_configure fail.
    CHECK(port("pcap").tx_offloads == 0);
    CHECK(port("null").tx_offloads == 0);
    CHECK(port("null").device == "net_af_packet0,iface=eth9,no-rx=1");
}

TEST_CASE("a port with a preset gets its values; the port's own keys win", "[config][presets]") {
    TempDir dir;
    dir.write("lab.yaml", R"(rx_descriptors: 512
tx_descriptors: 256
rss: [nonfrag-ipv4-other, frag-ipv4]
tx_offloads: [multi_segs]
promiscuous: false
devargs: {qpairs: "{rx_queues}", framecnt: 2048, iface: eth0}
)");
    const std::string top = "presets_dir: " + dir.path.string() + "\n";

    SECTION("defaults without a preset: today's behaviour") {
        const LoadResult r = load_config_text(config_with(""), "site.yaml");
        INFO(all_errors(r));
        REQUIRE(r.config);
        const Port& p = r.config->ports[0];
        CHECK(p.rx_desc == 1024);
        CHECK(p.tx_desc == 1024);
        CHECK(p.rss == rss_ip);
        // Multi-segment TX is asked for by default (masked by the device's offer at start-up),
        // quietly: only an explicit request that the device lacks is reported.
        CHECK(p.tx_offloads == default_tx_offloads);
        CHECK_FALSE(p.tx_offloads_explicit);
        CHECK(p.promiscuous);
        CHECK(p.device == "net_af_packet0,iface=eth9");
        CHECK(p.preset.empty());
    }
    SECTION("the preset's values") {
        const LoadResult r = load_config_text(config_with("    preset: lab\n", top), "site.yaml");
        INFO(all_errors(r));
        REQUIRE(r.config);
        const Port& p = r.config->ports[0];
        CHECK(p.preset == "lab");
        CHECK(p.preset_file == (dir.path / "lab.yaml").string());
        CHECK(p.rx_desc == 512);
        CHECK(p.tx_desc == 256);
        CHECK(p.rss == (rss_bit(RssType::nonfrag_ipv4_other) | rss_bit(RssType::frag_ipv4)));
        CHECK(p.tx_offloads == tx_offload_bit(TxOffload::multi_segs));
        CHECK_FALSE(p.promiscuous);
        // {rx_queues} is the port's count; iface= is already in the device string and stays.
        CHECK(p.device == "net_af_packet0,iface=eth9,qpairs=2,framecnt=2048");
    }
    SECTION("the port's own values override the preset") {
        const LoadResult r = load_config_text(
            config_with(
                "    preset: lab\n    rx_descriptors: 2048\n    rss: [ip]\n    promiscuous: true\n",
                top),
            "site.yaml");
        INFO(all_errors(r));
        REQUIRE(r.config);
        const Port& p = r.config->ports[0];
        CHECK(p.rx_desc == 2048);
        CHECK(p.tx_desc == 256); // not overridden
        CHECK(p.rss == rss_ip);
        CHECK(p.promiscuous);
    }
    SECTION("an empty rss list turns hashing off") {
        const LoadResult r = load_config_text(config_with("    rss: []\n"), "site.yaml");
        REQUIRE(r.config);
        CHECK(r.config->ports[0].rss == 0);
    }
    SECTION("a relative presets_dir is taken from the configuration file's directory") {
        const auto dirs = preset_search_path("drivers", "/etc/ptbsteer/site.yaml");
        REQUIRE(dirs.size() == 1);
        CHECK(dirs[0] == "/etc/ptbsteer/drivers");
    }
    SECTION("PTBSTEER_PRESETS_DIR comes first in the default search path") {
        ::setenv(presets_dir_env, dir.path.c_str(), 1);
        const LoadResult r = load_config_text(config_with("    preset: lab\n"), "site.yaml");
        const auto dirs = preset_search_path("", "site.yaml");
        ::unsetenv(presets_dir_env);
        INFO(all_errors(r));
        REQUIRE(r.config);
        CHECK(r.config->ports[0].rx_desc == 512);
        CHECK(dirs.front() == dir.path.string());
    }
}

TEST_CASE("mistakes in a preset are reported at the preset's own path:line:col",
          "[config][presets]") {
    TempDir dir;
    const std::string top = "presets_dir: " + dir.path.string() + "\n";
    const std::string file = (dir.path / "bad.yaml").string();
    struct Bad {
        const char* what;
        const char* text;
        const char* where; // "line:col" in the preset
        const char* says;
    };
    const std::vector<Bad> table = {
        {"unknown key", "rx_descriptors: 512\nrx_desc: 4\n", "2:1",
         "unknown key 'rx_desc' in a preset"},
        {"unknown rss type", "rss: [ipv4, icmp]\n", "1:13", "must be one of ipv4"},
        {"descriptors out of range", "\ntx_descriptors: 1\n", "2:17", "between 32 and 32768"},
        {"unknown tx offload", "tx_offloads: [tso]\n", "1:15", "must be one of multi_segs"},
        {"devargs value with a comma", "devargs: {qpairs: \"1,2\"}\n", "1:19", "without ','"},
        {"YAML syntax", "rss: [ipv4\n", "2:1", "YAML syntax error"},
    };
    for (const Bad& b : table) {
        DYNAMIC_SECTION(b.what) {
            { std::ofstream(file) << b.text; }
            const LoadResult r =
                load_config_text(config_with("    preset: bad\n", top), "site.yaml");
            INFO(all_errors(r));
            CHECK_FALSE(r.config);
            bool found = false;
            for (const auto& e : r.errors)
                found |= to_string(e).starts_with(file + ":" + b.where + ": ") &&
                         e.message.find(b.says) != std::string::npos;
            CHECK(found);
        }
    }
}

TEST_CASE("a missing preset is one clear error at the port's preset key", "[config][presets]") {
    TempDir empty;
    const std::string top = "presets_dir: " + empty.path.string() + "\n";
    SECTION("a shipped name whose file is not there") {
        const LoadResult r = load_config_text(config_with("    preset: ixgbe\n", top), "site.yaml");
        REQUIRE(r.errors.size() == 1);
        const std::string e = to_string(r.errors[0]);
        CHECK(e.starts_with("site.yaml:6:13: "));
        CHECK(e.find("preset file 'ixgbe.yaml' not found in " + empty.path.string()) !=
              std::string::npos);
        CHECK(e.find("PTBSTEER_PRESETS_DIR") != std::string::npos);
    }
    SECTION("a name nobody ships") {
        const LoadResult r = load_config_text(config_with("    preset: e1000\n", top), "site.yaml");
        REQUIRE(r.errors.size() == 1);
        CHECK(to_string(r.errors[0]).find("preset must be one of ixgbe") != std::string::npos);
    }
    SECTION("an unquoted null is YAML's null, and the message says so") {
        const LoadResult r = load_config_text(config_with("    preset: null\n", top), "site.yaml");
        REQUIRE(r.errors.size() == 1);
        CHECK(to_string(r.errors[0]).find("preset: \"null\"") != std::string::npos);
    }
    SECTION("a name that would leave the directory") {
        const LoadResult r =
            load_config_text(config_with("    preset: ../etc/x\n", top), "site.yaml");
        REQUIRE(r.errors.size() == 1);
        CHECK(to_string(r.errors[0]).starts_with("site.yaml:6:13: preset must be one of"));
    }
}
