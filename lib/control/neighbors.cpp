#include "control/neighbors.h"

#include <array>

#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "packet/format.h"

namespace ptbsteer::control {
namespace {

using namespace std::chrono_literals;

constexpr auto retrans = 1s;          // between solicitations (Linux: retrans_time_ms 1000)
constexpr unsigned max_sent = 3;      // unanswered solicitations before failed (mcast_solicit 3)
constexpr auto refresh_lead = 3s;     // re-solicit a reachable entry this long before it expires
constexpr std::size_t min_frame = 60; // IEEE 802.3's minimum, without the FCS
constexpr auto period = 10ms;
constexpr unsigned ring_size = 1024; // Shared::neighbor_updates' (appliance.cpp)

double unix_now() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

} // namespace

NeighborTable::NeighborTable(std::size_t slots)
    : words_(new NeighborWord[slots]()), slots_(slots), bound_(slots), binding_(slots) {}

NeighborTable::~NeighborTable() {
    stop();
}

void NeighborTable::publish(const Entry& e) {
    for (const std::uint32_t slot : e.slots)
        words_[slot].store(neighbor_word(e.mac, e.state, binding_[slot]),
                           std::memory_order_relaxed);
}

void NeighborTable::set_state(Entry& e, NeighborState s) {
    if (e.state != s) e.sent = 0;
    e.state = s;
    publish(e);
}

// The slot leaves its entry (erased later, by bind(), if nobody else names it) and gets a new
// binding number: what waits for its old next-hop is dropped, never sent to the new one.
void NeighborTable::unbind(std::uint32_t slot) {
    ++binding_[slot];
    if (!bound_[slot]) return;
    const auto it = entries_.find(*bound_[slot]);
    bound_[slot].reset();
    if (it != entries_.end()) it->second.slots.erase(slot);
}

void NeighborTable::bind_one(const config::NextHop& h, std::uint32_t slot, const Tables& t) {
    if (!h.via) {
        const std::uint64_t was = words_[slot].load(std::memory_order_relaxed);
        if (bound_[slot] || mac_of(was) != h.mac || state_of(was) != NeighborState::permanent)
            unbind(slot);
        words_[slot].store(neighbor_word(h.mac, NeighborState::permanent, binding_[slot]),
                           std::memory_order_relaxed);
        return;
    }
    Key k{std::uint16_t(h.port), h.vlan.value_or(0), h.via_family, h.via->b};
    if (bound_[slot] != k) unbind(slot);
    auto [it, fresh] = entries_.try_emplace(k);
    Entry& e = it->second;
    if (fresh) e.next_send = Clock::now(); // solicited at the thread's next step
    // Every time: a reload may have changed the port's own address.
    const PortAddresses& own = t.ports.at(h.port);
    const bool ll = packet::is_link_local(*h.via, h.via_family);
    e.from.mac = own.mac;
    e.from.vlan = k.vlan;
    e.from.addr = h.via_family == packet::Family::v4 ? own.ipv4.value_or(packet::IpAddr{})
                  : ll                               ? own.ipv6_link_local
                                                     : own.ipv6.value_or(packet::IpAddr{});
    e.port_id = t.port_ids.at(h.port);
    e.slots.insert(slot);
    bound_[slot] = k;
    publish(e);
}

void NeighborTable::bind(const config::Config& cfg, const Tables& t,
                         const std::vector<DepartedHop>& departed) {
    const std::lock_guard lock(m_);
    params_ = cfg.neighbors;
    if (shared_) shared_->unres_qlen.store(params_.unres_qlen, std::memory_order_relaxed);
    std::vector<bool> in_t(slots_);
    std::size_t i = 0;
    auto one = [&](const config::NextHop& h) {
        const std::uint32_t slot = t.next_hops.at(i++).counter_slot;
        in_t.at(slot) = true;
        bind_one(h, slot, t);
    };
    for (const config::Group& g : cfg.groups)
        for (const config::NextHop& h : g.next_hops)
            one(h);
    // A departed next-hop stays resolved while a past version may still send to it.
    for (const DepartedHop& d : departed)
        one(*d.hop);
    for (std::uint32_t slot = 0; slot < slots_; ++slot)
        if (!in_t[slot] && bound_[slot]) unbind(slot);
    // Last: an address one next-hop left and another took in the same change keeps its entry.
    std::erase_if(entries_, [](const auto& kv) { return kv.second.slots.empty(); });
}

void NeighborTable::apply(const NeighborUpdate& u, Clock::time_point now) {
    const std::lock_guard lock(m_);
    Key k{u.port, u.vlan, u.family, {}};
    std::memcpy(k.addr.data(), u.addr.b.data(), u.family == packet::Family::v4 ? 4 : 16);
    const auto it = entries_.find(k);
    if (it == entries_.end()) return; // a next-hop of a generation since replaced
    Entry& e = it->second;
    if (!u.has_mac) {
        // An NA without a link-layer address confirms the one we hold (RFC 4861 §7.2.5); it
        // cannot resolve an entry that has none.
        if (!u.solicited || e.state == NeighborState::incomplete ||
            e.state == NeighborState::failed)
            return;
    } else if (u.mac != e.mac && !u.override && e.mac != Mac{}) {
        // RFC 4861 §7.2.5: an advertisement without the Override flag does not replace a MAC
        // we hold, nor confirm it.
        return;
    } else if (u.mac != e.mac) {
        if (e.mac != Mac{}) { // a first resolution is not a change
            e.mac_changed = unix_now();
            ++stats_.mac_changes;
        }
        e.mac = u.mac;
    }
    ++stats_.updates;
    e.confirmed = now;
    e.sent = 0;
    e.state = NeighborState::reachable;
    e.next_send = now + std::chrono::seconds(params_.reachable_time) - refresh_lead;
    publish(e);
}

void NeighborTable::solicit(const Key& k, Entry& e, bool unicast) {
    ++e.sent;
    e.next_send += retrans;
    std::array<std::uint8_t, 128> frame{};
    packet::IpAddr target;
    target.b = k.addr;
    const Mac* to = unicast ? &e.mac : nullptr;
    std::size_t len = k.family == packet::Family::v4
                          ? make_arp_request(frame, e.from, target, to)
                          : make_neighbor_solicitation(frame, e.from, target, to);
    len = std::max(len, min_frame); // zero padding (frame{} is zeroed)
    rte_mbuf* m = pool_ ? rte_pktmbuf_alloc(pool_) : nullptr;
    char* p = m ? rte_pktmbuf_append(m, std::uint16_t(len)) : nullptr;
    if (!p) {
        rte_pktmbuf_free(m);
        ++stats_.solicitations_lost;
        return;
    }
    std::memcpy(p, frame.data(), len);
    m->port = e.port_id;
    if (rte_ring_sp_enqueue(shared_->neighbor_tx, m) != 0) {
        rte_pktmbuf_free(m);
        ++stats_.solicitations_lost;
        return;
    }
    (k.family == packet::Family::v4 ? stats_.solicitations_v4 : stats_.solicitations_v6)++;
}

void NeighborTable::tick(Clock::time_point now) {
    const std::lock_guard lock(m_);
    const auto reachable = std::chrono::seconds(params_.reachable_time);
    for (auto& [k, e] : entries_) {
        if (e.state == NeighborState::reachable && now >= e.confirmed + reachable) {
            set_state(e, NeighborState::probe); // expired: still used while we ask
            e.next_send = now;
        }
        if (now < e.next_send) continue;
        if (e.next_send + retrans < now) e.next_send = now; // never a burst of catch-up sends
        switch (e.state) {
        case NeighborState::reachable:
            // The refresh before expiry: twice where it was, then anyone who has the address.
            solicit(k, e, e.sent < 2);
            break;
        case NeighborState::incomplete:
        case NeighborState::probe:
            if (e.sent >= max_sent) {
                set_state(e, NeighborState::failed);
                e.next_send = now;
            }
            solicit(k, e, false);
            break;
        case NeighborState::failed: solicit(k, e, false); break;
        case NeighborState::permanent: break;
        }
    }
}

void NeighborTable::run() {
    std::array<NeighborUpdate, 64> in;
    while (!stop_.load(std::memory_order_relaxed)) {
        const auto now = Clock::now();
        // At most a ring's worth per step: a flood of ARP claiming a next-hop's address must
        // not keep the timers (solicitations, expiry) from running.
        for (unsigned round = 0; round < ring_size / in.size(); ++round) {
            const unsigned n = rte_ring_sc_dequeue_burst_elem(
                shared_->neighbor_updates, in.data(), sizeof(NeighborUpdate), in.size(), nullptr);
            for (unsigned i = 0; i < n; ++i)
                apply(in[i], now);
            if (n < in.size()) break;
        }
        tick(now);
        std::this_thread::sleep_for(period);
    }
}

void NeighborTable::attach(Shared& s, rte_mempool* pool) {
    const std::lock_guard lock(m_);
    shared_ = &s;
    pool_ = pool;
    s.unres_qlen.store(params_.unres_qlen, std::memory_order_relaxed);
}

void NeighborTable::start(Shared& s, rte_mempool* pool) {
    attach(s, pool);
    thread_ = std::thread([this] { run(); });
}

void NeighborTable::stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

NeighborTable::View NeighborTable::view(std::size_t slot) const {
    const std::lock_guard lock(m_);
    View v;
    if (slot >= slots_) return v;
    const std::uint64_t w = words_[slot].load(std::memory_order_relaxed);
    v.state = state_of(w);
    v.mac = mac_of(w);
    if (bound_[slot])
        if (const auto it = entries_.find(*bound_[slot]); it != entries_.end())
            v.mac_changed = it->second.mac_changed;
    return v;
}

NeighborTable::Stats NeighborTable::stats() const {
    const std::lock_guard lock(m_);
    return stats_;
}

} // namespace ptbsteer::control
