// libFuzzer harness: the YAML configuration loader over any text.
//
// load_config_text() promises (config.h) never to throw and to report every problem in
// `errors`; an exception escaping it reaches std::terminate, which libFuzzer records as a crash.
// A hang is caught by -timeout. Beyond that, a configuration that loads must be one
// compile_tables() and the datapath can index without further checks: every cross-reference in
// range, every ipip next-hop with a source address, every prefix well formed.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/config.h"
#include "fuzz_check.h"

namespace {

using namespace ptbsteer::config;
using ptbsteer::packet::Family;

bool has_address(const Config& c, std::size_t port, Family f) {
    for (const Address& a : c.addresses)
        if (a.port == port && (f == Family::v4 ? a.ipv4.has_value() : a.ipv6.has_value()))
            return true;
    return false;
}

bool host_bits_zero(const Prefix& p) {
    for (std::size_t bit = p.length; bit < 128; ++bit)
        if (p.addr.b[bit / 8] & (0x80 >> (bit % 8))) return false;
    return true;
}

void check_loaded(const Config& c) {
    FUZZ_CHECK(!c.ports.empty());
    for (const Port& p : c.ports)
        FUZZ_CHECK(p.rx_queues >= 1 && p.tx_queues >= 1);
    for (const Lcore& l : c.lcores)
        for (const RxQueueRef& q : l.rx) {
            FUZZ_CHECK(q.port < c.ports.size());
            FUZZ_CHECK(q.queue < c.ports[q.port].rx_queues);
        }
    for (const Address& a : c.addresses)
        FUZZ_CHECK(a.port < c.ports.size());
    for (const Group& g : c.groups) {
        FUZZ_CHECK(!g.next_hops.empty());
        FUZZ_CHECK(g.prefix_where.size() == g.prefixes.size());
        for (const Prefix& p : g.prefixes) {
            FUZZ_CHECK(p.length <= (p.family == Family::v4 ? 32 : 128));
            FUZZ_CHECK(host_bits_zero(p));
        }
        for (const NextHop& h : g.next_hops) {
            FUZZ_CHECK(h.port < c.ports.size());
            FUZZ_CHECK(h.weight >= 1);
            if (h.vlan) FUZZ_CHECK(*h.vlan < 4096);
            if (h.deliver == Deliver::ipip) {
                FUZZ_CHECK(h.tunnel_dst && h.tunnel_family);
                FUZZ_CHECK(has_address(c, h.port, *h.tunnel_family));
            }
        }
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    const LoadResult r = load_config_text(text, "fuzz.yaml");
    FUZZ_CHECK(r.config.has_value() == r.errors.empty());
    // Errors name fuzz.yaml or, for a preset's own mistakes, the preset's file.
    for (const ConfigError& e : r.errors)
        FUZZ_CHECK(!e.message.empty() && !e.where.file.empty());
    if (r.config) check_loaded(*r.config);
    return 0;
}
