// Served prefix -> group: longest-prefix match of the ORIGINAL flow's destination (the anycast
// service address the client talked to). Backed by DPDK rte_lpm / rte_lpm6, which need an
// initialised EAL. The interface takes and returns plain C++ types; lookup() is inline (and so
// is rte_lpm's IPv4 lookup), which is why the DPDK headers are included here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include <rte_lpm.h>
#include <rte_lpm6.h>

#include "packet/flow_key.h"

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
    // With a recycler (below), the DPDK tables come from it when it has some and go back to it
    // when the last table sharing them is gone. The recycler must outlive the table.
    explicit PrefixTable(const Limits& limits, class PrefixRecycler* recycler = nullptr);
    ~PrefixTable();
    PrefixTable(PrefixTable&& other) noexcept;
    PrefixTable& operator=(PrefixTable&& other) noexcept;
    PrefixTable(const PrefixTable&) = delete;
    PrefixTable& operator=(const PrefixTable&) = delete;

    // Another table with the same rules, sharing this one's rte_lpm/rte_lpm6 (freed with the
    // last table that shares them): a new generation whose prefixes map to the same groups
    // reuses them instead of building 64 MiB tables again. Neither may add() afterwards.
    PrefixTable share() const;

    // Build time. std::invalid_argument for a length beyond the family's width, host bits set
    // beyond the length (as `ip route add` refuses them), a duplicate prefix, or a group id over
    // max_group_id; std::runtime_error when DPDK fails (EAL not initialised, out of memory,
    // tables full).
    void add(packet::Family family, const packet::IpAddr& prefix, std::uint8_t len,
             std::uint32_t group_id);

    // Per packet: the group of the longest matching prefix, or nullopt. No allocation.
    std::optional<std::uint32_t> lookup(packet::Family family,
                                        const packet::IpAddr& addr) const noexcept {
        std::uint32_t group = 0;
        if (family == packet::Family::v4) {
            if (v4_ && rte_lpm_lookup(v4_, v4_host_order(addr), &group) == 0) return group;
            return default_v4_;
        }
        if (v6_ && rte_lpm6_lookup(v6_, addr.b.data(), &group) == 0) return group;
        return default_v6_;
    }

    std::size_t size() const noexcept { return rules_; }

  private:
    friend class PrefixRecycler;
    // rte_lpm takes IPv4 addresses in host byte order; IpAddr holds network order in bytes 0..3.
    static std::uint32_t v4_host_order(const packet::IpAddr& a) noexcept {
        return (std::uint32_t{a.b[0]} << 24) | (std::uint32_t{a.b[1]} << 16) |
               (std::uint32_t{a.b[2]} << 8) | std::uint32_t{a.b[3]};
    }
    void create_v4();
    void create_v6();
    void release() noexcept;

  public:
    struct Rule {
        packet::IpAddr addr;
        std::uint8_t len = 0;
    };

  private:
    // Owns the DPDK tables; lookup() reads the raw pointers below (no indirection per packet).
    struct Handles {
        rte_lpm* v4 = nullptr;
        rte_lpm6* v6 = nullptr;
        PrefixRecycler* recycler = nullptr;
        std::vector<Rule> v4_rules, v6_rules; // what add() put in: a recycler empties by them
        ~Handles();
    };
    Handles& handles();

    Limits limits_;
    PrefixRecycler* recycler_ = nullptr;
    std::shared_ptr<Handles> owned_;
    rte_lpm* v4_ = nullptr;
    rte_lpm6* v6_ = nullptr;
    // rte_lpm/rte_lpm6 reject depth 0, so the default routes live here.
    std::optional<std::uint32_t> default_v4_;
    std::optional<std::uint32_t> default_v6_;
    std::size_t rules_ = 0;
};

// DPDK tables no generation uses any more, kept for the next table to be built. Freeing one
// (rte_lpm_free) makes DPDK zero all of it, 64 MiB of tbl24 per family, and on fresh --no-huge
// memory that meant a page fault per 4 KiB: the first updates after start took 0.2-0.5 s where
// later ones take milliseconds. A kept table is emptied by deleting the rules it was given
// (rte_lpm_delete, rte_lpm6_delete), which writes only the entries they covered, and serves
// again as new. Tables of one Limits only (the recycler's). Control threads only, any of them.
class PrefixRecycler {
  public:
    explicit PrefixRecycler(const PrefixTable::Limits& limits = {}, std::size_t keep = 2)
        : limits_(limits), keep_(keep) {}
    ~PrefixRecycler(); // frees what it keeps
    PrefixRecycler(const PrefixRecycler&) = delete;
    PrefixRecycler& operator=(const PrefixRecycler&) = delete;

    const PrefixTable::Limits& limits() const { return limits_; }
    // An empty table, or null when none is kept.
    rte_lpm* take_v4();
    rte_lpm6* take_v6();
    // Takes a table no lookup can reach any more: emptied and kept, or freed (beyond `keep`, or
    // when a rule would not delete).
    void give(rte_lpm* t, const std::vector<PrefixTable::Rule>& rules);
    void give(rte_lpm6* t, const std::vector<PrefixTable::Rule>& rules);
    std::size_t kept() const;

  private:
    PrefixTable::Limits limits_;
    std::size_t keep_;
    mutable std::mutex m_;
    std::vector<rte_lpm*> v4_;
    std::vector<rte_lpm6*> v6_;
};

} // namespace ptbsteer::steer
