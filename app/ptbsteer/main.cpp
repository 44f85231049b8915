// ptbsteer: the appliance. Glue only; the work lives in lib/.
#include <cstdio>

#include <fmt/format.h>

#include "cli.h"

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
        fmt::print("ptbsteer {}\n", PTBSTEER_VERSION);
        return 0;
    }
    // The configuration loader and the dataplane arrive with the appliance issue; until then the
    // binary refuses honestly instead of pretending to run.
    fmt::print(stderr, "ptbsteer: {}: configuration loading is not implemented yet\n",
               opt.config_path);
    return 1;
}
