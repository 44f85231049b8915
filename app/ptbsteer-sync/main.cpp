// ptbsteer-sync: keeps ptbsteer's groups identical to a Linux router's live ECMP state
// (docs/router-sync.md). Runs on the router (or beside it, reading its network namespace):
// reads the kernel over rtnetlink, never changes it, and pushes each group through the
// appliances' authenticated control API.
#include <csignal>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <string_view>

#include <civetweb.h>
#include <fmt/format.h>
#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include "api/auth.h"
#include "sync/kernel.h"
#include "sync/plan.h"
#include "sync/sync_config.h"
#include "sync/syncer.h"

namespace {

std::atomic<bool> g_stop{false};

void on_signal(int) {
    g_stop = true;
}

struct Options {
    std::string config;
    bool check = false, once = false, help = false, version = false;
};

std::string parse(int argc, char** argv, Options& o) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--help" || a == "-h")
            o.help = true;
        else if (a == "--version")
            o.version = true;
        else if (a == "--check")
            o.check = true;
        else if (a == "--once")
            o.once = true;
        else if ((a == "--config" || a == "-c") && i + 1 < argc)
            o.config = argv[++i];
        else
            return fmt::format("unknown option '{}' (see --help)", a);
    }
    if (!o.help && !o.version && o.config.empty())
        return "no configuration given: use --config FILE";
    return {};
}

void usage() {
    std::puts("usage: ptbsteer-sync --config FILE [--check | --once]\n"
              "  --check   read the configuration, print every mistake (file:line:column), exit\n"
              "  --once    read the kernel once and print what each group would be pushed as\n"
              "            (JSON, one object per group), without pushing anything\n"
              "  --version print the version\n"
              "Without --check or --once: follow the kernel and push every change until SIGTERM.\n"
              "See docs/router-sync.md.");
}

// --once: the plans as JSON lines, for operators and tests.
int once(const ptbsteer::sync::SyncConfig& c) {
    ptbsteer::sync::Kernel k(c.netns);
    const ptbsteer::sync::KernelState state = k.dump();
    for (const ptbsteer::sync::GroupSpec& g : c.groups) {
        const ptbsteer::sync::Plan p = ptbsteer::sync::plan_group(g, state);
        nlohmann::json j = {{"group", g.name}, {"found", p.found}, {"exact", p.exact}};
        if (!p.why.empty()) j["why"] = p.why;
        if (!p.body.is_null()) j["body"] = p.body;
        std::puts(j.dump().c_str());
    }
    return 0;
}

int follow(const ptbsteer::sync::SyncConfig& c) {
    const std::string token = ptbsteer::api::read_token(c.token_file);
    auto registry = std::make_shared<prometheus::Registry>();
    std::unique_ptr<prometheus::Exposer> exposer;
    if (!c.listen.empty()) {
        exposer = std::make_unique<prometheus::Exposer>(c.listen, 2);
        exposer->RegisterCollectable(registry);
        const auto ports = exposer->GetListeningPorts();
        std::printf("ptbsteer-sync: metrics on http://%s/metrics\n",
                    ports.empty() ? c.listen.c_str()
                                  : fmt::format("{}:{}", c.listen.substr(0, c.listen.rfind(':')),
                                                ports.front())
                                        .c_str());
    }
    std::printf("ptbsteer-sync: following %s (%zu group(s)), pushing to %zu appliance(s)\n",
                c.netns.empty() ? "this network namespace"
                                : ("network namespace " + c.netns).c_str(),
                c.groups.size(), c.appliances.size());
    std::fflush(stdout);
    ptbsteer::sync::Syncer s(c, token, *registry);
    s.run(g_stop);
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    Options o;
    if (const std::string err = parse(argc, argv, o); !err.empty()) {
        std::fprintf(stderr, "ptbsteer-sync: %s\n", err.c_str());
        return 2;
    }
    if (o.help) {
        usage();
        return 0;
    }
    if (o.version) {
        std::printf("ptbsteer-sync %s\n", PTBSTEER_VERSION);
        return 0;
    }
    const ptbsteer::sync::SyncLoad loaded = ptbsteer::sync::load_sync_config_file(o.config);
    if (!loaded.config) {
        for (const auto& e : loaded.errors)
            std::fprintf(stderr, "%s\n", ptbsteer::config::to_string(e).c_str());
        return 1;
    }
    if (o.check) {
        std::printf("%s: valid (%zu group(s), %zu appliance(s))\n", o.config.c_str(),
                    loaded.config->groups.size(), loaded.config->appliances.size());
        return 0;
    }
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    mg_init_library(0);
    try {
        return o.once ? once(*loaded.config) : follow(*loaded.config);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ptbsteer-sync: %s\n", e.what());
        return 1;
    }
}
