// rte_pcapng is still experimental in DPDK 22.11: this file and lib/datapath/capture_tap.cpp
// alone are built with ALLOW_EXPERIMENTAL_API (their meson.build), so nothing else can start
// depending on experimental symbols by accident.
#include "control/capture.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include <fmt/format.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_pcapng.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

namespace ptbsteer::control {
namespace {

constexpr unsigned ring_size = 1024; // per lcore: a burst of drops between two writer passes
constexpr unsigned write_burst = 32;
constexpr auto grace_timeout = std::chrono::seconds(1);

} // namespace

// One open file and the thread that fills it.
class Capture::Writer {
  public:
    Writer(Capture& owner, const config::Capture& cfg, CaptureOpen how) : owner_(owner), cfg_(cfg) {
        const int flags =
            how == CaptureOpen::truncate ? O_CREAT | O_TRUNC : O_CREAT | O_EXCL | O_NOFOLLOW;
        fd_ = ::open(cfg_.file.c_str(), O_WRONLY | O_CLOEXEC | flags, 0640);
        if (fd_ < 0)
            throw CaptureRefused(fmt::format("capture file {}: cannot create it: {}", cfg_.file,
                                             errno == EEXIST
                                                 ? "it exists (a capture never overwrites a file)"
                                                 : std::strerror(errno)),
                                 errno == EEXIST);
        // Writes the section header and one interface block per ethdev port (ports are
        // started by now, so the EPBs' interface ids are the DPDK port ids).
        pcapng_ =
            rte_pcapng_fdopen(fd_, nullptr, nullptr, "ptbsteer", "ptbsteer capture on demand");
        if (!pcapng_) fail(fmt::format("rte_pcapng_fdopen: {}", rte_strerror(rte_errno)));
        const off_t header = ::lseek(fd_, 0, SEEK_CUR);
        const std::uint64_t size = header > 0 ? std::uint64_t(header) : 0;
        if (size >= cfg_.max_bytes)
            fail(fmt::format("max_bytes {} is smaller than the file's header ({} bytes)",
                             cfg_.max_bytes, size));
        owner_.file_.bytes = size;
        thread_ = std::thread([this] { run(); });
    }

    ~Writer() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
        if (pcapng_)
            rte_pcapng_close(pcapng_); // closes fd_ too
        else if (fd_ >= 0)
            ::close(fd_);
    }

    // After the taps are off and no lcore copies any more: the rest of the rings, then return.
    void finish() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
        while (drain() != 0) {
        }
    }

    const config::Capture& config() const { return cfg_; }

  private:
    [[noreturn]] void fail(const std::string& what) {
        ::unlink(cfg_.file.c_str()); // a file this constructor created and could not fill
        throw CaptureRefused(fmt::format("capture file {}: {}", cfg_.file, what), false);
    }

    void run() {
        while (!stop_.load(std::memory_order_relaxed))
            if (drain() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }

    unsigned drain() {
        unsigned got = 0;
        for (rte_ring* r : owner_.rings_) {
            rte_mbuf* pkts[write_burst];
            const unsigned n =
                rte_ring_sc_dequeue_burst(r, reinterpret_cast<void**>(pkts), write_burst, nullptr);
            if (n) write(pkts, n);
            got += n;
        }
        return got;
    }

    // Writes what fits under max_bytes. A copy's pkt_len is its whole Enhanced Packet Block, so
    // the bound is exact. The first copy that does not fit ends the capture's copying for good:
    // a file cut at a size limit is easier to reason about than one with holes.
    void write(rte_mbuf** pkts, unsigned n) {
        FileStats& st = owner_.file_;
        unsigned keep = 0;
        std::uint64_t size = st.bytes.load(std::memory_order_relaxed);
        for (unsigned i = 0; i < n; ++i) {
            const std::uint32_t len = rte_pktmbuf_pkt_len(pkts[i]);
            if (!full_ && size + len <= cfg_.max_bytes) {
                size += len;
                pkts[keep++] = pkts[i];
                continue;
            }
            stop_copying();
            st.over_limit.fetch_add(1, std::memory_order_relaxed);
            owner_.over_total_.fetch_add(1, std::memory_order_relaxed);
            rte_pktmbuf_free(pkts[i]);
        }
        if (keep == 0) return;
        // DPDK 22.11's header says rte_pcapng_write_packets always frees the mbufs; its code
        // (lib/pcapng/rte_pcapng.c) never does, and a capture that trusted it emptied its pool
        // after ring_size + 512 copies. Freed here, whatever the write did.
        const ssize_t w = rte_pcapng_write_packets(pcapng_, pkts, std::uint16_t(keep));
        rte_pktmbuf_free_bulk(pkts, keep);
        if (w < 0) {
            st.write_failed = true;
            stop_copying();
            return;
        }
        st.frames.fetch_add(keep, std::memory_order_relaxed);
        owner_.frames_total_.fetch_add(keep, std::memory_order_relaxed);
        st.bytes.fetch_add(std::uint64_t(w), std::memory_order_relaxed);
    }

    void stop_copying() {
        full_ = true;
        owner_.mode_.store(TapMode::off, std::memory_order_relaxed);
    }

    Capture& owner_;
    config::Capture cfg_;
    int fd_ = -1;
    rte_pcapng* pcapng_ = nullptr;
    bool full_ = false; // writer thread only
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

Capture::Capture(std::size_t lcores, rte_rcu_qsbr* const& qsbr) : qsbr_(qsbr) {
    taps_.resize(lcores);
    for (std::size_t i = 0; i < lcores; ++i) {
        const std::string name = fmt::format("ptbsteer_cap{}", i);
        rte_ring* r = rte_ring_create(name.c_str(), ring_size, int(rte_socket_id()),
                                      RING_F_SP_ENQ | RING_F_SC_DEQ);
        if (!r) {
            const std::string why = rte_strerror(rte_errno);
            for (rte_ring* made : rings_)
                rte_ring_free(made);
            throw std::runtime_error(fmt::format("ring {}: {}", name, why));
        }
        rings_.push_back(r);
        taps_[i] = CaptureTap{r, nullptr, &mode_};
    }
}

Capture::~Capture() {
    stop(false);
    discard_stale();
    for (rte_ring* r : rings_)
        rte_ring_free(r);
    rings_.clear();
    rte_mempool_free(pool_.exchange(nullptr));
}

// The copy pool is made by the first capture, not at start: an appliance that never captures
// never holds its memory (about 2.4 KB per mbuf, ring_size per lcore).
void Capture::make_pool() {
    if (pool()) return;
    const unsigned n = unsigned(rings_.size()) * ring_size + 512;
    rte_mempool* p = rte_pktmbuf_pool_create(
        "ptbsteer_capture", n, 64, 0, std::uint16_t(rte_pcapng_mbuf_size(capture_snap_len())),
        int(rte_socket_id()));
    if (!p)
        throw CaptureRefused(
            fmt::format("capture copy pool ({} mbufs): {}", n, rte_strerror(rte_errno)), false);
    for (CaptureTap& t : taps_)
        t.pool = p; // before any tap is on: the lcores do not read it yet
    pool_.store(p, std::memory_order_release);
}

void Capture::discard_stale() {
    for (rte_ring* r : rings_) {
        rte_mbuf* m = nullptr;
        while (rte_ring_sc_dequeue(r, reinterpret_cast<void**>(&m)) == 0)
            rte_pktmbuf_free(m);
    }
}

CaptureStatus Capture::start(const config::Capture& cfg, CaptureOpen how) {
    const std::lock_guard lock(mutex_);
    if (writer_)
        throw CaptureRefused(
            fmt::format("a capture already writes {}; stop it first (DELETE /v1/capture)",
                        writer_->config().file),
            true);
    make_pool();
    discard_stale();
    file_.frames = 0;
    file_.over_limit = 0;
    file_.write_failed = false;
    writer_ = std::make_unique<Writer>(*this, cfg, how);
    mode_.store(cfg.what == config::CaptureWhat::all ? TapMode::all : TapMode::drops,
                std::memory_order_release);
    CaptureStatus s;
    s.running = s.copying = true;
    s.file = cfg.file;
    s.what = cfg.what;
    s.max_bytes = cfg.max_bytes;
    s.bytes = file_.bytes.load();
    return s;
}

std::optional<CaptureStatus> Capture::stop(bool wait_for_lcores) {
    const std::lock_guard lock(mutex_);
    if (!writer_) return std::nullopt;
    mode_.store(TapMode::off, std::memory_order_relaxed);
    // An lcore that saw the tap on may still be copying: one grace period (every lcore reports
    // quiescence between bursts) and every copy it made is in its ring. Offline lcores (they
    // stopped) do not hold this up. On a timeout the late copies stay in the rings and are
    // freed before the next capture starts (discard_stale).
    if (wait_for_lcores && qsbr_) {
        const std::uint64_t token = rte_rcu_qsbr_start(qsbr_);
        const auto deadline = std::chrono::steady_clock::now() + grace_timeout;
        while (rte_rcu_qsbr_check(qsbr_, token, false) != 1 &&
               std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    writer_->finish();
    const config::Capture cfg = writer_->config();
    writer_.reset(); // closes the file
    last_ = CaptureStatus{};
    last_.file = cfg.file;
    last_.what = cfg.what;
    last_.max_bytes = cfg.max_bytes;
    last_.frames = file_.frames.load();
    last_.bytes = file_.bytes.load();
    last_.over_limit = file_.over_limit.load();
    last_.write_failed = file_.write_failed.load();
    return last_;
}

CaptureStatus Capture::status() const {
    const std::lock_guard lock(mutex_);
    if (!writer_) return last_;
    CaptureStatus s;
    const config::Capture& cfg = writer_->config();
    s.running = true;
    s.copying = copying();
    s.file = cfg.file;
    s.what = cfg.what;
    s.max_bytes = cfg.max_bytes;
    s.frames = file_.frames.load();
    s.bytes = file_.bytes.load();
    s.over_limit = file_.over_limit.load();
    s.write_failed = file_.write_failed.load();
    return s;
}

} // namespace ptbsteer::control
