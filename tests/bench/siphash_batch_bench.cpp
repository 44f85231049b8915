// Benchmark: SipHash-2-4 of a burst of 32 flow_keys images (48 bytes IPv4, 72 bytes IPv6), one
// key per message, through each path of siphash_batch.h: scalar (siphash24 per message), AVX2
// (4 lanes) and AVX-512F (8 lanes). Reports ns per hash, median of --runs passes. Not a test:
// see docs/performance.md. Paths the CPU lacks are skipped.
//
// The images and keys of 64 bursts (2048 messages, ~230 KB with pointers, keys and results) are
// reused, so the timing is of the hashing, not of cache misses. Before timing, every path's
// results are checked against the scalar path.
//
// Instructions per hash (flow key): BENCH=siphash-batch-bench TOGGLE='*hash_bursts*' UNIT=key
//   tests/bench/callgrind_per_key.sh BUILD scalar/v4 scalar/v6 avx2/v4 avx2/v6
// valgrind 3.19 does not emulate AVX-512 and hides it from CPUID, so under it the avx512 cases
// report "skipped" (the dispatcher sees no AVX-512F).
#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include "bench_common.h"
#include "hash/linux_flow_keys.h"
#include "hash/siphash_batch.h"

namespace ptbsteer::bench {
namespace {

using hash::SimdPath;

constexpr std::size_t burst = 32;
constexpr std::size_t pool_bursts = 64;
constexpr std::size_t pool = burst * pool_bursts;

// A burst's inputs as the RX path would gather them: a key per message (its group's seed,
// k0 == k1 as fib_multipath_hash_construct_key builds it) and a pointer to each image's hashed
// bytes. Images are LinuxKeyImage-sized and 8-byte aligned, as the kernel's flow_keys.
struct Inputs {
    std::vector<std::array<std::uint8_t, hash::LinuxKeyLayout::size>> images;
    std::vector<std::uint64_t> keys;
    std::vector<const std::uint8_t*> msgs;
};

Inputs make_inputs() {
    Rng r(23);
    Inputs in;
    in.images.resize(pool);
    for (auto& img : in.images)
        for (auto& b : img)
            b = static_cast<std::uint8_t>(r.next());
    for (std::size_t i = 0; i < pool; ++i) {
        in.keys.push_back(hash::linux_siphash_key_word(static_cast<std::uint32_t>(r.below(8))));
        in.msgs.push_back(in.images[i].data() + hash::LinuxKeyLayout::hash_start);
    }
    return in;
}

// noinline: one symbol for callgrind's --toggle-collect. Hashes `count` messages in bursts.
[[gnu::noinline]] std::uint64_t hash_bursts(hash::Siphash24BatchFn fn, const Inputs& in,
                                            std::size_t len, std::size_t count,
                                            std::uint64_t* out) {
    std::uint64_t acc = 0;
    for (std::size_t done = 0; done < count; done += burst) {
        const std::size_t at = done % pool;
        fn(burst, &in.keys[at], &in.keys[at], &in.msgs[at], len, out + at);
        acc += out[at];
    }
    return acc;
}

bool verify(const Inputs& in) {
    std::vector<std::uint64_t> want(pool), got(pool);
    bool ok = true;
    for (std::size_t len : {hash::LinuxKeyLayout::v4_hash_len, hash::LinuxKeyLayout::v6_hash_len}) {
        hash::siphash24_batch_scalar(pool, in.keys.data(), in.keys.data(), in.msgs.data(), len,
                                     want.data());
        for (SimdPath p : {SimdPath::avx2, SimdPath::avx512}) {
            const auto impl = hash::siphash24_batch_for(p);
            if (!impl) continue;
            impl->fn(pool, in.keys.data(), in.keys.data(), in.msgs.data(), len, got.data());
            if (got != want) {
                std::fprintf(stderr, "MISMATCH: %s differs from scalar at length %zu\n",
                             hash::simd_path_name(p), len);
                ok = false;
            }
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
    const Inputs in = make_inputs();
    if (!verify(in)) return 1;

    std::vector<std::uint64_t> out(pool);
    std::printf("SipHash-2-4, bursts of %zu, a key per message, %zu hashes per run, median of %d;"
                " best path here: %s\n",
                burst, count, o.runs, hash::simd_path_name(hash::best_simd_path()));
    print_header("key"); // one flow key hashed
    for (SimdPath p : {SimdPath::scalar, SimdPath::avx2, SimdPath::avx512}) {
        const auto impl = hash::siphash24_batch_for(p);
        for (auto [fam, len] : {std::pair{"v4", hash::LinuxKeyLayout::v4_hash_len},
                                std::pair{"v6", hash::LinuxKeyLayout::v6_hash_len}}) {
            const std::string name = std::string(hash::simd_path_name(p)) + "/" + fam;
            if (!selected(o, name)) continue;
            if (!impl) {
                std::printf("%-34s skipped: this CPU lacks it\n", name.c_str());
                continue;
            }
            time_case(name, o, count,
                      [&] { sink = sink + hash_bursts(impl->fn, in, len, count, out.data()); });
        }
    }
    return 0;
}
