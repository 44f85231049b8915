// Served prefix -> group: longest-prefix match of the ORIGINAL flow's destination (the anycast
// service address the client talked to). Backed by DPDK rte_lpm / rte_lpm6, which need an
// initialised EAL; the interface stays pure C++.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "packet/flow_key.h"

struct rte_lpm;
struct rte_lpm6;

namespace ptbsteer::steer {

class PrefixTable {
  public:
    // rte_lpm6 stores next hops in 21 bits (rte_lpm in 24): group ids must fit the smaller.
    static constexpr std::uint32_t max_group_id = (1u << 21) - 1;

    // Capacities handed to rte_lpm_create / rte_lpm6_create. A tbl8 group is 256 entries of 4
    // bytes; IPv4 needs one per /24 holding a longer prefix, IPv6 up to 13 per prefix longer
    // than /24. Each family's table (64 MiB tbl24 each) is created on its first prefix.
    struct Limits {
        std::uint32_t max_rules_v4 = 4096;
        std::uint32_t tbl8s_v4 = 1024;
        std::uint32_t max_rules_v6 = 4096;
        std::uint32_t tbl8s_v6 = 1u << 14;
        int socket_id = -1; // SOCKET_ID_ANY
    };

    PrefixTable();
    explicit PrefixTable(const Limits& limits);
    ~PrefixTable();
    PrefixTable(PrefixTable&& other) noexcept;
    PrefixTable& operator=(PrefixTable&& other) noexcept;
    PrefixTable(const PrefixTable&) = delete;
    PrefixTable& operator=(const PrefixTable&) = delete;

    // Build time. std::invalid_argument for a length beyond the family's width, host bits set
    // beyond the length (as `ip route add` refuses them), a duplicate prefix, or a group id over
    // max_group_id; std::runtime_error when DPDK fails (EAL not initialised, out of memory,
    // tables full).
    void add(packet::Family family, const packet::IpAddr& prefix, std::uint8_t len,
             std::uint32_t group_id);

    // Per packet: the group of the longest matching prefix, or nullopt. No allocation.
    std::optional<std::uint32_t> lookup(packet::Family family,
                                        const packet::IpAddr& addr) const noexcept;

    std::size_t size() const noexcept { return rules_; }

  private:
    void create_v4();
    void create_v6();
    void release() noexcept;

    Limits limits_;
    rte_lpm* v4_ = nullptr;
    rte_lpm6* v6_ = nullptr;
    // rte_lpm/rte_lpm6 reject depth 0, so the default routes live here.
    std::optional<std::uint32_t> default_v4_;
    std::optional<std::uint32_t> default_v6_;
    std::size_t rules_ = 0;
};

} // namespace ptbsteer::steer
