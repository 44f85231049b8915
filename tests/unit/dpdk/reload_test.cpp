// control::Reloader without lcores: outcomes, counter slots and guards across generations, and
// the RCU rule that a retired generation is freed only after every reader passed a quiescent
// state AND every RX -> TX ring was drained past the decisions made with it.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include <unistd.h>

#include <rte_cycles.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "control/reload.h"
#include "datapath/worker.h"

using namespace ptbsteer;
using namespace ptbsteer::datapath;
using namespace ptbsteer::control;

namespace {

// IPv4 only: each generation's rte_lpm is 65 MiB of the EAL's memory (dpdk_main.cpp).
// `transition`: the group's key (empty: the default).
std::string yaml(const std::string& hops, const std::string& extra = "",
                 const std::string& transition = "") {
    return R"(ports:
  - {name: in, device: net_null0}
  - {name: out, device: net_null1}
lcores: [{id: 0, rx: [in, out], tx: true}]
groups:
  - name: web
    prefixes: [198.51.100.0/24]
    hash: {model: linux, policy: 1, seed: 7}
)" + (transition.empty() ? "" : "    transition: " + transition + "\n") +
           "    next_hops: " + hops + "\n" + extra;
}
const std::string ab = R"([{name: a, port: out, mac: "02:00:00:00:01:01"},)"
                       R"( {name: b, port: out, mac: "02:00:00:00:01:02"}])";
const std::string bc = R"([{name: b, port: out, mac: "02:00:00:00:01:02"},)"
                       R"( {name: c, port: out, mac: "02:00:00:00:01:03"}])";
const std::string cd = R"([{name: c, port: out, mac: "02:00:00:00:01:03"},)"
                       R"( {name: d, port: out, mac: "02:00:00:00:01:04"}])";

struct Fixture {
    std::string path = "/tmp/ptbsteer-reload-test-" + std::to_string(::getpid()) + ".yaml";
    Shared shared;
    std::vector<LcoreCounters> counters = std::vector<LcoreCounters>(1); // the one lcore's
    std::unique_ptr<Reloader> reloader;

    explicit Fixture(const std::string& text, std::vector<rte_ring*> rings = {}) {
        write(text);
        const config::LoadResult r = config::load_config_file(path);
        REQUIRE(r.config);
        ReloadSetup setup{
            path,   {0, 1},           {Mac{2, 0xaa, 0, 0, 0, 1}, Mac{2, 0xaa, 0, 0, 0, 2}},
            {true}, rte_get_tsc_hz(), std::chrono::milliseconds(300)};
        setup.counters = &counters;
        reloader = std::make_unique<Reloader>(*r.config, setup);
        counters[0].size_for(2, reloader->slots().capacity());
        reloader->attach(shared, std::move(rings));
    }
    ~Fixture() { std::remove(path.c_str()); }
    void write(const std::string& text) { std::ofstream(path) << text; }
};

// Stands in for an lcore: loads the generation, then reports quiescence, in a loop.
class Reader {
  public:
    explicit Reader(Shared& s)
        : t_([this, &s] {
              while (!stop_) {
                  seen_ = s.current.load(std::memory_order_acquire)->number;
                  rte_rcu_qsbr_quiescent(s.qsbr, 0);
              }
              rte_rcu_qsbr_thread_offline(s.qsbr, 0);
          }) {}
    ~Reader() {
        stop_ = true;
        t_.join();
    }

  private:
    std::atomic<bool> stop_{false};
    std::atomic<std::uint64_t> seen_{0};
    std::thread t_;
};

} // namespace

TEST_CASE("reload: success, failure and restart_required, each counted; only success publishes") {
    Fixture f(yaml(ab));
    Reader reader(f.shared);
    CHECK(f.shared.current.load()->number == 1);

    f.write(yaml(bc));
    ReloadResult r = f.reloader->reload();
    CHECK(r.outcome == ReloadOutcome::success);
    CHECK(r.generation == 2);
    CHECK(r.summary() == "reloaded: generation 2 serves");
    CHECK(f.shared.current.load()->number == 2);
    CHECK(f.reloader->retained() == 0);

    f.write(yaml(bc) + "metrics: {listen: \"127.0.0.1:1\"}\n");
    r = f.reloader->reload();
    CHECK(r.outcome == ReloadOutcome::restart_required);
    REQUIRE(r.messages.size() == 1);
    CHECK(r.messages[0] == "metrics.listen changed from '127.0.0.1:9469' to '127.0.0.1:1'");

    f.write(yaml(R"([{name: d, port: nowhere, mac: "02:00:00:00:01:04"}])"));
    r = f.reloader->reload();
    CHECK(r.outcome == ReloadOutcome::failure);
    REQUIRE_FALSE(r.messages.empty());
    CHECK(r.messages[0].rfind(f.path + ":9:", 0) == 0); // file:line:col of the bad next-hop
    CHECK(r.generation == 2);
    CHECK(f.shared.current.load()->number == 2);

    const ReloadStats& st = f.reloader->stats();
    CHECK(st.generation == 2);
    CHECK(st.results[std::size_t(ReloadOutcome::success)] == 1);
    CHECK(st.results[std::size_t(ReloadOutcome::failure)] == 1);
    CHECK(st.results[std::size_t(ReloadOutcome::restart_required)] == 1);
}

// Frames per next-hop name, from the slots' totals (the metrics' and the exit report's view).
std::map<std::string, std::uint64_t> sent(const Fixture& f) {
    std::map<std::string, std::uint64_t> out;
    for (const auto& t : f.reloader->slots().totals(f.counters[0]))
        out[t.name.next_hop] = t.sent.all();
    return out;
}

TEST_CASE("reload: next-hop counter slots follow names; a freed slot is reused from zero") {
    Fixture f(yaml(ab, "", "0")); // no transitions: a departed next-hop's slot is free at once
    Reader reader(f.shared);
    auto& unicast = f.counters[0].unicast_per_next_hop; // this test plays the lcore
    unicast[0] = 5;                                     // web/a
    unicast[1] = 7;                                     // web/b
    f.write(yaml(bc, "", "0"));
    REQUIRE(f.reloader->reload().outcome == ReloadOutcome::success);
    const Tables& t = f.shared.current.load()->tables;
    REQUIRE(t.next_hops.size() == 2);
    CHECK(t.next_hops[0].counter_slot == 1); // web/b kept its slot from generation 1
    CHECK(t.next_hops[1].counter_slot == 2); // web/c is new (a's slot was still in use)
    CHECK(f.reloader->retained() == 0);      // generation 1 is freed: slot 0 is free now
    CHECK(f.reloader->slots().in_use() == 2);
    CHECK(sent(f) == std::map<std::string, std::uint64_t>{{"a", 5}, {"b", 7}, {"c", 0}});

    unicast[2] = 3; // web/c
    f.write(yaml(cd, "", "0"));
    REQUIRE(f.reloader->reload().outcome == ReloadOutcome::success);
    const Tables& t2 = f.shared.current.load()->tables;
    CHECK(t2.next_hops[0].counter_slot == 2); // web/c
    CHECK(t2.next_hops[1].counter_slot == 0); // web/d reuses a's slot
    unicast[0] += 2;                          // two frames to web/d
    // a's series stays at 5 (not 7), d counts from zero, b (gone now) stays at 7.
    CHECK(sent(f) == std::map<std::string, std::uint64_t>{{"a", 5}, {"b", 7}, {"c", 3}, {"d", 2}});
}

TEST_CASE("reload: a departed next-hop keeps its slot through its transition, then gives it back") {
    Fixture f(yaml(ab));
    Reader reader(f.shared);
    f.write(yaml(bc));
    REQUIRE(f.reloader->reload().outcome == ReloadOutcome::success);
    const Tables& t = f.shared.current.load()->tables;
    REQUIRE(t.serving_next_hops == 2);
    REQUIRE(t.next_hops.size() == 3); // b, c, then a for its earlier flows
    CHECK(t.next_hop_names[2] == "web/a");
    CHECK(t.next_hops[2].counter_slot == 0); // a's slot, held by its name
    CHECK(f.reloader->slots().in_use() == 3);
    using Versions = std::vector<std::pair<std::string, unsigned>>;
    CHECK(f.reloader->transition_versions(rte_rdtsc()) == Versions{{"web", 1}});

    // A shorter window is the group's setting at once; a change after it ends frees a's slot.
    f.write(yaml(bc, "", "1"));
    REQUIRE(f.reloader->reload().outcome == ReloadOutcome::success);
    CHECK(f.shared.current.load()->tables.next_hops.size() == 3);
    const std::uint64_t generation = f.reloader->live().number;
    CHECK_FALSE(f.reloader->expire_transitions()); // its window is still open
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    CHECK(f.reloader->transition_versions(rte_rdtsc()) == Versions{{"web", 0}});
    // The window closed: the same configuration serves again without it, and a's slot is free.
    REQUIRE(f.reloader->expire_transitions());
    CHECK(f.reloader->live().number == generation + 1);
    CHECK(f.shared.current.load()->tables.next_hops.size() == 2);
    CHECK(f.reloader->slots().in_use() == 2);
    CHECK(f.reloader->transition_versions(rte_rdtsc()) == Versions{{"web", 0}});
    CHECK_FALSE(f.reloader->expire_transitions()); // nothing left to end
    f.write(yaml(cd, "", "1"));
    REQUIRE(f.reloader->reload().outcome == ReloadOutcome::success);
    const Tables& t2 = f.shared.current.load()->tables;
    CHECK(t2.next_hops.size() == 3); // c, d, then b: the one change inside the window
    CHECK(t2.next_hop_names[2] == "web/b");
    CHECK(f.reloader->slots().in_use() == 3); // b, c, d
}

// `n` next-hops named <prefix><k>, MACs unique per prefix letter.
std::string many(char prefix, unsigned n) {
    std::string s = "[";
    for (unsigned k = 0; k < n; ++k)
        s += fmt::format("{}{{name: {}{}, port: out, mac: \"02:{:02x}:00:00:{:02x}:{:02x}\"}}",
                         k ? ", " : "", prefix, k, unsigned(prefix), k >> 8, k & 0xff);
    return s + "]";
}

TEST_CASE("reload: departed next-hops never hold more than half the slots; the oldest go") {
    // 4096 next-hops replaced by new names, again and again: each change needs 4096 fresh slots
    // beside what serves, so a generation may hold at most half of the 16384.
    Fixture f(yaml(many('a', 4096)));
    Reader reader(f.shared);
    REQUIRE(f.reloader->slots().capacity() == 16384);
    for (char c : {'b', 'c', 'd', 'e', 'f'}) {
        f.write(yaml(many(c, 4096)));
        const ReloadResult r = f.reloader->reload();
        INFO(c << ": " << r.summary() << (r.messages.empty() ? "" : " " + r.messages[0]));
        REQUIRE(r.outcome == ReloadOutcome::success);
        const Tables& t = f.shared.current.load()->tables;
        CHECK(t.next_hops.size() == 8192); // the serving 4096 and one earlier version's
        CHECK(t.groups[0].past_count == 1);
    }
    // b replaced a: a's version fit; from c on, each change forgot the oldest one.
    CHECK(f.reloader->stats().transition_versions_dropped == 4);
}

TEST_CASE("reload: rate limiter state carries over unless limits change") {
    Fixture f(yaml(ab, "limits: {global: {rate: 1000, burst: 10}}\n"));
    Reader reader(f.shared);
    const auto first = f.shared.current.load()->guards;
    f.write(yaml(bc, "limits: {global: {rate: 1000, burst: 10}}\n"));
    REQUIRE(f.reloader->reload().outcome == ReloadOutcome::success);
    CHECK(f.shared.current.load()->guards == first);
    f.write(yaml(bc, "limits: {global: {rate: 2000, burst: 10}}\n"));
    REQUIRE(f.reloader->reload().outcome == ReloadOutcome::success);
    CHECK(f.shared.current.load()->guards != first);
}

TEST_CASE("reload: an old generation is kept while a reader has not passed a quiescent state") {
    Fixture f(yaml(ab));
    // No reader runs: reader 0 is online (as every lcore is from launch) and never reports.
    f.write(yaml(bc));
    const ReloadResult r = f.reloader->reload();
    CHECK(r.outcome == ReloadOutcome::success); // published; only the free waits
    CHECK(f.shared.current.load()->number == 2);
    CHECK(f.reloader->retained() == 1);
    Reader reader(f.shared);
    f.write(yaml(ab));
    REQUIRE(f.reloader->reload().outcome == ReloadOutcome::success);
    CHECK(f.reloader->retained() == 0); // generations 1 and 2 both freed
}

TEST_CASE("reload: an old generation is kept until the RX -> TX rings are drained past it") {
    rte_ring* ring =
        rte_ring_create("ptbsteer_reload_test", 64, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    REQUIRE(ring);
    {
        Fixture f(yaml(ab), {ring});
        Reader reader(f.shared);
        int in_flight = 0; // stands in for an mbuf carrying a generation-1 decision
        REQUIRE(rte_ring_sp_enqueue(ring, &in_flight) == 0);
        f.write(yaml(bc));
        REQUIRE(f.reloader->reload().outcome == ReloadOutcome::success);
        CHECK(f.reloader->retained() == 1);
        void* out = nullptr;
        REQUIRE(rte_ring_sc_dequeue(ring, &out) == 0);
        f.write(yaml(ab));
        REQUIRE(f.reloader->reload().outcome == ReloadOutcome::success);
        CHECK(f.reloader->retained() == 0);
    }
    rte_ring_free(ring);
}
