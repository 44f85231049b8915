// The validated configuration: plain data, checked once by load_config(). The fast path never
// sees this; lib/dataplane compiles it into tables.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hash/hash_model.h"
#include "packet/flow_key.h"
#include "steer/select.h"
#include "steer/verdict.h"

namespace ptbsteer::config {

// Where a value came from, for messages that name file:line:column (1-based).
struct Location {
    std::string file;
    int line = 0;
    int column = 0;
};

struct ConfigError {
    Location where;
    std::string message; // one sentence
};
std::string to_string(const ConfigError& e); // "file:line:col: message"

using MacAddr = std::array<std::uint8_t, 6>;

struct Prefix {
    packet::Family family = packet::Family::v4;
    packet::IpAddr addr; // host bits are zero
    std::uint8_t length = 0;
    friend bool operator==(const Prefix&, const Prefix&) = default;
};
bool contains(const Prefix& outer, const Prefix& inner);
std::string to_string(const Prefix& p);

struct Port {
    std::string name;
    std::string device;      // a PCI address ("0000:03:00.0") or a vdev string ("net_pcap0,...")
    bool is_vdev = false;
    std::uint16_t rx_queues = 1;
    std::uint16_t tx_queues = 1;
    std::string preset;      // a file of drivers-config/, without ".yaml"; empty: driver defaults
    Location where;
};

struct RxQueueRef {
    std::size_t port = 0;    // index into Config::ports
    std::uint16_t queue = 0;
};

struct Lcore {
    unsigned id = 0;
    std::vector<RxQueueRef> rx; // queues this lcore polls
    bool tx = false;            // transmits (one lcore may do both roles)
    Location where;
};

struct Address {
    std::size_t port = 0;
    std::optional<Prefix> ipv4; // the appliance's own address and its subnet
    std::optional<Prefix> ipv6;
};

// How a PTB reaches a next-hop: rewritten Ethernet header on the server's segment, or
// encapsulated (IPv4-in-IPv4 / IPv6-in-IPv6) to the server's address on another segment.
enum class Deliver : std::uint8_t { l2, ipip };
using steer::Fallback;
using steer::Mode;

struct NextHop {
    std::string name;
    std::size_t port = 0;
    MacAddr mac{};
    std::optional<std::uint16_t> vlan;
    std::uint32_t weight = 1;
    Deliver deliver = Deliver::l2;
    std::optional<packet::IpAddr> tunnel_dst; // deliver: ipip — the server's address
    std::optional<packet::Family> tunnel_family;
    Location where;
};

struct HashConfig {
    hash::ModelKind kind = hash::ModelKind::linux_kernel;
    hash::LinuxParams linux_params;
    hash::ToeplitzParams toeplitz;
    hash::Crc32cParams crc32c;
};

struct Group {
    std::string name;
    std::vector<Prefix> prefixes;
    std::vector<Location> prefix_where; // parallel to prefixes, for messages
    HashConfig hash;
    steer::SelectKind select = steer::SelectKind::hash_threshold;
    Mode mode = Mode::unicast;
    Fallback fallback = Fallback::replicate;
    std::vector<NextHop> next_hops;
    Location where;
};

struct Metrics {
    std::string listen = "127.0.0.1:9469";
};

struct Config {
    std::string file;
    std::vector<std::string> eal;
    std::vector<Port> ports;
    std::vector<Lcore> lcores;
    std::vector<Address> addresses;
    std::vector<Group> groups;
    Metrics metrics;
};

struct LoadResult {
    std::optional<Config> config; // set only when errors is empty
    std::vector<ConfigError> errors;
};

// Reads and validates a configuration. Never throws; every problem found is in `errors`.
LoadResult load_config_file(const std::string& path);
LoadResult load_config_text(const std::string& text, const std::string& name);

} // namespace ptbsteer::config
