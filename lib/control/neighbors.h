// The neighbour manager: resolves next-hops given by address (`via:`) and keeps them fresh, off
// the packet path (docs/configuration.md, "Next-hops by address").
//
// Ownership: the manager owns one NeighborWord per next-hop slot (datapath/neighbor.h), the
// array every generation's Tables::neighbors points to; only the manager writes the words (one
// atomic store per change), lcores read them. A slot is bound to what its next-hop is reached
// at when a generation is built (bind(), on the reload path): a static MAC (permanent) or a
// (port, VLAN, address) entry that several slots may share. The manager's thread (a control
// thread, control/affinity.h) every 10 ms takes what RX lcores learned (Shared's
// neighbor_updates ring), runs the entries' timers, and hands ARP requests / Neighbor
// Solicitations to the TX lcores as ready frames (Shared's neighbor_tx ring).
//
// Timers, per entry (the kernel's, RFC 4861 §7.3.3, without upper-layer confirmation):
//   incomplete: a broadcast/multicast solicitation each second; 3 unanswered: failed.
//   reachable:  for reachable_time after the last answer; in its last 3 s re-solicited (unicast,
//               unicast, then broadcast/multicast, one per second) so a live neighbour never
//               expires, and one whose MAC changed silently is found again before it does.
//   probe:      reachable_time passed unanswered: still used, solicited each second; after 3
//               unanswered, failed.
//   failed:     its PTBs are dropped (neighbor_failed); solicited each second until it answers.
// Any ARP (request, reply, gratuitous) or Neighbor Advertisement with a link-layer address from
// the entry's address makes it reachable at that MAC (RFC 826's merge, RFC 4861 §7.2.5/§7.2.6).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <tuple>
#include <vector>

#include "config/config.h"
#include "control/transition.h"
#include "datapath/neighbor.h"
#include "datapath/worker.h"

struct rte_mempool;

namespace ptbsteer::control {

using namespace datapath;

class NeighborTable {
  public:
    using Clock = std::chrono::steady_clock;

    explicit NeighborTable(std::size_t slots);
    ~NeighborTable();
    NeighborTable(const NeighborTable&) = delete;
    NeighborTable& operator=(const NeighborTable&) = delete;

    const NeighborWord* words() const { return words_.get(); }

    // Binds every next-hop of `t` (with its assigned counter slot; `cfg`'s next-hops, then
    // `departed`, in the same order) and takes cfg.neighbors. Slots bound before and not in `t`
    // stop being resolved; their words keep their last value for what an older generation
    // still sends.
    void bind(const config::Config& cfg, const Tables& t,
              const std::vector<DepartedHop>& departed = {});

    // The thread: from before the lcores launch until after they stop. `pool` gives the
    // solicitations' mbufs.
    void start(Shared& s, rte_mempool* pool);
    void stop();
    // What start() does but the thread: where solicitations go (tests drive tick() themselves).
    void attach(Shared& s, rte_mempool* pool);

    struct View {
        NeighborState state = NeighborState::incomplete;
        Mac mac{};
        double mac_changed = 0; // unix time of the last change of a resolved MAC; 0: never
    };
    View view(std::size_t slot) const;

    struct Stats {
        std::uint64_t solicitations_v4 = 0;   // ARP requests handed to TX
        std::uint64_t solicitations_v6 = 0;   // Neighbor Solicitations
        std::uint64_t solicitations_lost = 0; // no mbuf, or the TX ring full
        std::uint64_t updates = 0;            // learned frames applied to an entry
        std::uint64_t mac_changes = 0;
    };
    Stats stats() const;

    // One step of the thread, for tests: applies `u`, or runs the timers at `now`.
    void apply(const NeighborUpdate& u, Clock::time_point now);
    void tick(Clock::time_point now);

  private:
    struct Key {
        std::uint16_t port = 0; // config port index
        std::uint16_t vlan = 0;
        packet::Family family = packet::Family::v4;
        std::array<std::uint8_t, 16> addr{};
        friend auto operator<=>(const Key&, const Key&) = default;
    };
    struct Entry {
        NeighborState state = NeighborState::incomplete;
        Mac mac{};
        Clock::time_point confirmed{};
        Clock::time_point next_send{};
        unsigned sent = 0; // solicitations in the current phase
        double mac_changed = 0;
        std::set<std::uint32_t> slots;
        SolicitFrom from;
        std::uint16_t port_id = 0;
    };

    void run();
    void publish(const Entry& e); // the entry's words
    void set_state(Entry& e, NeighborState s);
    void solicit(const Key& k, Entry& e, bool unicast);
    void unbind(std::uint32_t slot);
    void bind_one(const config::NextHop& h, std::uint32_t slot, const Tables& t);

    mutable std::mutex m_;
    std::unique_ptr<NeighborWord[]> words_;
    std::size_t slots_;
    std::map<Key, Entry> entries_;
    std::vector<std::optional<Key>> bound_; // by slot: its entry, or none (static or free)
    std::vector<std::uint8_t> binding_;     // by slot: bumped at each rebinding (neighbor.h)
    config::Neighbors params_;
    Stats stats_;
    Shared* shared_ = nullptr;
    rte_mempool* pool_ = nullptr;
    std::thread thread_;
    std::atomic<bool> stop_{false};
};

} // namespace ptbsteer::control
