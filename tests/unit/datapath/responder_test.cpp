// ARP and Neighbor Discovery answers, checked field by field against RFC 826 and RFC 4861.
#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

#include "../packet/frame_builder.h"
#include "datapath/responder.h"

using namespace ptbsteer;
using namespace ptbsteer::datapath;
using test::Bytes;

namespace {

const Mac our_mac = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01};
const Mac peer_mac = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};

PortAddresses port() {
    PortAddresses p;
    p.mac = our_mac;
    p.ipv4 = test::addr("203.0.113.2");
    p.ipv6 = test::addr("2001:db8:ff::2");
    return p;
}

Bytes arp_request(const char* target, bool vlan) {
    Bytes f = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    f.insert(f.end(), peer_mac.begin(), peer_mac.end());
    if (vlan) f.insert(f.end(), {0x81, 0x00, 0x00, 0x64});
    f.insert(f.end(), {0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1});
    f.insert(f.end(), peer_mac.begin(), peer_mac.end());
    const auto sender = test::addr("203.0.113.1"), tgt = test::addr(target);
    f.insert(f.end(), sender.b.begin(), sender.b.begin() + 4);
    f.insert(f.end(), 6, 0);
    f.insert(f.end(), tgt.b.begin(), tgt.b.begin() + 4);
    f.resize(60, 0); // Ethernet minimum with padding
    return f;
}

// A Neighbor Solicitation from 2001:db8:ff::1 for `target`, with a Source Link-Layer option.
Bytes neighbor_solicitation(const char* target, const char* from = "2001:db8:ff::1",
                            std::uint8_t hop_limit = 255) {
    Bytes f = {0x33, 0x33, 0xff, 0x00, 0x00, 0x02};
    f.insert(f.end(), peer_mac.begin(), peer_mac.end());
    f.insert(f.end(), {0x86, 0xdd, 0x60, 0, 0, 0, 0, 32, 58, hop_limit});
    const auto src = test::addr(from), dst = test::addr("ff02::1:ff00:2"), tgt = test::addr(target);
    f.insert(f.end(), src.b.begin(), src.b.end());
    f.insert(f.end(), dst.b.begin(), dst.b.end());
    f.insert(f.end(), {135, 0, 0, 0, 0, 0, 0, 0});
    f.insert(f.end(), tgt.b.begin(), tgt.b.end());
    f.insert(f.end(), {1, 1});
    f.insert(f.end(), peer_mac.begin(), peer_mac.end());
    return f;
}

} // namespace

TEST_CASE("ARP requests for our address get an RFC 826 reply on the same VLAN", "[responder]") {
    for (bool vlan : {false, true}) {
        Bytes f = arp_request("203.0.113.2", vlan);
        const std::size_t l3 = vlan ? 18 : 14;
        REQUIRE(arp_for_us(f, l3, port()));
        const std::size_t n = make_arp_reply(f, f.size(), l3, port());
        REQUIRE(n == f.size());
        CHECK(Bytes(f.begin(), f.begin() + 6) == Bytes(peer_mac.begin(), peer_mac.end()));
        CHECK(Bytes(f.begin() + 6, f.begin() + 12) == Bytes(our_mac.begin(), our_mac.end()));
        if (vlan) CHECK(f[12] == 0x81);
        const std::uint8_t* a = f.data() + l3;
        CHECK(a[7] == 2); // reply
        CHECK(std::memcmp(a + 8, our_mac.data(), 6) == 0);
        CHECK(std::memcmp(a + 14, test::addr("203.0.113.2").b.data(), 4) == 0);
        CHECK(std::memcmp(a + 18, peer_mac.data(), 6) == 0);
        CHECK(std::memcmp(a + 24, test::addr("203.0.113.1").b.data(), 4) == 0);
    }
    CHECK_FALSE(arp_for_us(arp_request("203.0.113.9", false), 14, port()));
    Bytes reply = arp_request("203.0.113.2", false);
    reply[21] = 2; // an ARP reply is not a question
    CHECK_FALSE(arp_for_us(reply, 14, port()));
    PortAddresses no_v4 = port();
    no_v4.ipv4.reset();
    CHECK_FALSE(arp_for_us(arp_request("203.0.113.2", false), 14, no_v4));
}

TEST_CASE("Neighbor Solicitations for our address get a valid Neighbor Advertisement",
          "[responder]") {
    Bytes f = neighbor_solicitation("2001:db8:ff::2");
    REQUIRE(ns_for_us(f, 14, port()));
    const std::size_t n = make_neighbor_advert(f, f.size(), 14, port());
    REQUIRE(n == 14 + 40 + 32);
    const std::uint8_t* ip = f.data() + 14;
    const std::uint8_t* icmp = ip + 40;
    CHECK(std::memcmp(f.data(), peer_mac.data(), 6) == 0);
    CHECK(std::memcmp(ip + 8, test::addr("2001:db8:ff::2").b.data(), 16) == 0);  // from us
    CHECK(std::memcmp(ip + 24, test::addr("2001:db8:ff::1").b.data(), 16) == 0); // to the asker
    CHECK(ip[7] == 255);
    CHECK(icmp[0] == 136);
    CHECK(icmp[4] == 0x60); // Solicited, Override (RFC 4861 §4.4)
    CHECK(std::memcmp(icmp + 8, test::addr("2001:db8:ff::2").b.data(), 16) == 0);
    CHECK(icmp[24] == 2);
    CHECK(std::memcmp(icmp + 26, our_mac.data(), 6) == 0);
    // The checksum verifies with an independent implementation over the pseudo-header.
    std::uint32_t pseudo = 0;
    for (int i = 0; i < 32; i += 2)
        pseudo += std::uint32_t(ip[8 + i] << 8 | ip[9 + i]);
    pseudo += 32 + 58;
    CHECK(test::internet_checksum(icmp, 32, pseudo) == 0);

    SECTION("a solicitation without the link-layer option grows into the tailroom") {
        Bytes g = neighbor_solicitation("2001:db8:ff::2");
        g[14 + 5] = 24;
        g.resize(14 + 40 + 24);
        const std::size_t len = g.size();
        g.resize(len + 8); // tailroom
        CHECK(make_neighbor_advert(g, len, 14, port()) == 14 + 40 + 32);
        CHECK(make_neighbor_advert(std::span(g.data(), len), len, 14, port()) == 0);
    }
    CHECK_FALSE(ns_for_us(neighbor_solicitation("2001:db8:ff::3"), 14, port()));
    CHECK_FALSE(ns_for_us(neighbor_solicitation("2001:db8:ff::2", "::"), 14, port())); // DAD
    CHECK_FALSE(
        ns_for_us(neighbor_solicitation("2001:db8:ff::2", "2001:db8:ff::1", 64), 14, port()));
}
