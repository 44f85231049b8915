// Command-line options of the appliance binary.
#pragma once

#include <string>
#include <vector>

namespace ptbsteer::app {

struct Options {
    std::string config_path;
    bool check_only = false;
    bool show_version = false;
    bool show_help = false;
    std::vector<std::string> eal_args; // everything after "--", passed to rte_eal_init
};

// Returns an error sentence, or an empty string when `out` is usable.
std::string parse_cli(int argc, char** argv, Options& out);
void print_usage(const char* prog);

} // namespace ptbsteer::app
