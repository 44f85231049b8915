#include "sync/syncer.h"

#include <poll.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include <fmt/format.h>

#include "sync/push.h"

namespace ptbsteer::sync {
namespace {

constexpr int timeout_ms = 2000;                      // per API request
constexpr auto check_every = std::chrono::seconds(1); // appliances listed for lost groups
// Changes the kernel does not announce: its hash sysctls, and some neighbour states (one
// RTM_GETNEIGH per next-hop whose neighbour the kernel checks: Kernel::neighbor).
constexpr auto sysctls_every = std::chrono::milliseconds(20);
constexpr auto backoff_max = std::chrono::milliseconds(5000);

double seconds(Syncer::Clock::duration d) {
    return std::chrono::duration<double>(d).count();
}

void log(const std::string& line) {
    std::printf("ptbsteer-sync: %s\n", line.c_str());
    std::fflush(stdout);
}

} // namespace

Syncer::Syncer(SyncConfig config, std::string token, prometheus::Registry& registry)
    : c_(std::move(config)), token_(std::move(token)),
      events_(prometheus::BuildCounter()
                  .Name("ptbsteer_sync_kernel_events_total")
                  .Help("rtnetlink notifications read, by kind (route, nexthop, link, neighbor, "
                        "overrun)")
                  .Register(registry)),
      groups_(prometheus::BuildGauge()
                  .Name("ptbsteer_sync_groups")
                  .Help("configured groups by what is pushed: unicast (exact), replicate (the "
                        "kernel's choice cannot be known), missing (no route, nothing pushed)")
                  .Register(registry)) {
    dumps_ = &prometheus::BuildCounter()
                  .Name("ptbsteer_sync_kernel_dumps_total")
                  .Help("full reads of the kernel's routes, nexthops, links and neighbours")
                  .Register(registry)
                  .Add({});
    auto& gen = prometheus::BuildGauge()
                    .Name("ptbsteer_sync_appliance_generation")
                    .Help("the configuration generation the appliance answered the last push with")
                    .Register(registry);
    auto& in_sync = prometheus::BuildGauge()
                        .Name("ptbsteer_sync_in_sync")
                        .Help("1 when the appliance serves every group as the kernel holds it now")
                        .Register(registry);
    auto& lag = prometheus::BuildGauge()
                    .Name("ptbsteer_sync_lag_seconds")
                    .Help("from the first kernel notification of the last change to the "
                          "appliance's answer to its push")
                    .Register(registry);
    auto& pushes = prometheus::BuildCounter()
                       .Name("ptbsteer_sync_pushes_total")
                       .Help("group PUTs by result: ok (200), refused (4xx: the body said wrong; "
                             "not retried until the route changes), failed (no answer or 5xx: "
                             "retried with backoff)")
                       .Register(registry);
    for (const Appliance& a : c_.appliances) {
        Remote r;
        r.at = a;
        const prometheus::Labels l = {{"appliance", a.name}};
        r.generation = &gen.Add(l);
        r.in_sync = &in_sync.Add(l);
        r.lag = &lag.Add(l);
        r.ok = &pushes.Add({{"appliance", a.name}, {"result", "ok"}});
        r.refused_n = &pushes.Add({{"appliance", a.name}, {"result", "refused"}});
        r.failed = &pushes.Add({{"appliance", a.name}, {"result", "failed"}});
        remotes_.push_back(std::move(r));
    }
    for (const char* kind : {"route", "nexthop", "link", "neighbor", "overrun"})
        events_.Add({{"kind", kind}});
    said_.resize(c_.groups.size());
}

std::vector<Plan> Syncer::plan_all(const KernelState& state) const {
    std::vector<Plan> out;
    for (const GroupSpec& g : c_.groups)
        out.push_back(plan_group(g, state));
    return out;
}

void Syncer::count(const Events& e) {
    events_.Add({{"kind", "route"}}).Increment(e.route);
    events_.Add({{"kind", "nexthop"}}).Increment(e.nexthop);
    events_.Add({{"kind", "link"}}).Increment(e.link);
    events_.Add({{"kind", "neighbor"}}).Increment(e.neighbor);
    if (e.overrun) events_.Add({{"kind", "overrun"}}).Increment();
}

void Syncer::replan(Kernel& k) {
    dumps_->Increment();
    const KernelState state = k.dump();
    sysctls_ = state.sysctls;
    plans_ = plan_all(state);
    double unicast = 0, replicate = 0, missing = 0;
    for (std::size_t i = 0; i < plans_.size(); ++i) {
        const Plan& p = plans_[i];
        (p.body.is_null() ? missing : p.exact ? unicast : replicate) += 1;
        // Say once why a group is not exact (or missing), and when it is again.
        const std::string said = p.why.empty() ? "exact" : p.why;
        if (said != said_[i])
            log(fmt::format("{}: {}", c_.groups[i].name,
                            p.why.empty()      ? "exact: unicast to the owner"
                            : p.body.is_null() ? "nothing pushed: " + p.why
                                               : "replicate: " + p.why));
        said_[i] = said;
    }
    groups_.Add({{"mode", "unicast"}}).Set(unicast);
    groups_.Add({{"mode", "replicate"}}).Set(replicate);
    groups_.Add({{"mode", "missing"}}).Set(missing);
}

bool Syncer::push_group(Remote& r, const std::string& group, const nlohmann::json& body) {
    const auto t0 = Clock::now();
    // This router's state of the group, or the group's state for every router.
    const std::string path =
        (c_.router.empty() ? "/v1" : "/v1/routers/" + c_.router) + "/groups/" + group;
    const Answer a = call(r.at, token_, "PUT", path, body, timeout_ms);
    if (a.status == 200) {
        r.ok->Increment();
        r.accepted[group] = body;
        r.refused.erase(group);
        if (a.body.is_object() && a.body.contains("generation"))
            r.generation->Set(double(a.body["generation"].get<std::uint64_t>()));
        log(fmt::format("{} -> {}: {} next-hop(s), {}, generation {} ({:.1f} ms)", group, r.at.name,
                        body["next_hops"].size(), body["mode"].get<std::string>(),
                        a.body.value("generation", 0), 1000 * seconds(Clock::now() - t0)));
        return true;
    }
    if (a.status >= 400 && a.status < 500) {
        r.refused_n->Increment();
        r.refused[group] = body;
        log(fmt::format("{} -> {}: refused ({}): {}", group, r.at.name, a.status,
                        a.body.is_null() ? "" : a.body.dump()));
        return true; // the appliance answered: not a reason to back off
    }
    r.failed->Increment();
    log(fmt::format("{} -> {}: {}", group, r.at.name,
                    a.error.empty() ? fmt::format("status {}", a.status) : a.error));
    return false;
}

void Syncer::push(bool force, Clock::time_point changed_at) {
    const auto now = Clock::now();
    for (Remote& r : remotes_) {
        if (!force && now < r.retry_at) continue;
        bool failed = false, all = true, pushed = false;
        for (std::size_t i = 0; i < plans_.size() && !failed; ++i) {
            const Plan& p = plans_[i];
            if (p.body.is_null()) continue; // no route: the appliance keeps what it serves
            const std::string& name = c_.groups[i].name;
            const auto acc = r.accepted.find(name);
            const auto ref = r.refused.find(name);
            const bool has = acc != r.accepted.end() && acc->second == p.body;
            const bool was_refused = ref != r.refused.end() && ref->second == p.body;
            if ((has && !force) || (was_refused && !force)) {
                all &= has;
                continue;
            }
            failed = !push_group(r, name, p.body);
            pushed = true;
            all &= !failed && r.accepted.count(name) && r.accepted[name] == p.body;
        }
        r.reachable = !failed;
        if (failed) {
            r.retry_at = Clock::now() + r.backoff;
            r.backoff = std::min(2 * r.backoff, backoff_max);
        } else {
            r.backoff = std::chrono::milliseconds(100);
            // The lag of the change pushed; a call that had nothing to push keeps it.
            if (pushed) r.lag->Set(seconds(Clock::now() - changed_at));
        }
        r.in_sync->Set(!failed && all ? 1 : 0);
    }
}

void Syncer::check_appliances() {
    for (Remote& r : remotes_) {
        if (r.accepted.empty() || Clock::now() < r.retry_at) continue;
        const Answer a = call(r.at, token_, "GET", "/v1/groups", nullptr, timeout_ms);
        if (a.status != 200 || !a.body.is_object()) continue; // the next push finds out
        std::map<std::string, bool> serves;
        for (const auto& g : a.body.value("groups", nlohmann::json::array()))
            if (g.is_object() && g.value("router", "") == c_.router && !g.value("derived", false))
                serves[g.value("name", "")] = true;
        for (const auto& [name, body] : r.accepted)
            if (!serves.count(name)) {
                log(fmt::format("{} no longer serves {} (restarted?): pushing everything again",
                                r.at.name, name));
                r.accepted.clear();
                r.in_sync->Set(0);
                break;
            }
    }
}

bool Syncer::neighbors_changed(Kernel& k) const {
    for (const Plan& p : plans_)
        for (const auto& [key, valid] : p.neighbors)
            if (neighbor_valid(k.neighbor(key)) != valid) return true;
    return false;
}

void Syncer::run(const std::atomic<bool>& stop) {
    Kernel k(c_.netns);
    replan(k);
    push(true, Clock::now());
    const auto coalesce = std::chrono::milliseconds(c_.coalesce_ms);
    auto next_resync = Clock::now() + std::chrono::seconds(c_.resync);
    auto next_check = Clock::now() + check_every;
    auto next_sysctls = Clock::now() + sysctls_every;
    bool pending = false;
    Clock::time_point first{}, last{};
    while (!stop.load(std::memory_order_relaxed)) {
        pollfd p{k.fd(), POLLIN, 0};
        // Short sleeps: a pending change, a retry and `stop` are noticed within 10 ms.
        if (::poll(&p, 1, pending ? 1 : 10) > 0 && (p.revents & POLLIN)) {
            const Events e = k.drain();
            count(e);
            if (e.total() > 0 || e.overrun) {
                if (!pending) first = Clock::now();
                pending = true;
                last = Clock::now();
            }
        }
        auto now = Clock::now();
        if (now >= next_sysctls) {
            next_sysctls = now + sysctls_every;
            if (!pending && (k.sysctls() != sysctls_ || neighbors_changed(k))) {
                pending = true;
                first = last = now;
            }
        }
        if (pending && (now - last >= coalesce || now - first >= 4 * coalesce)) {
            pending = false;
            replan(k);
            push(false, first);
        } else if (now >= next_resync) {
            next_resync = now + std::chrono::seconds(c_.resync);
            replan(k);
            push(true, now);
        } else if (now >= next_check) {
            next_check = now + check_every;
            // Resilient groups' idle buckets migrate on the kernel's timers, not always with a
            // notification: their tables are read again every second.
            if (std::any_of(plans_.begin(), plans_.end(), [](const Plan& p) {
                    return p.body.is_object() && p.body.value("select", "") == "resilient";
                }))
                replan(k);
            check_appliances();
            push(false, now);
        } else {
            push(false, now); // retries that are due (nothing else is sent)
        }
    }
}

} // namespace ptbsteer::sync
