// Next-hops by address: what RX lcores learn from ARP / Neighbor Advertisements, the
// solicitations the manager builds, and the manager's timers (control/neighbors.h) on a clock
// the test moves. The kernels' side (they answer what we send) is tests/e2e's.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "config/config.h"
#include "control/compile_tables.h"
#include "control/neighbors.h"
#include "datapath/decide.h"
#include "datapath/neighbor.h"
#include "frame_builder.h"

#include <rte_mbuf.h>
#include <rte_ring.h>

using namespace ptbsteer;
using namespace ptbsteer::datapath;
using namespace ptbsteer::control;
using namespace std::chrono_literals;
using test::Bytes;

namespace {

const Mac port_out = {0x02, 0xaa, 0, 0, 0, 0x02};
const Mac server1 = {0x02, 0x70, 0x74, 0x62, 0x00, 0x01};
const Mac server1_new = {0x02, 0x70, 0x74, 0x62, 0x01, 0x01};

const char* config_text = R"(
ports:
  - {name: in, device: net_null0}
  - {name: out, device: net_null1}
lcores: [{id: 0, rx: [in, out], tx: true}]
addresses:
  - {port: out, ipv4: 203.0.113.2/24, ipv6: "2001:db8:ff::2/64"}
neighbors: {reachable_time: 10}
groups:
  - name: web
    prefixes: [198.51.100.0/25]
    hash: {model: linux, policy: 1, seed: 7}
    next_hops:
      - {name: s1, port: out, via: 203.0.113.11}
      - {name: s2, port: out, via: "2001:db8:ff::c"}
      - {name: s3, port: out, via: "fe80::70:74ff:fe62:3"}
      - {name: s4, port: out, mac: "02:70:74:62:00:04"}
)";

config::Config load(const char* text = config_text) {
    const config::LoadResult r = config::load_config_text(text, "neighbors_test.yaml");
    INFO((r.errors.empty() ? std::string() : config::to_string(r.errors.front())));
    REQUIRE(r.errors.empty());
    return *r.config;
}

Tables tables(const config::Config& cfg) {
    return compile_tables(cfg, {0, 1}, {Mac{0x02, 0xaa, 0, 0, 0, 1}, port_out});
}

// An ARP packet on port `out`: op 1 (request, e.g. gratuitous) or 2 (reply).
Bytes arp(unsigned op, const Mac& sender, const char* sender_ip, const char* target_ip) {
    return test::arp_frame(op, sender, sender_ip, target_ip);
}

// A Neighbor Advertisement for `target` from `mac`, solicited or not, with or without the
// Target Link-Layer Address option.
Bytes advert(const char* target, const Mac& mac, bool solicited, bool tlla,
             std::uint8_t hop_limit = 255, bool override = true) {
    Bytes f(port_out.begin(), port_out.end());
    f.insert(f.end(), mac.begin(), mac.end());
    const std::uint8_t plen = tlla ? 32 : 24;
    f.insert(f.end(), {0x86, 0xdd, 0x60, 0, 0, 0, 0, plen, 58, hop_limit});
    const auto src = test::addr(target), dst = test::addr("2001:db8:ff::2");
    f.insert(f.end(), src.b.begin(), src.b.end());
    f.insert(f.end(), dst.b.begin(), dst.b.end());
    f.insert(f.end(),
             {136, 0, 0, 0, std::uint8_t((solicited ? 0x40 : 0) | (override ? 0x20 : 0)), 0, 0, 0});
    f.insert(f.end(), src.b.begin(), src.b.end());
    if (tlla) {
        f.insert(f.end(), {2, 1});
        f.insert(f.end(), mac.begin(), mac.end());
    }
    test::set_icmpv6_checksum(f);
    return f;
}

NeighborUpdate update_from(const Tables& t, const Bytes& f) {
    const auto u = neighbor_update(t, f, 14, 1);
    REQUIRE(u);
    return *u;
}

std::uint64_t word(const NeighborTable& n, const Tables& t, std::size_t hop) {
    return n.words()[t.next_hops[hop].counter_slot].load();
}

// Where the manager's solicitations go: a real ring and mbuf pool, as the appliance gives it.
struct Solicitations {
    Shared shared;
    rte_mempool* pool = rte_pktmbuf_pool_create("nbr_test", 255, 0, 0, 256, 0);
    std::vector<std::uint16_t> ports;
    Solicitations() {
        REQUIRE(pool);
        shared.neighbor_tx = rte_ring_create("nbr_test_tx", 256, 0, RING_F_SP_ENQ);
        REQUIRE(shared.neighbor_tx);
    }
    ~Solicitations() {
        take();
        rte_ring_free(shared.neighbor_tx);
        rte_mempool_free(pool);
    }
    // The frames handed to TX so far (their ports in `ports`), freed.
    std::vector<Bytes> take() {
        std::vector<Bytes> got;
        ports.clear();
        void* m;
        while (rte_ring_dequeue(shared.neighbor_tx, &m) == 0) {
            auto* mb = static_cast<rte_mbuf*>(m);
            const auto* p = rte_pktmbuf_mtod(mb, const std::uint8_t*);
            got.emplace_back(p, p + rte_pktmbuf_data_len(mb));
            ports.push_back(mb->port);
            rte_pktmbuf_free(mb);
        }
        return got;
    }
};

bool is(std::uint64_t w, const Mac& mac, NeighborState s) {
    return mac_of(w) == mac && state_of(w) == s;
}

} // namespace

TEST_CASE("ARP and Neighbor Advertisements of next-hops' vias are learned; others are not",
          "[neighbors]") {
    const config::Config cfg = load();
    const Tables t = tables(cfg);
    REQUIRE(t.neighbor_addrs.size() == 3);
    packet::PtbInfo info;

    const NeighborUpdate reply = update_from(t, arp(2, server1, "203.0.113.11", "203.0.113.2"));
    CHECK(reply.family == packet::Family::v4);
    CHECK(reply.has_mac);
    CHECK(reply.solicited);
    CHECK(reply.mac == server1);
    CHECK(reply.addr == test::addr("203.0.113.11"));
    // Gratuitous ARP: a request whose sender and target are the next-hop's address.
    const NeighborUpdate garp = update_from(t, arp(1, server1_new, "203.0.113.11", "203.0.113.11"));
    CHECK(garp.mac == server1_new);
    CHECK_FALSE(garp.solicited);
    CHECK(decide(t, arp(2, server1, "203.0.113.11", "203.0.113.2"), 1, info).action ==
          Action::learn);
    // Not a next-hop, or the right address on the other port: arp_not_ours, as before.
    const Decision other = decide(t, arp(2, server1, "203.0.113.99", "203.0.113.2"), 1, info);
    CHECK(other.action == Action::drop);
    CHECK(other.drop == Drop::arp_not_ours);
    CHECK(decide(t, arp(2, server1, "203.0.113.11", "203.0.113.2"), 0, info).drop ==
          Drop::arp_not_ours);

    const NeighborUpdate na = update_from(t, advert("2001:db8:ff::c", server1, true, true));
    CHECK(na.family == packet::Family::v6);
    CHECK(na.has_mac);
    CHECK(na.mac == server1);
    CHECK(na.solicited);
    const NeighborUpdate bare =
        update_from(t, advert("fe80::70:74ff:fe62:3", server1, true, false));
    CHECK_FALSE(bare.has_mac);
    // Hop limit below 255: it crossed a router (RFC 4861 §7.1.2), not learned.
    CHECK_FALSE(neighbor_update(t, advert("2001:db8:ff::c", server1, true, true, 64), 14, 1));
    CHECK(decide(t, advert("2001:db8:ff::99", server1, true, true), 1, info).drop ==
          Drop::nd_not_ours);
    // Not learned: a wrong ICMPv6 checksum (RFC 4861 §7.1.2), a zero or group sender MAC.
    Bytes corrupt = advert("2001:db8:ff::c", server1, true, true);
    corrupt[57] ^= 1;
    CHECK_FALSE(neighbor_update(t, corrupt, 14, 1));
    CHECK_FALSE(neighbor_update(t, arp(2, Mac{}, "203.0.113.11", "203.0.113.2"), 14, 1));
    CHECK_FALSE(
        neighbor_update(t, advert("2001:db8:ff::c", {0x33, 0x33, 0, 0, 0, 1}, true, true), 14, 1));
    CHECK_FALSE(update_from(t, advert("2001:db8:ff::c", server1, true, true, 255, false)).override);
    // Every truncation of a learnable frame is refused, never read past.
    const Bytes full = advert("2001:db8:ff::c", server1, true, true);
    for (std::size_t n = 0; n < full.size(); ++n) {
        const Bytes cut(full.begin(), full.begin() + std::ptrdiff_t(n));
        const auto u = neighbor_update(t, cut, 14, 1);
        CHECK((!u || !u->has_mac)); // without its option it is at most a bare confirmation
    }
}

TEST_CASE("solicitations: ARP requests and NS to the solicited-node group, valid checksums",
          "[neighbors]") {
    SolicitFrom from{port_out, 0, test::addr("2001:db8:ff::2")};
    Bytes f(128);
    const std::size_t n =
        make_neighbor_solicitation(f, from, test::addr("2001:db8:ff::c"), nullptr);
    REQUIRE(n == 14 + 40 + 32);
    // 33:33:ff + the target's last 24 bits; ff02::1:ff00:c (RFC 4291 §2.7.1).
    CHECK(Bytes(f.begin(), f.begin() + 6) == Bytes{0x33, 0x33, 0xff, 0x00, 0x00, 0x0c});
    const auto group = test::addr("ff02::1:ff00:c");
    CHECK(std::equal(group.b.begin(), group.b.end(), f.begin() + 14 + 24));
    CHECK(f[14 + 7] == 255);
    // The ICMPv6 checksum over the pseudo-header sums to all ones (RFC 4443 §2.3).
    std::uint32_t sum = 0;
    for (std::size_t i = 14 + 8; i < 14 + 40; i += 2)
        sum += std::uint32_t(f[i] << 8 | f[i + 1]);
    sum += 32 + 58;
    CHECK(test::internet_checksum(f.data() + 54, 32, sum) == 0);
    // The Source Link-Layer Address option carries our MAC.
    CHECK(Bytes(f.begin() + 54 + 26, f.begin() + 54 + 32) ==
          Bytes(port_out.begin(), port_out.end()));

    from.addr = test::addr("203.0.113.2");
    from.vlan = 100;
    const std::size_t a = make_arp_request(f, from, test::addr("203.0.113.11"), &server1);
    REQUIRE(a == 18 + 28);
    CHECK(Bytes(f.begin(), f.begin() + 6) == Bytes(server1.begin(), server1.end())); // unicast
    CHECK(Bytes(f.begin() + 12, f.begin() + 18) == Bytes{0x81, 0x00, 0x00, 0x64, 0x08, 0x06});
    CHECK(f[18 + 7] == 1); // request
    CHECK(link_local_of(server1) == test::addr("fe80::70:74ff:fe62:1"));
}

TEST_CASE("the manager's timers: incomplete, failed, reachable, refresh, probe, failed",
          "[neighbors]") {
    const config::Config cfg = load();
    const Tables t = tables(cfg);
    NeighborTable n(16);
    n.bind(cfg, t);
    Solicitations out;
    n.attach(out.shared, out.pool);
    CHECK(state_of(word(n, t, 0)) == NeighborState::incomplete);
    CHECK(is(word(n, t, 3), {0x02, 0x70, 0x74, 0x62, 0x00, 0x04}, NeighborState::permanent));
    const auto t0 = NeighborTable::Clock::now() + 1s;
    n.tick(t0);
    CHECK(n.stats().solicitations_v4 == 1);
    CHECK(n.stats().solicitations_v6 == 2);
    // What went to the TX lcores: a broadcast ARP request for s1 from our address on `out`
    // (DPDK port 1), and multicast solicitations for s2 (from our global address) and s3 (from
    // our link-local one).
    const std::vector<Bytes> first = out.take();
    REQUIRE(first.size() == 3);
    std::size_t arps = 0, from_ll = 0;
    for (const Bytes& f : first) {
        if (f[12] == 0x08 && f[13] == 0x06) {
            ++arps;
            CHECK(f.size() == 60);
            CHECK(Bytes(f.begin(), f.begin() + 6) == Bytes(6, 0xff));
            CHECK(Bytes(f.begin() + 14 + 24, f.begin() + 14 + 28) == Bytes{203, 0, 113, 11});
            CHECK(Bytes(f.begin() + 14 + 14, f.begin() + 14 + 18) == Bytes{203, 0, 113, 2});
        } else {
            from_ll += f[14 + 8] == 0xfe;
            CHECK(f[0] == 0x33);
        }
    }
    CHECK(arps == 1);
    CHECK(from_ll == 1);
    CHECK(out.ports == std::vector<std::uint16_t>(3, 1));
    n.tick(t0 + 1s);
    n.tick(t0 + 2s);
    CHECK(state_of(word(n, t, 0)) == NeighborState::incomplete);
    n.tick(t0 + 3s); // three unanswered: failed, and still asked
    CHECK(state_of(word(n, t, 0)) == NeighborState::failed);
    CHECK(n.stats().solicitations_v4 == 4);

    const Bytes reply = arp(2, server1, "203.0.113.11", "203.0.113.2");
    const auto t1 = t0 + 3500ms;
    n.apply(update_from(t, reply), t1);
    CHECK(is(word(n, t, 0), server1, NeighborState::reachable));
    CHECK(n.view(t.next_hops[0].counter_slot).mac_changed == 0); // resolved, not changed
    // Refreshed in the last 3 s of reachable_time (10 s): unicast, unicast, broadcast.
    const auto sent = n.stats().solicitations_v4;
    n.tick(t1 + 6s);
    CHECK(n.stats().solicitations_v4 == sent);
    n.tick(t1 + 7s);
    n.tick(t1 + 8s);
    n.tick(t1 + 9s);
    CHECK(n.stats().solicitations_v4 == sent + 3);
    n.tick(t1 + 10s); // expired unanswered: still used while asked
    CHECK(is(word(n, t, 0), server1, NeighborState::probe));
    n.tick(t1 + 11s);
    n.tick(t1 + 12s);
    CHECK(state_of(word(n, t, 0)) == NeighborState::probe);
    n.tick(t1 + 13s);
    CHECK(state_of(word(n, t, 0)) == NeighborState::failed);

    // A gratuitous ARP from a new MAC: reachable there at once, and the change is recorded.
    n.apply(update_from(t, arp(1, server1_new, "203.0.113.11", "203.0.113.11")), t1 + 14s);
    CHECK(is(word(n, t, 0), server1_new, NeighborState::reachable));
    CHECK(n.view(t.next_hops[0].counter_slot).mac_changed > 0);
    CHECK(n.stats().mac_changes == 1);

    // An NA without the Override flag neither replaces the MAC held nor confirms it (§7.2.5).
    const auto before = n.stats().updates;
    n.apply(update_from(t, arp(1, server1_new, "203.0.113.11", "203.0.113.11")), t1 + 14s);
    n.apply(update_from(t, advert("2001:db8:ff::c", server1, true, true)), t1 + 14s);
    n.apply(update_from(t, advert("2001:db8:ff::c", server1_new, true, true, 255, false)),
            t1 + 15s);
    CHECK(is(word(n, t, 1), server1, NeighborState::reachable));
    CHECK(n.stats().updates == before + 2);

    // An NA without a link-layer address cannot resolve an entry that has none.
    n.apply(update_from(t, advert("fe80::70:74ff:fe62:3", server1, true, false)), t1);
    CHECK(state_of(word(n, t, 2)) != NeighborState::reachable);
}

TEST_CASE("rebinding: a removed via stops being resolved; a static MAC is permanent at once",
          "[neighbors]") {
    const config::Config cfg = load();
    const Tables t = tables(cfg);
    NeighborTable n(16);
    n.bind(cfg, t);
    std::string text = config_text;
    text.replace(text.find("via: 203.0.113.11"), 17, "mac: \"02:70:74:62:00:01\"");
    const config::Config next = load(text.c_str());
    const Tables t2 = tables(next);
    const std::uint8_t was = binding_of(word(n, t, 0));
    n.bind(next, t2);
    // What waited for the via next-hop must not leave for the static one (worker.cpp).
    CHECK(binding_of(word(n, t2, 0)) != was);
    const std::uint8_t now = binding_of(word(n, t2, 0));
    n.bind(next, t2); // the same again: nothing rebinds
    CHECK(binding_of(word(n, t2, 0)) == now);
    CHECK(is(word(n, t2, 0), server1, NeighborState::permanent));
    const auto before = n.stats().updates;
    n.apply(update_from(t, arp(2, server1, "203.0.113.11", "203.0.113.2")),
            NeighborTable::Clock::now());
    CHECK(n.stats().updates == before); // no entry holds that address any more
    CHECK(is(word(n, t2, 0), server1, NeighborState::permanent));
}

TEST_CASE("a via on a VLAN is learned from that VLAN only", "[neighbors]") {
    std::string text = config_text;
    text.replace(text.find("via: 203.0.113.11}"), 18, "via: 203.0.113.11, vlan: 100}");
    const config::Config cfg = load(text.c_str());
    const Tables t = tables(cfg);
    NeighborTable n(16);
    n.bind(cfg, t);
    const Bytes untagged = arp(2, server1, "203.0.113.11", "203.0.113.2");
    Bytes tagged = untagged;
    const std::uint8_t tag[] = {0x81, 0x00, 0x00, 0x64}; // 802.1Q, VLAN 100
    tagged.insert(tagged.begin() + 12, std::begin(tag), std::end(tag));
    const auto now = NeighborTable::Clock::now();
    n.apply(update_from(t, untagged), now); // RX hands it on; the entry is VLAN 100's
    CHECK(state_of(word(n, t, 0)) == NeighborState::incomplete);
    const auto u = neighbor_update(t, tagged, 18, 1);
    REQUIRE(u);
    CHECK(u->vlan == 100);
    n.apply(*u, now);
    CHECK(is(word(n, t, 0), server1, NeighborState::reachable));
}
