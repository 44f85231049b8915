// ParkedFrames: PTBs waiting for their next-hop's resolution leave when its word becomes usable,
// and are dropped when it fails, is rebound to another next-hop, or they waited too long.
#include <catch2/catch.hpp>

#include <memory>
#include <vector>

#include "datapath/parked.h"

using namespace ptbsteer::datapath;

namespace {

// Stand-ins for mbufs: ParkedFrames never dereferences them.
rte_mbuf* frame(std::uintptr_t i) {
    return reinterpret_cast<rte_mbuf*>(0x1000 + i * 64);
}

const Mac mac = {0x02, 0x70, 0x74, 0x62, 0x00, 0x01};

} // namespace

TEST_CASE("parked PTBs: per next-hop limit, release, failure, rebinding, timeout", "[parked]") {
    auto words = std::make_unique<NeighborWord[]>(4);
    for (int i = 0; i < 4; ++i)
        words[i].store(neighbor_word(Mac{}, NeighborState::incomplete, 1));
    auto parked = std::make_unique<ParkedFrames>();
    std::vector<rte_mbuf*> sent, dropped;
    auto run = [&](std::uint64_t now) {
        parked->recheck(
            words.get(), now, 1000,
            [&](const ParkedFrames::Frame& f, std::uint64_t w) {
                CHECK(mac_of(w) == mac);
                sent.push_back(f.m);
            },
            [&](const ParkedFrames::Frame& f) { dropped.push_back(f.m); });
    };
    // Three per next-hop: the fourth for slot 0 is refused, slot 1 still has room.
    for (std::uintptr_t i = 0; i < 3; ++i)
        CHECK(parked->park({frame(i), 0, 0, 1, 1}, 3));
    CHECK_FALSE(parked->park({frame(3), 0, 0, 1, 1}, 3));
    CHECK(parked->park({frame(4), 0, 1, 1, 1}, 3));
    CHECK(parked->park({frame(5), 0, 2, 1, 1}, 3));
    CHECK(parked->park({frame(6), 0, 3, 1, 1}, 3));
    run(10);
    CHECK(sent.empty());
    CHECK(dropped.empty());

    words[0].store(neighbor_word(mac, NeighborState::reachable, 1)); // resolved
    words[1].store(neighbor_word(Mac{}, NeighborState::failed, 1));  // gave up
    words[2].store(neighbor_word(mac, NeighborState::permanent, 2)); // the slot's next next-hop
    run(20);
    CHECK(sent == std::vector<rte_mbuf*>{frame(0), frame(1), frame(2)});
    CHECK(dropped.size() == 2); // slot 1's (failed) and slot 2's (rebound: never sent to it)
    run(2000);                  // slot 3 waited too long
    CHECK(dropped.size() == 3);
    CHECK(dropped.back() == frame(6));
    // Capacity in all, whatever the per-hop limit.
    for (std::uintptr_t i = 0; i < ParkedFrames::capacity; ++i)
        CHECK(parked->park({frame(10 + i), 0, std::uint32_t(i % 4), 1, 1}, 1000));
    CHECK_FALSE(parked->park({frame(9), 0, 0, 1, 1}, 1000));
    std::size_t all = 0;
    parked->drop_all([&](const ParkedFrames::Frame&) { ++all; });
    CHECK(all == ParkedFrames::capacity);
}
