// rte_pcapng is still experimental in DPDK 22.11: this file and lib/datapath/capture_tap.cpp
// alone are built with ALLOW_EXPERIMENTAL_API (their meson.build), so nothing else can start
// depending on experimental symbols by accident.
#include "control/capture.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_pcapng.h>
#include <rte_ring.h>

namespace ptbsteer::control {
namespace {

constexpr unsigned ring_size = 1024; // per lcore: a burst of drops between two writer passes
constexpr unsigned write_burst = 32;

} // namespace

CaptureWriter::CaptureWriter(const config::Capture& cfg, std::size_t lcores)
    : file_(cfg.file), all_(cfg.what == config::CaptureWhat::all), max_bytes_(cfg.max_bytes) {
    auto fail = [&](std::string_view what) {
        throw std::runtime_error(fmt::format("capture file {}: {}", file_, what));
    };
    fd_ = ::open(file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) fail(fmt::format("cannot open it for writing: {}", std::strerror(errno)));
    // Writes the section header and one interface block per ethdev port (ports are started by
    // now, so the EPBs' interface ids are the DPDK port ids).
    pcapng_ = rte_pcapng_fdopen(fd_, nullptr, nullptr, "ptbsteer", "ptbsteer capture on demand");
    if (!pcapng_) fail(fmt::format("rte_pcapng_fdopen: {}", rte_strerror(rte_errno)));
    const off_t header = ::lseek(fd_, 0, SEEK_CUR);
    stats_.bytes = header > 0 ? std::uint64_t(header) : 0;
    if (stats_.bytes >= max_bytes_)
        fail(fmt::format("max_bytes {} is smaller than the file's header ({} bytes)", max_bytes_,
                         stats_.bytes.load()));

    const unsigned n = unsigned(lcores) * ring_size + 512;
    pool_ = rte_pktmbuf_pool_create("ptbsteer_capture", n, 64, 0,
                                    std::uint16_t(rte_pcapng_mbuf_size(capture_snap_len())),
                                    int(rte_socket_id()));
    if (!pool_) fail(fmt::format("copy pool ({} mbufs): {}", n, rte_strerror(rte_errno)));
    taps_.resize(lcores);
    for (std::size_t i = 0; i < lcores; ++i) {
        const std::string name = fmt::format("ptbsteer_cap{}", i);
        rte_ring* r = rte_ring_create(name.c_str(), ring_size, int(rte_socket_id()),
                                      RING_F_SP_ENQ | RING_F_SC_DEQ);
        if (!r) fail(fmt::format("ring {}: {}", name, rte_strerror(rte_errno)));
        rings_.push_back(r);
        taps_[i] = CaptureTap{r, pool_, &active_};
    }
}

CaptureWriter::~CaptureWriter() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    for (rte_ring* r : rings_) {
        rte_mbuf* m = nullptr;
        while (rte_ring_sc_dequeue(r, reinterpret_cast<void**>(&m)) == 0)
            rte_pktmbuf_free(m);
        rte_ring_free(r);
    }
    if (pcapng_)
        rte_pcapng_close(pcapng_); // closes fd_ too
    else if (fd_ >= 0)
        ::close(fd_);
    rte_mempool_free(pool_);
}

void CaptureWriter::start() {
    thread_ = std::thread([this] { run(); });
}

void CaptureWriter::finish() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    while (drain() != 0) {
    }
}

void CaptureWriter::run() {
    while (!stop_.load(std::memory_order_relaxed))
        if (drain() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
}

unsigned CaptureWriter::drain() {
    unsigned got = 0;
    for (rte_ring* r : rings_) {
        rte_mbuf* pkts[write_burst];
        const unsigned n =
            rte_ring_sc_dequeue_burst(r, reinterpret_cast<void**>(pkts), write_burst, nullptr);
        if (n) write(pkts, n);
        got += n;
    }
    return got;
}

// Writes what fits under max_bytes. A copy's pkt_len is its whole Enhanced Packet Block, so the
// bound is exact. The first copy that does not fit ends the capture for good: a file cut at a
// size limit is easier to reason about than one with holes.
void CaptureWriter::write(rte_mbuf** pkts, unsigned n) {
    unsigned keep = 0;
    std::uint64_t size = stats_.bytes.load(std::memory_order_relaxed);
    for (unsigned i = 0; i < n; ++i) {
        const std::uint32_t len = rte_pktmbuf_pkt_len(pkts[i]);
        if (active_.load(std::memory_order_relaxed) && size + len <= max_bytes_) {
            size += len;
            pkts[keep++] = pkts[i];
            continue;
        }
        active_.store(false, std::memory_order_relaxed);
        stats_.over_limit.fetch_add(1, std::memory_order_relaxed);
        rte_pktmbuf_free(pkts[i]);
    }
    if (keep == 0) return;
    // rte_pcapng_write_packets frees the mbufs whatever happens.
    const ssize_t w = rte_pcapng_write_packets(pcapng_, pkts, std::uint16_t(keep));
    if (w < 0) {
        stats_.write_failed = true;
        active_.store(false, std::memory_order_relaxed);
        return;
    }
    stats_.frames.fetch_add(keep, std::memory_order_relaxed);
    stats_.bytes.fetch_add(std::uint64_t(w), std::memory_order_relaxed);
}

} // namespace ptbsteer::control
