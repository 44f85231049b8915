// Benchmark: hash + next-hop selection per flow key (the per-packet work of steer::Group after
// the prefix lookup). Keys are built before timing; each case reports the median of --runs
// passes. Not a test: see docs/performance.md for how to run it and what the numbers were.
//
// Before timing, every model's hash of every key is checked against a reference built from
// the slow, byte-image code paths (the kernel's flow_keys image for `linux`, the documented
// byte strings for toeplitz and crc32c), so an optimisation that changes a hash fails loudly.
#include <array>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "bench_common.h"
#include "hash/crc32c.h"
#include "hash/hash_model.h"
#include "hash/jhash.h"
#include "hash/linux_flow_keys.h"
#include "hash/toeplitz.h"
#include "steer/select.h"

namespace ptbsteer::bench {
namespace {

using hash::Model;
using packet::FlowKey;

constexpr std::uint32_t seed = 0x12345678;

struct ModelCase {
    std::string name;
    Model model;
};

std::vector<ModelCase> models() {
    std::vector<ModelCase> m;
    for (std::uint8_t policy : {0, 1, 3})
        m.push_back({"linux-p" + std::to_string(policy),
                     Model::linux_kernel({seed, policy, hash::five_tuple})});
    m.push_back({"toeplitz", Model::toeplitz({hash::default_rss_key(), hash::five_tuple})});
    m.push_back({"crc32c", Model::crc32c({0xffffffff, hash::five_tuple})});
    return m;
}

// --- references (slow on purpose: byte images, no shortcuts) ---------------------------------

std::uint32_t linux_reference(const FlowKey& k, std::uint8_t policy) {
    const std::uint64_t key = hash::linux_siphash_key_word(seed);
    hash::LinuxKeyImage img = hash::linux_flow_keys(k, policy, hash::five_tuple);
    hash::linux_consistentify(img);
    const std::uint32_t h = hash::linux_flow_hash(img, key, key);
    return policy == 3 ? hash::jhash_2words(h, 0, 0) : h;
}

std::vector<std::uint8_t> tuple_bytes(const FlowKey& k, bool with_proto_label) {
    const std::size_t n = k.family == packet::Family::v4 ? 4 : 16;
    std::vector<std::uint8_t> b(k.src.b.begin(), k.src.b.begin() + n);
    b.insert(b.end(), k.dst.b.begin(), k.dst.b.begin() + n);
    if (with_proto_label) b.push_back(k.proto); // five_tuple has no flow_label bit
    for (std::uint16_t p : {k.sport, k.dport}) {
        b.push_back(static_cast<std::uint8_t>(p >> 8));
        b.push_back(static_cast<std::uint8_t>(p));
    }
    return b;
}

std::uint32_t reference(const std::string& name, const FlowKey& k) {
    if (name == "toeplitz") {
        const auto key = hash::default_rss_key();
        const auto b = tuple_bytes(k, false);
        return hash::toeplitz(std::span<const std::uint8_t, 40>(key), b);
    }
    if (name == "crc32c") return hash::crc32c_update_portable(0xffffffff, tuple_bytes(k, true));
    return linux_reference(k, static_cast<std::uint8_t>(name.back() - '0'));
}

bool verify(const std::vector<ModelCase>& ms, const std::vector<FlowKey>& keys) {
    bool ok = true;
    for (const ModelCase& m : ms) {
        std::size_t bad = 0;
        for (const FlowKey& k : keys)
            if (m.model.hash(k) != reference(m.name, k)) ++bad;
        if (bad) {
            std::fprintf(stderr, "MISMATCH: %s differs from its reference on %zu of %zu keys\n",
                         m.name.c_str(), bad, keys.size());
            ok = false;
        }
    }
    return ok;
}

// --- the timed loop ---------------------------------------------------------------------------

// noinline: one symbol for callgrind's --toggle-collect, and the same code for every case.
[[gnu::noinline]] std::uint64_t hash_and_select(const Model& m, const steer::Selector& sel,
                                                std::span<const FlowKey> keys) {
    std::uint64_t acc = 0;
    for (const FlowKey& k : keys)
        acc += sel.select(m.hash(k));
    return acc;
}

} // namespace
} // namespace ptbsteer::bench

int main(int argc, char** argv) {
    using namespace ptbsteer::bench;
    const Options o = parse_options(argc, argv);
    const std::size_t count = o.count ? o.count : 65536;

    const std::array<std::uint32_t, 8> weights{1, 1, 1, 1, 1, 1, 1, 1};
    const auto sel =
        ptbsteer::steer::Selector::build(ptbsteer::steer::SelectKind::hash_threshold, weights);
    const std::vector<ModelCase> ms = models();
    const std::vector<ptbsteer::packet::FlowKey> keys[] = {make_keys(Mix::v4, count, 1),
                                                           make_keys(Mix::v6, count, 2),
                                                           make_keys(Mix::mixed, count, 3)};

    if (!verify(ms, keys[2])) return 1;

    std::printf("hash + hash_threshold select over 8 next-hops, %zu keys per run, median of %d\n",
                count, o.runs);
    print_header("key");
    for (const ModelCase& m : ms)
        for (Mix mix : {Mix::v4, Mix::v6, Mix::mixed}) {
            const std::string name = m.name + "/" + mix_name(mix);
            if (!selected(o, name)) continue;
            const auto& ks = keys[static_cast<int>(mix)];
            time_case(name, o, ks.size(), [&] { sink = sink + hash_and_select(m.model, sel, ks); });
        }
    return 0;
}
