// Validation rules (each tripped by one fixture and passed by one just inside it) and the GCRA
// rate limits on a synthetic clock.
#include <catch2/catch.hpp>

#include <deque>
#include <string>

#include "../packet/frame_builder.h"
#include "guard/rate_limit.h"
#include "guard/validate.h"
#include "packet/parser.h"

using namespace ptbsteer;
using namespace ptbsteer::guard;
using test::Bytes;

namespace {

struct Built {
    Bytes frame;
    packet::PtbInfo info;
};

// A PTB for a 1500-byte TCP packet from our server 198.51.100.10 (or 2001:db8:100::10).
Built ptb(bool v6, std::uint32_t mtu, const char* outer_dst = nullptr) {
    test::Outer o;
    test::Inner in;
    o.family = in.family = v6 ? packet::Family::v6 : packet::Family::v4;
    o.src = v6 ? "2001:db8:ffff::1" : "203.0.113.1";
    in.src = v6 ? "2001:db8:100::10" : "198.51.100.10";
    in.dst = v6 ? "2001:db8:2::1" : "192.0.2.1";
    o.dst = outer_dst ? outer_dst : in.src;
    o.mtu = mtu;
    in.l4_len = 1500 - (v6 ? 40 : 20);
    Built b{test::build_ptb(o, in, 548), {}};
    REQUIRE(packet::parse_frame(b.frame, b.info) == packet::ParseStatus::ptb);
    REQUIRE(b.info.inner_total_len == 1500);
    return b;
}

std::string check(const Built& b, const ValidationPolicy& p = {}) {
    return std::string(name(validate(b.info, b.frame, p)));
}

} // namespace

TEST_CASE("each validation rule trips just outside its limit and passes just inside", "[guard]") {
    CHECK(check(ptb(false, 0)) == "mtu_unspecified");
    CHECK(check(ptb(false, 551)) == "mtu_below_floor");
    CHECK(check(ptb(false, 552)) == "ok");
    CHECK(check(ptb(true, 1279)) == "mtu_below_floor");
    CHECK(check(ptb(true, 1280)) == "ok");
    ValidationPolicy low;
    low.v4_floor = 68; // RFC 791's minimum, for sites that accept tiny MTUs
    CHECK(check(ptb(false, 68), low) == "ok");
    CHECK(check(ptb(false, 67), low) == "mtu_below_floor");

    ValidationPolicy tight;
    tight.ceiling = 1400;
    CHECK(check(ptb(false, 1401), tight) == "mtu_above_ceiling");
    CHECK(check(ptb(false, 1400), tight) == "ok");
    CHECK(check(ptb(true, 9217)) == "mtu_above_ceiling");

    // The quoted packet is 1500 bytes long: a PTB saying 1500 fits is bogus, 1499 is real.
    CHECK(check(ptb(false, 1500)) == "mtu_not_smaller");
    CHECK(check(ptb(false, 1499)) == "ok");
    CHECK(check(ptb(true, 1500)) == "mtu_not_smaller");
    CHECK(check(ptb(true, 1499)) == "ok");

    CHECK(check(ptb(false, 1400, "198.51.100.11")) == "dst_not_quoted_source");
    CHECK(check(ptb(true, 1400, "2001:db8:100::11")) == "dst_not_quoted_source");
}

TEST_CASE("checksums are verified over the whole ICMP message, and can be turned off", "[guard]") {
    for (bool v6 : {false, true}) {
        Built b = ptb(v6, 1400);
        REQUIRE(check(b) == "ok");
        Built quote_flip = b;
        quote_flip.frame.back() ^= 0x01; // a bit deep inside the quote
        CHECK(check(quote_flip) == "bad_checksum");
        Built zero = b;
        zero.frame[b.info.icmp_offset + 2] = zero.frame[b.info.icmp_offset + 3] = 0;
        CHECK(check(zero) == "bad_checksum");
        ValidationPolicy off;
        off.verify_checksum = false;
        CHECK(check(quote_flip, off) == "ok");
    }
    Built ip = ptb(false, 1400);
    ip.frame[ip.info.l3_offset + 8] ^= 0x10; // TTL: only the IPv4 header checksum notices
    CHECK(check(ip) == "bad_checksum");
}

TEST_CASE("GCRA admits the burst at once, then exactly the rate", "[guard][ratelimit]") {
    const std::uint64_t hz = 1'000'000;
    Gcra g(100, 10, hz); // 100/s, bursts of 10; one event per 10'000 cycles
    std::uint64_t now = 5'000'000;
    int admitted = 0;
    for (int i = 0; i < 50; ++i)
        admitted += g.allow(now);
    CHECK(admitted == 10);
    CHECK_FALSE(g.allow(now + 9'999));
    CHECK(g.allow(now + 10'000));

    // Offered at 1000/s for 10 s: every 1-second window admits at most rate + burst.
    Gcra h(100, 10, hz);
    std::deque<std::uint64_t> window;
    std::size_t total = 0, worst = 0;
    for (std::uint64_t t = 0; t < 10 * hz; t += 1000) {
        if (!h.allow(t)) continue;
        ++total;
        window.push_back(t);
        while (window.front() + hz <= t)
            window.pop_front();
        worst = std::max(worst, window.size());
    }
    CHECK(worst <= 110);
    CHECK(total >= 1000);
    CHECK(total <= 1010);
}

TEST_CASE("a cost admits all copies of one packet or none", "[guard][ratelimit]") {
    Gcra budget(1000, 16, 1'000'000); // 1000 copies/s, bursts of 16
    CHECK(budget.allow(0, 16));
    CHECK_FALSE(budget.allow(0, 1));
    CHECK_FALSE(budget.allow(3'999, 4)); // 4 copies need 4 ms of budget
    CHECK(budget.allow(4'000, 4));
    CHECK_FALSE(Gcra(1000, 4, 1'000'000).allow(0, 5)); // more copies than a burst: never at once
}

TEST_CASE("per-source limits are independent per source and bounded by a fixed table",
          "[guard][ratelimit]") {
    PerSourceLimiter lim(10, 2, 1000, 1024);
    const auto a = test::addr("203.0.113.1"), b = test::addr("203.0.113.2");
    CHECK(lim.allow(a, 0));
    CHECK(lim.allow(a, 0));
    CHECK_FALSE(lim.allow(a, 0));
    CHECK(lim.allow(b, 0)); // b has its own bucket
    CHECK(lim.allow(a, 100));
    CHECK(source_hash(a) != source_hash(b));
    CHECK(source_hash(test::addr("2001:db8::1")) != source_hash(test::addr("2001:db8::2")));
    PerSourceLimiter none;
    for (int i = 0; i < 100; ++i)
        CHECK(none.allow(a, 0));
}
