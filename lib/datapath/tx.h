// Building what goes out: the rewritten or encapsulated PTB for one next-hop, and the
// header+clone chains of a replicated PTB. Each function takes ownership of nothing: the caller
// keeps the one-owner-per-mbuf rule (see worker.cpp).
#pragma once

#include <cstdint>

#include "datapath/tables.h"

struct rte_mbuf;
struct rte_mempool;

namespace ptbsteer::datapath {

// Fills nh's precomputed header fields from its addresses, VLAN and delivery. Called once per
// next-hop when the tables are built; every function below relies on it.
void prepare_header(NextHopOut& nh) noexcept;

// Writes that header (Ethernet, optional 802.1Q tag, optional tunnel IP header) at `dst`.
// `inner_len` is the PTB's IP length; `inner` its family.
void write_header(std::uint8_t* dst, const NextHopOut& nh, packet::Family inner,
                  std::uint16_t inner_len) noexcept;

// Unicast: replaces the first `l3_offset` bytes of `m` (the incoming Ethernet/VLAN header)
// with the next-hop's header, in place. False when the headroom is too small.
bool rewrite_for(rte_mbuf* m, std::uint16_t l3_offset, const NextHopOut& nh,
                 packet::Family inner) noexcept;

// Replication: a new chain [header mbuf][indirect clone of `payload`] for `nh`. `payload` starts
// at the PTB's IP header. No payload byte is copied; the clone holds a reference. nullptr when
// `pool` is exhausted.
rte_mbuf* copy_for(rte_mbuf* payload, rte_mempool* pool, const NextHopOut& nh,
                   packet::Family inner) noexcept;

} // namespace ptbsteer::datapath
