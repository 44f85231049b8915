// Hash models over FlowKeys: the Linux flow_keys image and hash (reference vector from
// shared/reference/linux-multipath-hash.md, next-hops observed from a running kernel), the RSS
// Toeplitz model against the Microsoft suite, and the CRC32C model's byte layout.
#include <catch2/catch.hpp>

#include <rte_hash_crc.h>

#include <array>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

#include "hash/hash_model.h"
#include "hash/jhash.h"
#include "hash/linux_flow_keys.h"
#include "hash/siphash.h"

using namespace ptbsteer;
using namespace ptbsteer::hash;
using packet::Family;
using packet::FlowKey;
using packet::L4;

namespace {

packet::IpAddr v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    packet::IpAddr r;
    r.b[0] = a, r.b[1] = b, r.b[2] = c, r.b[3] = d;
    return r;
}

// 2001:db8::<hi>:<lo> (documentation prefix, RFC 3849).
packet::IpAddr v6(std::uint16_t hi, std::uint16_t lo) {
    packet::IpAddr r;
    r.b[0] = 0x20, r.b[1] = 0x01, r.b[2] = 0x0d, r.b[3] = 0xb8;
    r.b[12] = static_cast<std::uint8_t>(hi >> 8), r.b[13] = static_cast<std::uint8_t>(hi);
    r.b[14] = static_cast<std::uint8_t>(lo >> 8), r.b[15] = static_cast<std::uint8_t>(lo);
    return r;
}

FlowKey flow(Family f, packet::IpAddr src, packet::IpAddr dst, std::uint8_t proto,
             std::uint16_t sport, std::uint16_t dport, L4 l4 = L4::ports) {
    FlowKey k;
    k.family = f;
    k.proto = proto;
    k.first_nexthdr = proto;
    k.l4 = l4;
    k.sport = sport;
    k.dport = dport;
    k.src = src;
    k.dst = dst;
    return k;
}

FlowKey swapped(FlowKey k) {
    std::swap(k.src, k.dst);
    std::swap(k.sport, k.dport);
    return k;
}

Model linux_model(std::uint32_t seed, std::uint8_t policy, std::uint32_t fields = five_tuple) {
    return Model::linux_kernel({.seed = seed, .policy = policy, .fields = fields});
}

FlowKey random_flow(std::mt19937& rng, Family f) {
    packet::IpAddr s, d;
    const std::size_t n = f == Family::v4 ? 4 : 16;
    for (std::size_t i = 0; i < n; ++i) {
        s.b[i] = static_cast<std::uint8_t>(rng());
        d.b[i] = static_cast<std::uint8_t>(rng());
    }
    FlowKey k = flow(f, s, d, rng() % 2 ? 6 : 17, static_cast<std::uint16_t>(rng()),
                     static_cast<std::uint16_t>(rng()));
    if (f == Family::v6) k.flow_label = rng() & 0xFFFFF;
    return k;
}

// Linux hash-threshold choice for equal weights (fib_rebalance's bounds; shared reference).
std::size_t linux_pick(std::uint32_t hash, std::size_t n) {
    const std::uint64_t h = hash >> 1;
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t w = (i + 1) << 31;
        const std::int64_t bound = static_cast<std::int64_t>((w + n / 2) / n) - 1;
        if (static_cast<std::int64_t>(h) <= bound) return i;
    }
    return n - 1;
}

} // namespace

TEST_CASE("Linux model: the reference vector (seed 0x12345678, policy 1, TCP)", "[hash][linux]") {
    const FlowKey k = flow(Family::v4, v4(192, 0, 2, 2), v4(198, 51, 100, 7), 6, 40000, 80);
    LinuxKeyImage img = linux_flow_keys(k, 1, 0);
    linux_consistentify(img);
    // The image at the offsets the reference lists.
    CHECK(img.hashed().size() == 48);
    CHECK(img.bytes[8] == 0);
    CHECK(img.bytes[9] == 0);
    CHECK(img.bytes[10] == 6);
    CHECK(img.bytes[36] == 0x9c);
    CHECK(img.bytes[37] == 0x40);
    CHECK(img.bytes[38] == 0x00);
    CHECK(img.bytes[39] == 0x50);
    CHECK(std::vector<std::uint8_t>(img.bytes.begin() + 44, img.bytes.begin() + 52) ==
          std::vector<std::uint8_t>{192, 0, 2, 2, 198, 51, 100, 7});
    const std::uint64_t key = linux_siphash_key_word(0x12345678);
    CHECK(key == 0x1234567812345678ULL);
    CHECK(siphash24(key, key, img.hashed()) == 0xfde5eceb11bc513fULL);

    const Model m = linux_model(0x12345678, 1);
    CHECK(m.hash(k) == 0x11bc513fu);
    CHECK((m.hash(k) >> 1) == 148777119u);
}

TEST_CASE("Linux model: flow_keys image lengths and zero bytes", "[hash][linux]") {
    FlowKey k4 = flow(Family::v4, v4(192, 0, 2, 1), v4(198, 51, 100, 1), 17, 1, 2);
    FlowKey k6 = flow(Family::v6, v6(1, 1), v6(2, 2), 17, 1, 2);
    for (std::uint8_t policy : {0, 1, 3}) {
        const LinuxKeyImage a = linux_flow_keys(k4, policy, 0x3f);
        const LinuxKeyImage b = linux_flow_keys(k6, policy, 0x3f);
        CHECK(a.hashed().size() == 48);
        CHECK(b.hashed().size() == 72);
        // n_proto, vlan, cvlan, keyid, icmp and the padding are never filled.
        for (std::size_t off : {8, 9, 11, 16, 20, 24, 28, 32, 35, 40, 43, 52, 55, 76, 79}) {
            CAPTURE(policy, off);
            CHECK(a.bytes[off] == 0);
            CHECK(b.bytes[off] == 0);
        }
    }
}

TEST_CASE("Linux model: policy 0 hashes IPv4 addresses only", "[hash][linux]") {
    const Model m = linux_model(0x0badcafe, 0);
    const FlowKey tcp = flow(Family::v4, v4(192, 0, 2, 9), v4(203, 0, 113, 5), 6, 1234, 443);
    const FlowKey udp = flow(Family::v4, v4(192, 0, 2, 9), v4(203, 0, 113, 5), 17, 9, 53);
    CHECK(m.hash(tcp) == m.hash(udp));
    CHECK(linux_flow_keys(tcp, 0, 0).bytes[10] == 0); // ip_proto stays 0 for IPv4 L3
    CHECK_FALSE(m.needs_ports());
}

TEST_CASE("Linux model: IPv6 flow label byte order and next header per policy", "[hash][linux]") {
    FlowKey k = flow(Family::v6, v6(0, 1), v6(0, 2), 6, 5000, 80);
    k.first_nexthdr = 0; // a hop-by-hop header before TCP
    k.flow_label = 0xabcde;
    // Policy 0 (ip6_multipath_l3_keys): label in network order, the first Next Header.
    const LinuxKeyImage p0 = linux_flow_keys(k, 0, 0);
    CHECK(std::vector<std::uint8_t>(p0.bytes.begin() + 12, p0.bytes.begin() + 16) ==
          std::vector<std::uint8_t>{0x00, 0x0a, 0xbc, 0xde});
    CHECK(p0.bytes[10] == 0);
    CHECK(p0.bytes[36] == 0); // no ports under policy 0
    // Policy 3 (flow dissector): label in host (little-endian) order, the final protocol.
    const LinuxKeyImage p3 = linux_flow_keys(k, 3, src_ip | dst_ip | ip_proto | flow_label);
    CHECK(std::vector<std::uint8_t>(p3.bytes.begin() + 12, p3.bytes.begin() + 16) ==
          std::vector<std::uint8_t>{0xde, 0xbc, 0x0a, 0x00});
    CHECK(p3.bytes[10] == 6);
    // Policy 1 has no flow label.
    const LinuxKeyImage p1 = linux_flow_keys(k, 1, 0);
    CHECK(p1.bytes[12] == 0);
    CHECK(p1.bytes[15] == 0);
    CHECK(p1.bytes[10] == 6);
    // The label changes the policy-0 hash.
    const Model m = linux_model(1, 0);
    FlowKey other = k;
    other.flow_label = 0x12345;
    CHECK(m.hash(k) != m.hash(other));
}

TEST_CASE("Linux model: consistentify compares raw bytes as little-endian integers",
          "[hash][linux]") {
    // 10.0.0.2 -> 11.0.0.1: numerically dst > src, but as raw little-endian words
    // 0x0100000b < 0x0200000a, so the kernel swaps them.
    LinuxKeyImage img = linux_flow_keys(
        flow(Family::v4, v4(10, 0, 0, 2), v4(11, 0, 0, 1), 6, 0x0102, 0x0201), 1, 0);
    linux_consistentify(img);
    CHECK(img.bytes[44] == 11);
    CHECK(img.bytes[48] == 10);
    // Ports likewise: sport 0x0102 loads as 0x0201, dport 0x0201 as 0x0102 -> swapped.
    CHECK(img.bytes[36] == 0x02);
    CHECK(img.bytes[37] == 0x01);
}

TEST_CASE("Linux model: the hash of a flow equals the hash of its reverse", "[hash][linux]") {
    std::mt19937 rng(42);
    for (std::uint8_t policy : {0, 1, 3}) {
        const Model m = linux_model(0x5eed0001, policy);
        for (int i = 0; i < 500; ++i) {
            const FlowKey k = random_flow(rng, i % 2 ? Family::v4 : Family::v6);
            REQUIRE(m.hash(k) == m.hash(swapped(k)));
        }
    }
}

TEST_CASE("Linux model: policy 3 with the 5-tuple is jhash_2words(policy-1 hash, 0, 0)",
          "[hash][linux]") {
    // fib_multipath_custom_hash_outer fills exactly policy 1's keys for fields 0x37; the
    // forwarding path then applies jhash_2words(outer, inner = 0, 0).
    std::mt19937 rng(5);
    const Model p1 = linux_model(0x01020304, 1);
    const Model p3 = linux_model(0x01020304, 3, five_tuple);
    for (int i = 0; i < 200; ++i) {
        const FlowKey k = random_flow(rng, i % 2 ? Family::v4 : Family::v6);
        REQUIRE(p3.hash(k) == jhash_2words(p1.hash(k), 0, 0));
    }
    // No outer field: the kernel skips the outer hash (0).
    const FlowKey k = random_flow(rng, Family::v4);
    CHECK(linux_model(7, 3, 0).hash(k) == jhash_2words(0, 0, 0));
    CHECK(linux_model(7, 3, 0x40).hash(k) == jhash_2words(0, 0, 0)); // inner-only bits
}

TEST_CASE("Linux model: portless protocols hash ports as zero; SPIs hash as ports",
          "[hash][linux]") {
    FlowKey gre = flow(Family::v4, v4(192, 0, 2, 1), v4(198, 51, 100, 2), 47, 0, 0, L4::portless);
    const LinuxKeyImage img = linux_flow_keys(gre, 1, 0);
    for (std::size_t off = 36; off < 40; ++off)
        CHECK(img.bytes[off] == 0);
    CHECK(img.bytes[10] == 47);

    FlowKey esp =
        flow(Family::v4, v4(192, 0, 2, 1), v4(198, 51, 100, 2), 50, 0x1234, 0x5678, L4::spi);
    const LinuxKeyImage e = linux_flow_keys(esp, 1, 0);
    CHECK(e.bytes[36] == 0x12);
    CHECK(e.bytes[37] == 0x34);
    CHECK(e.bytes[38] == 0x56);
    CHECK(e.bytes[39] == 0x78);
}

TEST_CASE("Linux model: needs_ports, factory checks, describe", "[hash][linux]") {
    CHECK_FALSE(linux_model(1, 0).needs_ports());
    CHECK(linux_model(1, 1).needs_ports());
    CHECK(linux_model(1, 3, five_tuple).needs_ports());
    CHECK(linux_model(1, 3, src_ip | dst_port).needs_ports());
    CHECK_FALSE(linux_model(1, 3, src_ip | dst_ip | ip_proto | flow_label).needs_ports());
    CHECK_THROWS_AS(linux_model(1, 2), std::invalid_argument);
    CHECK_THROWS_AS(linux_model(0, 1), std::invalid_argument);
    CHECK(linux_model(0x12345678, 3, 0x37).describe() ==
          "linux policy 3 fields 0x37 (src_ip,dst_ip,proto,src_port,dst_port) seed 0x12345678");
    CHECK(linux_model(1, 1).kind() == ModelKind::linux_kernel);
}

// Next-hops a running Linux 6.18 kernel chose (8 equal-weight next-hops, seed 0x12345678,
// fib_multipath_hash_fields 0x37 for IPv4 and 0x0f for IPv6) for flows it FORWARDED: IPv4 via
// `ip route get DST from SRC iif IN ipproto P sport S dport D` (which builds an skb and takes
// the input path), IPv6 via real frames sent into the router namespace (some with a hop-by-hop
// header) and the egress device's tx counter. The kernel is the independent judge here.
struct KernelChoice {
    Family family;
    std::uint16_t src, dst; // v4: 192.0.2.<src> -> 198.51.100.<dst>; v6: see below
    std::uint32_t flow_label;
    std::uint8_t proto;
    std::uint16_t sport, dport;
    bool hop_by_hop;
    std::array<std::uint8_t, 3> nexthop; // policy 0, 1, 3
};
const KernelChoice kernel_choices[] = {
    {Family::v4, 2, 7, 0, 6, 40000, 80, false, {7, 0, 7}},
    {Family::v4, 10, 20, 0, 17, 5353, 53, false, {2, 2, 4}},
    {Family::v4, 33, 200, 0, 6, 443, 51000, false, {2, 7, 2}},
    {Family::v4, 77, 9, 0, 17, 123, 123, false, {5, 1, 7}},
    {Family::v4, 200, 100, 0, 6, 22, 61000, false, {6, 0, 6}},
    {Family::v4, 5, 5, 0, 6, 1, 65535, false, {0, 2, 6}},
    {Family::v6, 0x2, 0x7, 0xabcde, 6, 40000, 80, false, {0, 6, 4}},
    {Family::v6, 0x2, 0x7, 0x12345, 6, 40000, 80, false, {3, 6, 6}},
    {Family::v6, 0xa, 0x14, 0x00001, 17, 5353, 53, true, {4, 0, 1}},
    {Family::v6, 0x21, 0xc8, 0xfffff, 6, 443, 51000, true, {2, 6, 2}},
    {Family::v6, 0x4d, 0x9, 0x5a5a5, 17, 123, 123, false, {3, 0, 0}},
    {Family::v6, 0xc8, 0x64, 0x80000, 6, 22, 61000, true, {7, 2, 1}},
};

TEST_CASE("Linux model: next-hops chosen by a running kernel on the forwarding path",
          "[hash][linux][kernel]") {
    for (const auto& c : kernel_choices) {
        FlowKey k;
        k.family = c.family;
        if (c.family == Family::v4) {
            k.src = v4(192, 0, 2, static_cast<std::uint8_t>(c.src));
            k.dst = v4(198, 51, 100, static_cast<std::uint8_t>(c.dst));
        } else { // 2001:db8:1::<src> -> 2001:db8:2::<dst>
            k.src = v6(0, c.src);
            k.dst = v6(0, c.dst);
            k.src.b[5] = 1;
            k.dst.b[5] = 2;
            k.flow_label = c.flow_label;
        }
        k.proto = c.proto;
        k.first_nexthdr = c.hop_by_hop ? 0 : c.proto;
        k.l4 = L4::ports;
        k.sport = c.sport;
        k.dport = c.dport;
        const std::uint32_t fields = c.family == Family::v4 ? 0x37 : 0x0f;
        const std::uint8_t policies[] = {0, 1, 3};
        for (std::size_t i = 0; i < 3; ++i) {
            CAPTURE(c.src, c.dst, policies[i]);
            CHECK(linux_pick(linux_model(0x12345678, policies[i], fields).hash(k), 8) ==
                  c.nexthop[i]);
        }
    }
}

TEST_CASE("Toeplitz model over FlowKeys matches the Microsoft RSS suite", "[hash][toeplitz]") {
    // First IPv4 row: 66.9.149.187:2794 -> 161.142.100.80:1766.
    const FlowKey k = flow(Family::v4, v4(66, 9, 149, 187), v4(161, 142, 100, 80), 6, 2794, 1766);
    const Model l4 = Model::toeplitz(
        {.key = default_rss_key(), .fields = src_ip | dst_ip | src_port | dst_port});
    const Model l3 = Model::toeplitz({.key = default_rss_key(), .fields = src_ip | dst_ip});
    CHECK(l4.hash(k) == 0x51ccc178u);
    CHECK(l3.hash(k) == 0x323e8fc2u);
    CHECK(l4.needs_ports());
    CHECK_FALSE(l3.needs_ports());
    // A portless packet gets the NIC's 2-tuple hash.
    FlowKey gre = k;
    gre.proto = 47;
    gre.l4 = L4::portless;
    gre.sport = gre.dport = 0;
    CHECK(l4.hash(gre) == 0x323e8fc2u);

    // First IPv6 row: 3ffe:2501:200:1fff::7:2794 -> 3ffe:2501:200:3::1:1766.
    FlowKey k6 = flow(Family::v6, {}, {}, 6, 2794, 1766);
    k6.src.b = {0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x1f, 0xff, 0, 0, 0, 0, 0, 0, 0, 0x07};
    k6.dst.b = {0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x00, 0x03, 0, 0, 0, 0, 0, 0, 0, 0x01};
    CHECK(l4.hash(k6) == 0x40207d3du);
    CHECK(l3.hash(k6) == 0x2cc18cd5u);
}

TEST_CASE("Toeplitz model: the symmetric key hashes both directions alike", "[hash][toeplitz]") {
    const auto key = symmetric_rss_key();
    for (std::size_t i = 0; i < key.size(); i += 2) {
        CHECK(key[i] == 0x6d);
        CHECK(key[i + 1] == 0x5a);
    }
    const Model sym = Model::toeplitz({.key = key, .fields = five_tuple});
    const Model dflt = Model::toeplitz({.key = default_rss_key(), .fields = five_tuple});
    std::mt19937 rng(9);
    int dflt_differs = 0;
    for (int i = 0; i < 500; ++i) {
        const FlowKey k = random_flow(rng, i % 2 ? Family::v4 : Family::v6);
        REQUIRE(sym.hash(k) == sym.hash(swapped(k)));
        dflt_differs += dflt.hash(k) != dflt.hash(swapped(k));
    }
    CHECK(dflt_differs > 450); // the default key is not symmetric
}

TEST_CASE("CRC32C model hashes the documented byte string", "[hash][crc32c]") {
    FlowKey k = flow(Family::v6, v6(0x11, 0x22), v6(0x33, 0x44), 17, 0x1234, 0x0035);
    k.flow_label = 0xfedcb;
    const std::vector<std::uint8_t> expect_bytes = {
        // src 2001:db8::11:22, dst 2001:db8::33:44, proto 17, label 000fedcb, ports 1234 0035
        0x20, 0x01, 0x0d, 0xb8, 0,    0,    0,    0,    0,    0,    0,    0,    0x00, 0x11,
        0x00, 0x22, 0x20, 0x01, 0x0d, 0xb8, 0,    0,    0,    0,    0,    0,    0,    0,
        0x00, 0x33, 0x00, 0x44, 17,   0x00, 0x0f, 0xed, 0xcb, 0x12, 0x34, 0x00, 0x35};
    const Model m = Model::crc32c({.seed = 0xffffffff, .fields = five_tuple | flow_label});
    // rte_hash_crc: DPDK's CRC32C register update, no final XOR (the model's convention).
    CHECK(m.hash(k) == rte_hash_crc(expect_bytes.data(),
                                    static_cast<std::uint32_t>(expect_bytes.size()), 0xffffffff));
    CHECK(m.needs_ports());

    const FlowKey k4 = flow(Family::v4, v4(192, 0, 2, 1), v4(198, 51, 100, 2), 6, 80, 443);
    const std::uint8_t b4[] = {192, 0, 2, 1, 198, 51, 100, 2, 6, 0, 80, 0x01, 0xbb};
    const Model m4 = Model::crc32c({.seed = 0, .fields = five_tuple});
    CHECK(m4.hash(k4) == rte_hash_crc(b4, sizeof b4, 0));
    const Model l3 = Model::crc32c({.seed = 0, .fields = src_ip | dst_ip});
    CHECK(l3.hash(k4) == rte_hash_crc(b4, 8, 0));
    CHECK_FALSE(l3.needs_ports());
}
