"""An independent Python model of the Linux forwarding-path multipath hash and hash-threshold
selection, written from the facts in docs/reference (fib_multipath_hash / rt6_multipath_hash,
__flow_hash_from_keys, fib_select_multipath / fib6_select_path), not from lib/hash. The
kernel-agreement test holds it to the running kernel on every run; the pcap, reload and e2e
tests use it as their oracle of which next-hop owns a flow."""
import socket


class Flow:
    """A client->server flow (the direction the router hashed)."""
    __slots__ = ("family", "src", "dst", "proto", "sport", "dport", "label")

    def __init__(self, family, src, dst, proto, sport, dport, label=0):
        self.family, self.src, self.dst = family, src, dst
        self.proto, self.sport, self.dport, self.label = proto, sport, dport, label

    def key(self):
        return (self.family, self.src, self.dst, self.proto, self.sport, self.dport)

    def line(self):
        """The ptbsteer-hashcalc tuple format: family src dst proto sport dport flowlabel."""
        return (f"{self.family} {self.src} {self.dst} {self.proto} {self.sport} {self.dport} "
                f"{self.label}")

    def __str__(self):
        s = f"proto {self.proto} {self.src}:{self.sport} -> {self.dst}:{self.dport}"
        return s + (f" label 0x{self.label:05x}" if self.family == 6 else "")

M64 = (1 << 64) - 1


def _rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & M64


def siphash24(k0, k1, data):
    v0, v1 = k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D
    v2, v3 = k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573

    def rnd(v0, v1, v2, v3):
        v0 = (v0 + v1) & M64; v1 = _rotl(v1, 13); v1 ^= v0; v0 = _rotl(v0, 32)
        v2 = (v2 + v3) & M64; v3 = _rotl(v3, 16); v3 ^= v2
        v0 = (v0 + v3) & M64; v3 = _rotl(v3, 21); v3 ^= v0
        v2 = (v2 + v1) & M64; v1 = _rotl(v1, 17); v1 ^= v2; v2 = _rotl(v2, 32)
        return v0, v1, v2, v3
    n = len(data)
    full = n - n % 8
    for i in range(0, full, 8):
        m = int.from_bytes(data[i:i + 8], "little")
        v3 ^= m
        v0, v1, v2, v3 = rnd(v0, v1, v2, v3)
        v0, v1, v2, v3 = rnd(v0, v1, v2, v3)
        v0 ^= m
    b = ((n & 0xFF) << 56) | int.from_bytes(data[full:] + b"\0" * (8 - (n - full)), "little")
    v3 ^= b
    v0, v1, v2, v3 = rnd(v0, v1, v2, v3)
    v0, v1, v2, v3 = rnd(v0, v1, v2, v3)
    v0 ^= b
    v2 ^= 0xFF
    for _ in range(4):
        v0, v1, v2, v3 = rnd(v0, v1, v2, v3)
    return (v0 ^ v1 ^ v2 ^ v3) & M64


def jhash_2words(a, b, initval):
    """Linux jhash_2words = __jhash_nwords(a, b, 0, initval + JHASH_INITVAL + (2 << 2))."""
    M = 0xFFFFFFFF

    def rol(x, k):
        return ((x << k) | (x >> (32 - k))) & M
    init = (0xDEADBEEF + (2 << 2) + initval) & M
    a, b, c = (a + init) & M, (b + init) & M, init
    # __jhash_final(a, b, c)
    c ^= b; c = (c - rol(b, 14)) & M
    a ^= c; a = (a - rol(c, 11)) & M
    b ^= a; b = (b - rol(a, 25)) & M
    c ^= b; c = (c - rol(b, 16)) & M
    a ^= c; a = (a - rol(c, 4)) & M
    b ^= a; b = (b - rol(a, 14)) & M
    c ^= b; c = (c - rol(b, 24)) & M
    return c


def py_model_hash(seed, policy, fields, f, jhash_step=True):
    """Linux forwarding-path multipath hash (already >> 1) of a client->server flow.
    jhash_step=False: policy 3 as hashed from a flowi (no skb), i.e. without the
    jhash_2words(outer, inner=0, 0) step of fib_multipath_custom_hash_skb."""
    if policy == 3:
        use = fields
    elif policy == 1:
        use = 0x37
    else:
        use = 0x03 | (0x0C if f.family == 6 else 0)
    keys = bytearray(80)
    fam = socket.AF_INET if f.family == 4 else socket.AF_INET6
    src = socket.inet_pton(fam, f.src) if use & 1 else bytes(4 if f.family == 4 else 16)
    dst = socket.inet_pton(fam, f.dst) if use & 2 else bytes(4 if f.family == 4 else 16)
    alen = len(src)
    if int.from_bytes(dst, "little" if alen == 4 else "big") < \
            int.from_bytes(src, "little" if alen == 4 else "big"):
        src, dst = dst, src
    if use & 4:
        keys[10] = f.proto
    if use & 8 and f.family == 6:
        lbl = f.label & 0xFFFFF
        if policy == 0:   # network order: ip6_flowlabel() keeps the header's byte order
            keys[12:16] = lbl.to_bytes(4, "big")
        else:             # host order (flowi6_get_flowlabel / dissector ntohl)
            keys[12:16] = lbl.to_bytes(4, "little")
    has_ports = f.proto in (6, 17) and policy != 0
    sp = f.sport.to_bytes(2, "big") if (has_ports and use & 0x10) else b"\0\0"
    dp = f.dport.to_bytes(2, "big") if (has_ports and use & 0x20) else b"\0\0"
    if int.from_bytes(dp, "little") < int.from_bytes(sp, "little"):
        sp, dp = dp, sp
    keys[36:38], keys[38:40] = sp, dp
    keys[44:44 + alen], keys[44 + alen:44 + 2 * alen] = src, dst
    length = 48 if f.family == 4 else 72
    k = ((seed << 32) | seed) & M64
    h = siphash24(k, k, bytes(keys[8:8 + length])) & 0xFFFFFFFF
    h = h or 1
    if policy == 3 and jhash_step:
        h = jhash_2words(h, 0, 0)
    return h >> 1


def py_select(weights, mhash):
    total, run_w, bounds = sum(weights), 0, []
    for w in weights:
        run_w += w
        bounds.append(((run_w << 31) + total // 2) // total - 1)
    for i, b in enumerate(bounds):
        if mhash <= b:
            return i
    return len(weights) - 1

