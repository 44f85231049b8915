// ptbsteer: the appliance. Glue only; the work lives in lib/.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <malloc.h>
#include <sys/resource.h>

#include <fmt/format.h>
#include <rte_version.h>

#include "api/auth.h"
#include "api/server.h"
#include "cli.h"
#include "config/config.h"
#include "control/appliance.h"
#include "metrics/server.h"
#include "metrics/telemetry.h"

namespace {

// Each connection a listener holds is a file descriptor: the default soft limit (1024) would
// let a few hundred stalled clients stop the metrics and API listeners from accepting at all.
// Raised to the hard limit (at most 65536); a failure only leaves the default.
void raise_fd_limit() {
    rlimit l{};
    if (::getrlimit(RLIMIT_NOFILE, &l) != 0) return;
    const rlim_t want = l.rlim_max == RLIM_INFINITY ? 65536 : std::min<rlim_t>(l.rlim_max, 65536);
    if (l.rlim_cur < want) {
        l.rlim_cur = want;
        (void)::setrlimit(RLIMIT_NOFILE, &l);
    }
}

// Every group update builds tables of a few MB (a 4096-next-hop group: 4096 x NextHopOut, the
// config copies) and frees the previous ones. glibc serves blocks over 128 KiB from fresh mmap
// pages, so each update paid a page fault per 4 KiB (9 % of a PUT's time in perf); kept in the
// heap instead, the same pages serve the next update. Control-plane memory only.
void keep_freed_memory() {
    (void)::mallopt(M_MMAP_THRESHOLD, 32 << 20);
    (void)::mallopt(M_TRIM_THRESHOLD, 256 << 20);
}

} // namespace

int main(int argc, char** argv) {
    ptbsteer::app::Options opt;
    if (const std::string err = ptbsteer::app::parse_cli(argc, argv, opt); !err.empty()) {
        fmt::print(stderr, "ptbsteer: {}\n", err);
        return 2;
    }
    if (opt.show_help) {
        ptbsteer::app::print_usage(argv[0]);
        return 0;
    }
    if (opt.show_version) {
        fmt::print("ptbsteer {} ({})\n", PTBSTEER_VERSION, rte_version());
        return 0;
    }
    const ptbsteer::config::LoadResult loaded = ptbsteer::config::load_config_file(opt.config_path);
    for (const auto& e : loaded.errors)
        fmt::print(stderr, "{}\n", ptbsteer::config::to_string(e));
    if (!loaded.config) {
        fmt::print(stderr, "ptbsteer: {}: {} error(s); configuration refused\n", opt.config_path,
                   loaded.errors.size());
        return 1;
    }
    const ptbsteer::config::Config& cfg = *loaded.config;
    // A control API without a usable token would either refuse every client or trust anyone
    // who can read the file: refuse to start instead (before the EAL takes any resource).
    if (cfg.control.enabled) {
        try {
            (void)ptbsteer::api::read_token(cfg.control.token_file);
        } catch (const std::exception& e) {
            fmt::print(stderr, "ptbsteer: {}\n", e.what());
            return 1;
        }
    }
    std::size_t hops = 0;
    for (const auto& g : cfg.groups)
        hops += g.next_hops.size();
    if (opt.check_only) {
        fmt::print("{}: valid: {} port(s), {} lcore(s), {} group(s), {} next-hop(s)\n",
                   opt.config_path, cfg.ports.size(), cfg.lcores.size(), cfg.groups.size(), hops);
        return 0;
    }
    raise_fd_limit();
    keep_freed_memory();
    // Taken before the EAL starts: this is the start time the metrics report.
    const double started =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    ptbsteer::control::RunOptions run{
        opt.config_path, opt.eal_args, [started](const ptbsteer::control::Runtime& rt) {
            // The listeners and the telemetry commands live until the lcores stop; each
            // listener announces itself on its own line.
            auto metrics = ptbsteer::metrics::start_metrics(rt, {PTBSTEER_VERSION, started});
            auto api = ptbsteer::api::start_api(rt);
            std::string announce = metrics.announce;
            if (!api.announce.empty())
                announce += (announce.empty() ? "" : "\nptbsteer: ") + api.announce;
            using Holders = std::vector<std::shared_ptr<void>>;
            auto holders =
                std::make_shared<Holders>(Holders{std::move(metrics.holder), std::move(api.holder),
                                                  ptbsteer::metrics::start_telemetry(rt)});
            return ptbsteer::control::Observation{std::move(holders), std::move(announce)};
        }};
    return ptbsteer::control::run_appliance(cfg, run);
}
