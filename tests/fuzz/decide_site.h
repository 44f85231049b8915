// The fixed site configuration the decide() fuzzer compiles once: every hash model, selector,
// mode and fallback, both families, VLAN and ipip next-hops, and addresses on both ports so that
// ARP and Neighbor Solicitation replies are reachable. Shared with the seed generator, which
// builds frames addressed to these prefixes (so seeds reach the steering code, not just no_group).
#pragma once

#include <array>
#include <cstdint>

namespace ptbsteer::fuzz {

inline constexpr const char* decide_config = R"(ports:
  - {name: uplink, device: net_null0}
  - {name: servers, device: net_null1}
lcores:
  - {id: 0, rx: [uplink, servers], tx: true}
addresses:
  - {port: uplink, ipv4: 203.0.113.2/24, ipv6: "2001:db8:ff::2/64"}
  - {port: servers, ipv4: 192.0.2.1/24, ipv6: "2001:db8:fe::1/64"}
groups:
  - name: web
    prefixes: [192.0.2.0/24, "2001:db8:1::/48"]
    hash: {model: linux, policy: 1, seed: 12345}
    select: hash-threshold
    fallback: replicate
    next_hops:
      - {name: web1, port: servers, mac: "02:00:00:00:01:01", weight: 1}
      - {name: web2, port: servers, mac: "02:00:00:00:01:02", weight: 2, vlan: 100}
      - {name: web3, port: servers, mac: "02:00:00:00:01:03", deliver: ipip, address: 192.0.2.50}
  - name: dns
    prefixes: 198.51.100.0/25
    hash: {model: toeplitz, key: default}
    select: modulo
    mode: replicate
    validate: {checksum: false}
    next_hops:
      - {name: dns1, port: servers, mac: "02:00:00:00:02:01"}
      - {name: dns2, port: servers, mac: "02:00:00:00:02:02"}
  - name: api
    prefixes: [198.51.100.128/25, "2001:db8:2::/48"]
    hash: {model: crc32c}
    select: maglev
    fallback: drop
    validate: {checksum: false, mtu_floor_v4: 68}
    next_hops:
      - {name: a1, port: servers, mac: "02:00:00:00:03:01"}
      - {name: a2, port: servers, mac: "02:00:00:00:03:02"}
      - {name: a3, port: uplink, mac: "02:00:00:00:03:03"}
  - name: v6
    prefixes: ["2001:db8:3::/48", "2001:db8:100::/48"]
    hash: {model: linux, policy: 3, seed: 7,
           fields: [src_ip, dst_ip, ip_proto, src_port, dst_port, flow_label]}
    select: modulo
    validate: {checksum: false, mtu_ceiling: 1500}
    next_hops:
      - {name: s1, port: servers, mac: "02:00:00:00:04:01"}
      - {name: s2, port: servers, mac: "02:00:00:00:04:02", deliver: ipip,
         address: "2001:db8:fe::50"}
)";

// The ports' MACs: neither frame_builder's source MAC (02:00:00:00:00:02) nor
// sample-ptbs.pcap's (02:00:00:00:00:01), or those seeds would be dropped as own_frame. Uplink's
// is the pcap's destination MAC.
inline constexpr std::array<std::array<std::uint8_t, 6>, 2> decide_port_macs = {{
    {0x02, 0, 0, 0, 0, 0xaa},
    {0x02, 0, 0, 0, 0xff, 0x02},
}};

// Input layout of the decide harness: byte 0 picks the RX port (bit 0) and the tailroom given
// to the ARP/ND responder (bits 1..7, in bytes); the frame is the rest.
inline constexpr std::size_t decide_ports = 2;

} // namespace ptbsteer::fuzz
