// The validated configuration: plain data, checked once by load_config(). The fast path never
// sees this; lib/control compiles it into the
// tables lib/datapath reads.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "guard/validate.h"
#include "hash/hash_model.h"
#include "hash/siphash_batch.h"
#include "packet/flow_key.h"
#include "steer/select.h"
#include "steer/verdict.h"
#include "util/name_table.h"

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
    // The value is fine on its own but clashes with another group (a name or an overlapping
    // prefix): the control API answers 409 rather than 400.
    bool collision = false;
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

// RSS hash types a port may ask for, named after DPDK's RTE_ETH_RSS_* flags (lower case, '_' as
// '-'). lib/control/ports.cpp maps each to its flag; lib/config stays free of DPDK headers.
enum class RssType : std::uint8_t {
    ipv4,
    frag_ipv4,
    nonfrag_ipv4_tcp,
    nonfrag_ipv4_udp,
    nonfrag_ipv4_sctp,
    nonfrag_ipv4_other,
    ipv6,
    frag_ipv6,
    nonfrag_ipv6_tcp,
    nonfrag_ipv6_udp,
    nonfrag_ipv6_sctp,
    nonfrag_ipv6_other,
    l2_payload,
    ipv6_ex,
    ipv6_tcp_ex,
    ipv6_udp_ex,
};
inline constexpr std::size_t rss_type_count = 16;
// The YAML spelling of each RssType, in enum order ("frag-ipv4", ...).
extern const std::array<std::string_view, rss_type_count> rss_type_names;
// A set of RssType: bit i is RssType(i).
using RssTypes = std::uint32_t;
constexpr RssTypes rss_bit(RssType t) {
    return RssTypes(1) << unsigned(t);
}
// What DPDK's RTE_ETH_RSS_IP stands for: every IP packet hashed on its addresses only. ICMP has
// no ports, so this is what spreads PTBs over RX queues. The default for ports without a preset.
constexpr RssTypes rss_ip = rss_bit(RssType::ipv4) | rss_bit(RssType::frag_ipv4) |
                            rss_bit(RssType::nonfrag_ipv4_other) | rss_bit(RssType::ipv6) |
                            rss_bit(RssType::frag_ipv6) | rss_bit(RssType::nonfrag_ipv6_other) |
                            rss_bit(RssType::ipv6_ex);

// TX offloads a preset may request (RTE_ETH_TX_OFFLOAD_*). Only what PTB forwarding needs.
enum class TxOffload : std::uint8_t {
    multi_segs, // replicated PTBs leave as [header mbuf][indirect clone] chains
};
inline constexpr std::array<std::string_view, 1> tx_offload_names = {"multi_segs"};
using TxOffloads = std::uint32_t;
constexpr TxOffloads tx_offload_bit(TxOffload o) {
    return TxOffloads(1) << unsigned(o);
}
inline constexpr TxOffloads default_tx_offloads = tx_offload_bit(TxOffload::multi_segs);

inline constexpr std::uint16_t default_descriptors = 1024;

struct Port {
    std::string name;
    std::string device; // a PCI address ("0000:03:00.0") or a vdev string ("net_pcap0,..."),
                        // with the preset's devargs appended (",key=value")
    bool is_vdev = false;
    std::uint16_t rx_queues = 1;
    std::uint16_t tx_queues = 1;
    std::string preset;      // a file of drivers-config/, without ".yaml"; empty: driver defaults
    std::string preset_file; // the file the preset was read from (for messages)
    // Resolved settings: built-in defaults, then the preset's values, then the port's own keys.
    std::uint16_t rx_desc = default_descriptors; // before rte_eth_dev_adjust_nb_rx_tx_desc
    std::uint16_t tx_desc = default_descriptors;
    RssTypes rss = rss_ip; // applied when rx_queues > 1, masked by what the device supports
    // Multi-segment TX by default (where the device offers it): replicated PTBs leave as
    // header + clone chains. Reported as missing only when a preset or the port asked for it.
    TxOffloads tx_offloads = default_tx_offloads;
    bool tx_offloads_explicit = false;
    bool promiscuous = true;
    Location where;
};

struct RxQueueRef {
    std::size_t port = 0; // index into Config::ports
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

using steer::Deliver;
using steer::Fallback;
using steer::Mode;

struct NextHop {
    std::string name;
    std::size_t port = 0;
    MacAddr mac{}; // `mac:` (static); all zero when `via` is given
    // `via:` instead of `mac:`: the address on the port's segment that ptbsteer resolves by ARP
    // or Neighbor Discovery (lib/control/neighbors.h): the server for l2, the gateway for ipip.
    std::optional<packet::IpAddr> via;
    packet::Family via_family = packet::Family::v4;
    std::optional<std::uint16_t> vlan;
    std::uint32_t weight = 1;
    // `neighbour: invalid`: the ROUTER's neighbour entry for this next-hop is not valid, so the
    // router passes its flows on (steer::Selector::build_threshold); ptbsteer-sync sets it.
    bool neighbour_valid = true;
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

// Who owns a group: the configuration file, or the control API (lib/api). A file reload leaves
// API-owned groups as they are; the API never changes a file-owned group.
enum class Source : std::uint8_t { file, api };
inline constexpr auto source_names = util::name_table<Source>("file", "api");
static_assert(source_names.size() == std::size_t(Source::api) + 1);
constexpr std::string_view name(Source s) {
    return source_names.name(s);
}

// `routers:` — the border routers that hand PTBs over, and how a frame tells which one sent it:
// its source MAC, the port it arrived on, or its (outer) VLAN. A group may keep a state per
// router (`router:`), since each router orders its next-hops by its own history.
enum class RouterMatch : std::uint8_t { mac, port, vlan };
struct Router {
    std::string name;
    RouterMatch match = RouterMatch::mac;
    MacAddr mac{};
    std::size_t port = 0;
    std::uint16_t vlan = 0;
    Location where;
};
// Routers are numbered from 1 in the fast path (0: the frame matched none) in 8 bits.
inline constexpr std::size_t max_routers = 63;
// The metrics' router label of frames that matched no router (so no router may be named so).
inline constexpr std::string_view unmatched_router = "unmatched";

struct Group {
    std::string name;
    // The router whose state this is ("": every router without a state of its own). A group's
    // states share its name and prefixes; each is a group of its own everywhere else.
    std::string router;
    // For routers without a state of their own when the group has no router-less state:
    // "" replicates to every next-hop of its states; a router's name uses that router's state.
    std::string unknown_router;
    // Made by derive_shared_states() (never read from a file or the API): the state routers
    // without their own use, from `unknown_router`.
    bool derived = false;
    Source source = Source::file;
    std::vector<Prefix> prefixes;
    std::vector<Location> prefix_where; // parallel to prefixes, for messages
    HashConfig hash;
    steer::SelectKind select = steer::SelectKind::hash_threshold;
    // select: resilient: the kernel's bucket table, bucket after bucket: each a position in
    // next_hops (the `buckets:` key names them).
    std::vector<std::uint16_t> buckets;
    Mode mode = Mode::unicast;
    Fallback fallback = Fallback::replicate;
    std::vector<NextHop> next_hops;
    guard::ValidationPolicy validation; // the group's `validate:` key (docs/security.md)
    // After a change that moves ownership, the versions that served in the last `transition`
    // seconds still own their flows: a PTB goes to each distinct owner, newest first, at most
    // `transition_copies` frames (lib/control/transition.h). 0 seconds: no transition.
    std::uint32_t transition = 60;
    std::uint32_t transition_copies = 2;
    Location where;
    // What identifies this state among the configuration's groups: the name, or ROUTER/NAME
    // (a group's name never holds a '/': the API path could not name it).
    std::string key() const { return state_key(name, router); }
    static std::string state_key(const std::string& name, const std::string& router) {
        return router.empty() ? name : router + "/" + name;
    }
};
// Bounds of the transition keys: an hour is longer than any connection a PTB matters to before
// its client retries; three frames (the newest owner and two earlier ones) keep a transition
// within a small replication budget, and the earlier owners within the Decision that rides in
// the mbuf (datapath/decide.h).
inline constexpr std::uint32_t max_transition = 3600;
inline constexpr std::uint32_t max_transition_copies = 3;

// A rate with its burst; `rate == 0` means no limit (the key was set to `off`).
struct RateLimit {
    std::uint64_t rate = 0; // per second, across all RX lcores
    std::uint64_t burst = 0;
    friend bool operator==(const RateLimit&, const RateLimit&) = default;
};

// docs/security.md explains the defaults.
struct Limits {
    RateLimit per_source{2000, 500};    // PTBs per second from one outer source address
    std::uint32_t source_slots = 65536; // size of the per-source table (per RX lcore)
    RateLimit global{200000, 20000};    // PTBs per second in all
    RateLimit replication{20000, 1024}; // copies per second across all groups
    friend bool operator==(const Limits&, const Limits&) = default;
};

// Who may ask for a reload with `POST /reload` on the metrics listener (SIGHUP always works).
// loopback: clients connecting from 127.0.0.0/8 or ::1 only; any: every client; off: never.
enum class ReloadAccess : std::uint8_t { loopback, any, off };
// The configuration's `reload:` spelling of each ReloadAccess.
inline constexpr auto reload_access_names =
    util::name_table<ReloadAccess>("loopback", "any", "off");
static_assert(reload_access_names.size() == std::size_t(ReloadAccess::off) + 1);
constexpr std::string_view name(ReloadAccess a) {
    return reload_access_names.name(a);
}

// `simd:` spellings, hash::simd_path_name()'s words.
inline constexpr auto simd_path_names =
    util::name_table<hash::SimdPath>("scalar", "avx2", "avx512", "auto");
static_assert(simd_path_names.size() == std::size_t(hash::SimdPath::automatic) + 1);

// `neighbors:` — how next-hops given by `via` are resolved and kept fresh (docs/configuration.md).
struct Neighbors {
    std::uint32_t reachable_time = 30; // seconds an answer keeps an entry reachable (Linux: 30)
    std::uint32_t unres_qlen = 3;      // PTBs held per unresolved next-hop (Linux: unres_qlen)
    friend bool operator==(const Neighbors&, const Neighbors&) = default;
};

struct Metrics {
    std::string listen = "127.0.0.1:9469";
    ReloadAccess reload = ReloadAccess::loopback;
};

// Capture on demand (lib/control/capture.h): off when `file` is empty.
enum class CaptureWhat : std::uint8_t { drops, all };
// The configuration's `what:` spelling of each CaptureWhat.
inline constexpr auto capture_what_names = util::name_table<CaptureWhat>("drops", "all");
static_assert(capture_what_names.size() == std::size_t(CaptureWhat::all) + 1);
constexpr std::string_view name(CaptureWhat w) {
    return capture_what_names.name(w);
}
// max_bytes' bounds: one page at least (the pcapng header takes a few hundred bytes).
inline constexpr std::uint64_t capture_min_bytes = 4096;
inline constexpr std::uint64_t capture_max_bytes = std::uint64_t(1) << 40;
struct Capture {
    std::string file;                      // pcapng, truncated at start
    CaptureWhat what = CaptureWhat::drops; // drops: dropped frames; all: delivered ones too
    std::uint64_t max_bytes = 16u << 20;   // the file never grows beyond this
};

// The control API (lib/api): off unless the `control:` key is given. Every request needs the
// bearer token read from `token_file` (owner-only permissions).
struct ControlApi {
    bool enabled = false;
    std::string listen = "127.0.0.1:9470";
    std::string token_file;
    // Where POST /v1/capture writes: the API names a file, never a path (docs/api.md).
    std::string capture_dir = "/var/tmp/ptbsteer";
};

struct Config {
    std::string file;
    std::string presets_dir; // the top-level key, as written; empty: the default search path
    std::vector<std::string> eal;
    std::vector<Port> ports;
    std::vector<Lcore> lcores;
    std::vector<Address> addresses;
    std::vector<Router> routers;
    std::vector<Group> groups;
    Metrics metrics;
    ControlApi control;
    Capture capture;
    Limits limits;
    Neighbors neighbors;
    hash::SimdPath simd = hash::SimdPath::automatic;
};

struct LoadResult {
    std::optional<Config> config; // set only when errors is empty
    std::vector<ConfigError> errors;
};

// Reads and validates a configuration. Never throws; every problem found is in `errors`.
LoadResult load_config_file(const std::string& path);
LoadResult load_config_text(const std::string& text, const std::string& name);

class JsonPaths; // node.h

// A group given outside the file (source: api): one group as a parsed JSON object (lib/api),
// read by the file's checks (node.h).
struct GroupDoc {
    std::string origin;         // the file its errors name, e.g. "api:web"
    const nlohmann::json& json; // the group, a JSON object
    JsonPaths& paths;           // an error's column leads to its field (JsonPaths::pointer)
    // Next-hops read before (lib/api keeps those of a group's last PUT), by position in the
    // group's next_hops list: the loader takes them as they are instead of reading that element
    // (its place still locates messages). A change of a few next-hops in a 4096-next-hop group
    // then reads only those; the whole group is still checked (validate).
    std::vector<std::optional<NextHop>> known_hops;
};
struct GroupRead {
    std::optional<Group> group; // set only when errors is empty
    std::vector<ConfigError> errors;
};
// One API-owned group read exactly as a group of the file is, against `base`'s ports. Errors
// carry `doc.origin` as their file. Never throws.
GroupRead read_group(const Config& base, const GroupDoc& doc);
// `base` (a loaded configuration) with `extra` (read_group's) appended as API-owned groups,
// all checked together (names, overlaps, ports, tunnels). Never throws.
LoadResult with_groups(const Config& base, std::vector<Group> extra);

} // namespace ptbsteer::config
