#include "cli.h"

#include <string_view>

#include <fmt/format.h>

namespace ptbsteer::app {

std::string parse_cli(int argc, char** argv, Options& out) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--") {
            out.eal_args.assign(argv + i + 1, argv + argc);
            break;
        }
        if (a == "--help" || a == "-h") {
            out.show_help = true;
        } else if (a == "--version") {
            out.show_version = true;
        } else if (a == "--check") {
            out.check_only = true;
            // `ptbsteer --check FILE`, as users type it: a following non-option is the file.
            if (i + 1 < argc && argv[i + 1][0] != '-' && out.config_path.empty())
                out.config_path = argv[++i];
        } else if (a == "--config" || a == "-c") {
            if (i + 1 >= argc) return "--config needs a file name";
            out.config_path = argv[++i];
        } else if (a.starts_with("--config=")) {
            out.config_path = std::string(a.substr(9));
        } else {
            return fmt::format("unknown option '{}' (see --help)", a);
        }
    }
    if (!out.show_help && !out.show_version && out.config_path.empty())
        return "no configuration given: use --config FILE";
    return {};
}

void print_usage(const char* prog) {
    fmt::print(
        "Usage: {} --config FILE [-- EAL-ARGS...]\n"
        "       {} --check FILE\n"
        "Steers ICMP Packet Too Big messages to the server that owns the flow.\n\n"
        "  -c, --config FILE  YAML configuration (ports, lcores, groups, next-hops)\n"
        "      --check [FILE] validate the configuration and exit: 0 if valid, 1 with every error\n"
        "      --version      print the version (and DPDK's) and exit\n"
        "  -h, --help         this text\n"
        "  -- EAL-ARGS        extra DPDK EAL arguments; they win over the config's eal: list\n",
        prog, prog);
}

} // namespace ptbsteer::app
