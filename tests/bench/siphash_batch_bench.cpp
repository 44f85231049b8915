// Benchmark: the Linux flow hash of a burst of 32 flows (IPv4, IPv6), one hash model per flow's
// group, on each path: scalar (Model::hash, flow by flow, as decide() does) and the SIMD lanes
// of siphash_batch.h (AVX2: 4 lanes, AVX-512F: 8), filling the lanes included (Model::lane,
// the SipLanesFn, Model::from_lane), as datapath/burst.cpp does. Reports ns per hash, median
// of --runs passes. Not a test: see docs/performance.md. Paths the CPU lacks are skipped.
//
// 2,048 flows are reused, so the timing is of the hashing, not of cache misses. Before timing,
// every path's hashes are checked against the scalar model's.
//
// Instructions per hash (flow key): BENCH=siphash-batch-bench TOGGLE='*hash_bursts*' UNIT=key
//   tests/bench/callgrind_per_key.sh BUILD scalar/v4 scalar/v6 avx2/v4 avx2/v6
// valgrind 3.19 does not emulate AVX-512 and hides it from CPUID, so under it the avx512 cases
// report "skipped" (the dispatcher sees no AVX-512F).
#include <array>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bench_common.h"
#include "hash/hash_model.h"
#include "hash/siphash_batch.h"

namespace ptbsteer::bench {
namespace {

using hash::SimdPath;

constexpr std::size_t burst = 32;
constexpr std::size_t pool = burst * 64;

// Flows and the model of each flow's group (8 groups, linux policy 1, their own seeds).
struct Inputs {
    std::vector<packet::FlowKey> keys;
    std::vector<hash::Model> models;
    std::vector<const hash::Model*> model_of;
};

Inputs make_inputs(packet::Family f) {
    Inputs in;
    in.keys = make_keys(f == packet::Family::v4 ? Mix::v4 : Mix::v6, pool, 23);
    for (std::uint32_t g = 0; g < 8; ++g)
        in.models.push_back(
            hash::Model::linux_kernel({.seed = 0x9e3779b1u * (g + 1), .policy = 1}));
    Rng r(5);
    for (std::size_t i = 0; i < pool; ++i)
        in.model_of.push_back(&in.models[r.below(8)]);
    return in;
}

// Hashes `count` flows in bursts; fn null: the scalar model flow by flow.
[[gnu::always_inline]] inline std::uint64_t hash_flows(hash::SipLanesFn fn, const Inputs& in,
                                                       std::size_t count, hash::SipLanes& lanes,
                                                       std::uint32_t* out) {
    std::uint64_t acc = 0;
    alignas(64) std::uint64_t sip[hash::SipLanes::lanes];
    for (std::size_t done = 0; done < count; done += burst) {
        const std::size_t at = done % pool;
        if (!fn) {
            for (std::size_t j = 0; j < burst; ++j)
                out[at + j] = in.model_of[at + j]->hash(in.keys[at + j]);
        } else {
            for (std::size_t j = 0; j < burst; ++j)
                in.model_of[at + j]->lane(in.keys[at + j], lanes, j);
            fn(lanes, burst, hash::linux_lane_words(in.keys[at].family), sip);
            for (std::size_t j = 0; j < burst; ++j)
                out[at + j] = in.model_of[at + j]->from_lane(sip[j]);
        }
        acc += out[at];
    }
    return acc;
}

// The timed loop: noinline, one symbol for callgrind's --toggle-collect (verify() below runs
// the same loop under another name, so it is not counted).
[[gnu::noinline]] std::uint64_t hash_bursts(hash::SipLanesFn fn, const Inputs& in,
                                            std::size_t count, hash::SipLanes& lanes,
                                            std::uint32_t* out) {
    return hash_flows(fn, in, count, lanes, out);
}

bool verify(const Inputs& in, hash::SipLanes& lanes) {
    std::vector<std::uint32_t> want(pool), got(pool);
    hash_flows(nullptr, in, pool, lanes, want.data());
    bool ok = true;
    for (SimdPath p : {SimdPath::scalar, SimdPath::avx2, SimdPath::avx512}) {
        const auto impl = hash::siphash24_batch_for(p);
        if (!impl) continue;
        hash_flows(impl->fn, in, pool, lanes, got.data());
        if (got != want) {
            std::fprintf(stderr, "MISMATCH: %s lanes differ from the scalar model\n",
                         hash::simd_path_name(p));
            ok = false;
        }
    }
    return ok;
}

} // namespace
} // namespace ptbsteer::bench

int main(int argc, char** argv) {
    using namespace ptbsteer::bench;
    namespace hash = ptbsteer::hash;
    const Options o = parse_options(argc, argv);
    const std::size_t count = (o.count ? o.count : 65536) / burst * burst;
    auto lanes = std::make_unique<hash::SipLanes>();
    const Inputs v4 = make_inputs(ptbsteer::packet::Family::v4);
    const Inputs v6 = make_inputs(ptbsteer::packet::Family::v6);
    if (!verify(v4, *lanes) || !verify(v6, *lanes)) return 1;

    std::vector<std::uint32_t> out(pool);
    std::printf("Linux flow hash (policy 1), bursts of %zu, %zu hashes per run, median of %d;"
                " best path here: %s\n",
                burst, count, o.runs, hash::simd_path_name(hash::best_simd_path()));
    print_header("key"); // one flow key hashed
    // "scalar": Model::hash flow by flow; "lanes-portable": the lanes hashed by the portable
    // loop (what a CPU without AVX2 would run if it used lanes: it does not, burst.h).
    struct Case {
        const char* name;
        SimdPath path;
        bool lanes;
    };
    for (const Case c :
         {Case{"scalar", SimdPath::scalar, false}, Case{"lanes-portable", SimdPath::scalar, true},
          Case{"avx2", SimdPath::avx2, true}, Case{"avx512", SimdPath::avx512, true}}) {
        const auto impl = hash::siphash24_batch_for(c.path);
        for (auto [fam, in] : {std::pair{"v4", &v4}, std::pair{"v6", &v6}}) {
            const std::string name = std::string(c.name) + "/" + fam;
            if (!selected(o, name)) continue;
            if (!impl) {
                std::printf("%-34s skipped: this CPU lacks it\n", name.c_str());
                continue;
            }
            const hash::SipLanesFn fn = c.lanes ? impl->fn : nullptr;
            time_case(name, o, count,
                      [&] { sink = sink + hash_bursts(fn, *in, count, *lanes, out.data()); });
        }
    }
    return 0;
}
