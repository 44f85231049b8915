// Catch2 main for tests that need DPDK: initialise the EAL once without hugepages, devices or
// telemetry, run the tests, clean the EAL up.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>
#include <vector>

#include <rte_eal.h>
#include <rte_errno.h>

int main(int argc, char* argv[]) {
    // Every flag exists in DPDK 22.11 (doc/guides/linux_gsg/linux_eal_parameters.rst):
    // --no-huge with -m: anonymous memory instead of hugepages; --no-pci: no device probing;
    // --file-prefix: runtime files of our own, so we never attach to another DPDK process;
    // --no-telemetry: no telemetry socket thread.
    char prog[] = "unit-dpdk-tests";
    char no_huge[] = "--no-huge";
    char mem_flag[] = "-m";
    char mem_size[] = "512"; // reload_test.cpp holds up to three 65 MiB rte_lpm tables
    char no_pci[] = "--no-pci";
    char prefix[] = "--file-prefix=ptbsteer-unit-dpdk";
    char no_telemetry[] = "--no-telemetry";
    char log_level[] = "--log-level=lib.eal:error";
    std::vector<char*> eal_argv = {prog,   no_huge, mem_flag,     mem_size,
                                   no_pci, prefix,  no_telemetry, log_level};
    if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
        std::fprintf(stderr, "rte_eal_init failed: %s\n", rte_strerror(rte_errno));
        return 2;
    }
    const int failed = Catch::Session().run(argc, argv);
    rte_eal_cleanup();
    return failed;
}
