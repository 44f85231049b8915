// The appliance's optional sections: limits (the rate limiters), metrics, capture.
#include <fmt/format.h>

#include "config/loader_sections.h"

namespace ptbsteer::config::detail {

// `limits:` — each limiter is {rate, burst} or `off`.
void Loader::limits(const Node& n) {
    if (!n) return;
    Map m(r, n, "limits", {"per_source", "global", "replication", "source_slots"});
    rate_limit(m.get("per_source"), "per_source", cfg.limits.per_source);
    rate_limit(m.get("global"), "global", cfg.limits.global);
    rate_limit(m.get("replication"), "replication", cfg.limits.replication);
    if (Node s = m.get("source_slots"))
        if (auto x = r.unsigned_in(s, "source_slots", 1, 1u << 24))
            cfg.limits.source_slots = std::uint32_t(*x);
}

// `neighbors:` — the reachable time and the per-next-hop queue of next-hops given by `via`.
void Loader::neighbors(const Node& n) {
    if (!n) return;
    Map m(r, n, "neighbors", {"reachable_time", "unres_qlen"});
    if (Node t = m.get("reachable_time"))
        if (auto x = r.unsigned_in(t, "reachable_time (seconds)", 5, 3600))
            cfg.neighbors.reachable_time = std::uint32_t(*x);
    if (Node q = m.get("unres_qlen"))
        if (auto x = r.unsigned_in(q, "unres_qlen", 0, 64))
            cfg.neighbors.unres_qlen = std::uint32_t(*x);
}

// `simd:` — the SIMD path that hashes a burst's Linux flows side by side (datapath/burst.h):
// `auto` (the best this CPU runs) or one forced. A path the CPU cannot run is refused here, not
// replaced by another: the operator asked for that one.
void Loader::simd(const Node& n) {
    if (!n) return;
    const auto v = r.choice(n, "simd", simd_path_names);
    if (!v) return;
    if (!hash::simd_path_supported(*v)) {
        r.error(n, fmt::format("simd: this CPU cannot run the {} path; the best it runs is {}",
                               hash::simd_path_name(*v),
                               hash::simd_path_name(hash::best_simd_path())));
        return;
    }
    cfg.simd = *v;
}

void Loader::rate_limit(const Node& n, std::string_view what, RateLimit& out) {
    if (!n) return;
    if (n.IsScalar() && n.Scalar() == "off") {
        out = RateLimit{0, 0};
        return;
    }
    Map m(r, n, fmt::format("limits.{}", what), {"rate", "burst"});
    if (!m.valid()) return;
    if (auto x = r.unsigned_in(m.get("rate", true), "rate (per second; write `off` for no limit)",
                               1, std::uint64_t(1) << 32))
        out.rate = *x;
    if (Node b = m.get("burst"))
        if (auto x = r.unsigned_in(b, "burst", 1, std::uint64_t(1) << 32)) out.burst = *x;
}

void Loader::metrics(const Node& n) {
    if (!n) return;
    Map m(r, n, "metrics", {"listen", "reload"});
    if (Node l = m.get("listen"))
        if (auto s = r.string(l, "listen")) cfg.metrics.listen = *s;
    if (Node a = m.get("reload"))
        if (auto v = r.choice(a, "reload", reload_access_names)) cfg.metrics.reload = *v;
}

// `control:` — the control API. Given at all, it is on; the token file is required (its
// permissions are checked when the listener starts: lib/api).
void Loader::control(const Node& n) {
    if (!n) return;
    Map m(r, n, "control", {"listen", "token_file", "capture_dir"});
    if (!m.valid()) return;
    cfg.control.enabled = true;
    if (Node l = m.get("listen"))
        if (auto s = r.string(l, "listen")) {
            if (s->empty()) r.error(l, "control listen must be ADDRESS:PORT (e.g. 127.0.0.1:9470)");
            cfg.control.listen = *s;
        }
    if (auto s = r.string(m.get("token_file", true), "token_file")) {
        if (s->empty()) r.error(m.get("token_file"), "token_file must name a file");
        cfg.control.token_file = *s;
    }
    if (Node d = m.get("capture_dir"))
        if (auto s = r.string(d, "capture_dir")) {
            if (!s->starts_with('/')) r.error(d, "capture_dir must be an absolute directory path");
            cfg.control.capture_dir = *s;
        }
}

void Loader::capture(const Node& n) {
    if (!n) return;
    Map m(r, n, "capture", {"file", "what", "max_bytes"});
    if (!m.valid()) return;
    if (auto s = r.string(m.get("file", true), "capture file")) {
        if (s->empty()) r.error(m.get("file"), "capture file must name a file");
        cfg.capture.file = *s;
    }
    if (Node w = m.get("what"))
        if (auto v = r.choice(w, "what", capture_what_names)) cfg.capture.what = *v;
    if (Node b = m.get("max_bytes"))
        if (auto v = r.unsigned_in(b, "max_bytes", capture_min_bytes, capture_max_bytes))
            cfg.capture.max_bytes = *v;
}

} // namespace ptbsteer::config::detail
