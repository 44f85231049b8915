// Hash models: compute the hash a router computes for a flow, so ptbsteer can pick the same
// next-hop. Pure C++ on the interface (no DPDK types). See docs/hashing.md.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "hash/jhash.h"
#include "hash/linux_flow_keys.h"
#include "packet/flow_key.h"
#include "util/name_table.h"

namespace ptbsteer::hash {

// Which flow fields a model hashes. The bit values are Linux's fib_multipath_hash_fields bits
// (Documentation/networking/ip-sysctl.rst), so a policy-3 router's sysctl value is used as is.
enum Field : std::uint32_t {
    src_ip = 0x01,
    dst_ip = 0x02,
    ip_proto = 0x04,
    flow_label = 0x08,
    src_port = 0x10,
    dst_port = 0x20,
};
inline constexpr std::uint32_t five_tuple =
    src_ip | dst_ip | ip_proto | src_port | dst_port; // 0x37

enum class ModelKind : std::uint8_t { linux_kernel, toeplitz, crc32c };
// The configuration's `model:` spelling of each ModelKind.
inline constexpr auto model_kind_names = util::name_table<ModelKind>("linux", "toeplitz", "crc32c");
static_assert(model_kind_names.size() == std::size_t(ModelKind::crc32c) + 1);
constexpr std::string_view name(ModelKind k) {
    return model_kind_names.name(k);
}

// Linux fib_multipath_hash / rt6_multipath_hash on the FORWARDING path (the router forwards the
// client's packets, an skb is present). Policies: 0 = L3, 1 = L4 (no skb hash present),
// 3 = custom fields. Hashing without an skb differs for policy 3 (no jhash step): that is what
// a router's own sockets get, and what IPv6 `ip route get` computes with or without iif, since
// inet6_rtm_getroute never builds an skb. IPv4 `ip route get` builds one and matches forwarding.
struct LinuxParams {
    std::uint32_t seed = 0;            // net.ipv4.fib_multipath_hash_seed; must be non-zero
    std::uint8_t policy = 0;           // 0, 1 or 3 (same for net.ipv4 and net.ipv6 here)
    std::uint32_t fields = five_tuple; // policy 3 only: net.ipv{4,6}.fib_multipath_hash_fields
};

struct ToeplitzParams {
    std::array<std::uint8_t, 40> key{}; // RSS key; default_rss_key() is the common Microsoft one
    std::uint32_t fields = five_tuple;  // src_ip|dst_ip[|src_port|dst_port]; others ignored
};

struct Crc32cParams {
    std::uint32_t seed = 0xffffffff; // initial CRC value
    std::uint32_t fields = five_tuple;
};

std::array<std::uint8_t, 40> default_rss_key();   // the 40-byte key of the Microsoft RSS spec
std::array<std::uint8_t, 40> symmetric_rss_key(); // 0x6d5a repeated: hash(a->b) == hash(b->a)

// A model resolved once from config: all per-packet work is in hash(), no option branches
// beyond the model kind. Trivially copyable; lives in the fast-path tables.
class Model {
  public:
    // Config-time factories. linux_kernel() throws std::invalid_argument for a policy other
    // than 0, 1, 3 or a zero seed (the kernel then uses a random seed nobody can reproduce).
    static Model linux_kernel(const LinuxParams& p);
    static Model toeplitz(const ToeplitzParams& p);
    static Model crc32c(const Crc32cParams& p);

    // The 32-bit flow hash. linux_kernel: the value BEFORE Linux's final ">> 1" (the selection
    // step shifts, as fib_select_multipath compares (hash >> 1) <= upper_bound).
    // One indirect call to the function resolved for this model (kind, policy) at build time.
    std::uint32_t hash(const packet::FlowKey& k) const noexcept { return hash_(*this, k); }

    // True when the hashed fields include ports, so a key without known ports
    // (!packet::ports_known(k.l4)) cannot be hashed exactly and the group's fallback applies.
    bool needs_ports() const noexcept { return needs_ports_; }

    // A Linux model whose hash is a SipHash (policies 0 and 1; 3 with an outer field) can put a
    // flow into a SIMD lane instead (linux_flow_lane()); once the burst's lanes are hashed
    // (siphash24_batch_for()), from_lane() gives what hash() would have. The rest hash() only.
    bool has_lane() const noexcept { return lane_ != nullptr; }
    void lane(const packet::FlowKey& k, SipLanes& l, std::size_t j) const noexcept {
        lane_(k, fields_, linux_key_, l, j);
    }
    std::uint32_t from_lane(std::uint64_t sip) const noexcept {
        const std::uint32_t h = linux_hash_from_sip(sip);
        return policy_ == 3 ? jhash_2words(h, 0, 0) : h; // hash_linux_p3's last step
    }
    ModelKind kind() const noexcept { return kind_; }
    std::string describe() const;

  private:
    using HashFn = std::uint32_t (*)(const Model&, const packet::FlowKey&) noexcept;
    static std::uint32_t hash_linux_p0(const Model& m, const packet::FlowKey& k) noexcept;
    static std::uint32_t hash_linux_p1(const Model& m, const packet::FlowKey& k) noexcept;
    static std::uint32_t hash_linux_p3(const Model& m, const packet::FlowKey& k) noexcept;
    static std::uint32_t hash_toeplitz(const Model& m, const packet::FlowKey& k) noexcept;
    static std::uint32_t hash_crc32c(const Model& m, const packet::FlowKey& k) noexcept;

    // linux_flow_lane<policy> itself: one call per flow, not two.
    using LaneFn = void (*)(const packet::FlowKey&, std::uint32_t, const LinuxHashKey&, SipLanes&,
                            std::size_t) noexcept;

    HashFn hash_ = hash_linux_p0; // set by the factory with the rest
    LaneFn lane_ = nullptr;
    ModelKind kind_ = ModelKind::linux_kernel;
    bool needs_ports_ = false;
    std::uint32_t fields_ = 0;
    std::uint8_t policy_ = 0;
    std::uint32_t seed_ = 0;
    LinuxHashKey linux_key_; // SipHash key and midstates, precomputed from the seed
    std::array<std::uint8_t, 40> rss_key_{};
};

} // namespace ptbsteer::hash
