"""Plain libpcap files (as tcpdump -w writes them), by hand: no scapy, fast, and a 10-byte frame
is written without complaint."""
import struct

HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)  # Ethernet link type


def record(frame):
    """One record: zero timestamps, the whole frame."""
    return struct.pack("<IIII", 0, 0, len(frame), len(frame)) + frame


def write(path, frames=()):
    """A classic pcap of `frames` (bytes); no frames: an empty capture (a silent rx_pcap)."""
    with open(path, "wb") as f:
        f.write(HEADER)
        for fr in frames:
            f.write(record(fr))


def read(path):
    """Yields (timestamp seconds, frame) in file order; a record cut short ends the file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    off = 24
    while off + 16 <= len(data):
        ts, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        off += 16
        if off + incl > len(data):
            break
        yield ts, data[off:off + incl]
        off += incl


def l3_offset(frame):
    """Offset of what follows the Ethernet header and any VLAN tags (802.1Q, 802.1ad)."""
    off = 14
    while frame[off - 2:off] in (b"\x81\x00", b"\x88\xa8"):
        off += 4
    return off
