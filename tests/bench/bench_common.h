// Shared pieces of the benchmarks: a seeded RNG, realistic flow keys, a clock, medians and the
// result table. Benchmarks are never meson test()s: timings on a shared VM are not pass/fail.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "packet/flow_key.h"

namespace ptbsteer::bench {

// splitmix64 (Steele, Lea, Flood 2014): fixed seed, so every run times the same keys.
class Rng {
  public:
    explicit Rng(std::uint64_t seed) : s_(seed) {}
    std::uint64_t next() {
        std::uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    std::uint32_t below(std::uint32_t n) { return static_cast<std::uint32_t>(next() % n); }

  private:
    std::uint64_t s_;
};

enum class Mix { v4, v6, mixed };

inline const char* mix_name(Mix m) {
    return m == Mix::v4 ? "v4" : m == Mix::v6 ? "v6" : "mix";
}

// A client->server flow as decide() hands it to the hash: random addresses, TCP (60 %) or UDP,
// random ports (client port ephemeral, server port from a few services), IPv6 with a random
// 20-bit flow label and Next Header = the L4 protocol.
inline packet::FlowKey random_flow(Rng& r, packet::Family f) {
    packet::FlowKey k;
    k.family = f;
    k.proto = r.below(10) < 6 ? 6 : 17;
    k.first_nexthdr = k.proto;
    k.l4 = packet::L4::ports;
    static constexpr std::uint16_t services[] = {443, 80, 53, 853, 8443, 25};
    k.sport = static_cast<std::uint16_t>(1024 + r.below(64512));
    k.dport = services[r.below(6)];
    const std::size_t n = f == packet::Family::v4 ? 4 : 16;
    for (std::size_t i = 0; i < n; ++i) {
        k.src.b[i] = static_cast<std::uint8_t>(r.next());
        k.dst.b[i] = static_cast<std::uint8_t>(r.next());
    }
    if (f == packet::Family::v6) k.flow_label = static_cast<std::uint32_t>(r.next()) & 0xFFFFF;
    return k;
}

inline std::vector<packet::FlowKey> make_keys(Mix m, std::size_t n, std::uint64_t seed) {
    Rng r(seed);
    std::vector<packet::FlowKey> keys;
    keys.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        packet::Family f = m == Mix::v4     ? packet::Family::v4
                           : m == Mix::v6   ? packet::Family::v6
                           : (r.next() & 1) ? packet::Family::v6
                                            : packet::Family::v4;
        keys.push_back(random_flow(r, f));
    }
    return keys;
}

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

inline double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Results land here so the compiler cannot drop the work being timed.
inline volatile std::uint64_t sink;

struct Options {
    int runs = 11;
    std::size_t count = 0; // keys or frames per run; 0: the benchmark's default
    std::string filter;    // run only cases whose name contains this
};

inline void usage(const char* prog) {
    std::fprintf(stderr,
                 "usage: %s [--runs N] [--count N] [--filter SUBSTRING]\n"
                 "  --runs N      timed runs per case (median reported), default 11\n"
                 "  --count N     keys/frames per run\n"
                 "  --filter S    only cases whose name contains S (e.g. for callgrind)\n",
                 prog);
}

// Parses our options; stops at "--" so the rest can go elsewhere (e.g. the EAL).
inline Options parse_options(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        auto value = [&]() -> const char* {
            if (i + 1 >= argc) {
                usage(argv[0]);
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--runs")
            o.runs = std::max(1, std::atoi(value()));
        else if (a == "--count")
            o.count = std::strtoull(value(), nullptr, 10);
        else if (a == "--filter")
            o.filter = value();
        else {
            usage(argv[0]);
            std::exit(a == "--help" || a == "-h" ? 0 : 2);
        }
    }
    return o;
}

inline bool selected(const Options& o, const std::string& name) {
    return o.filter.empty() || name.find(o.filter) != std::string::npos;
}

inline void print_header(const char* unit) {
    std::printf("%-34s %10s %10s %10s %10s\n", "case", (std::string("ns/") + unit).c_str(),
                "min ns", "max ns", unit[0] == 'k' ? "Mkeys/s" : "Mpps");
}

// Times `runs` passes of body() over `count` items (after one untimed warm-up pass) and prints
// the median, min and max per item.
template <class Body>
double time_case(const std::string& name, const Options& o, std::size_t count, Body body) {
    body(); // warm caches, branch predictors and page mappings
    std::vector<double> per_item;
    per_item.reserve(static_cast<std::size_t>(o.runs));
    for (int r = 0; r < o.runs; ++r) {
        const auto t0 = Clock::now();
        body();
        per_item.push_back(seconds_since(t0) * 1e9 / static_cast<double>(count));
    }
    const double med = median(per_item);
    std::printf("%-34s %10.2f %10.2f %10.2f %10.2f\n", name.c_str(), med,
                *std::min_element(per_item.begin(), per_item.end()),
                *std::max_element(per_item.begin(), per_item.end()), 1e3 / med);
    std::fflush(stdout);
    return med;
}

} // namespace ptbsteer::bench
