// Capture on demand: what the appliance dropped (and, with `what: all`, what it delivered),
// written as pcapng (rte_pcapng) for debugging. Started by `capture:` at start or by
// POST /v1/capture at run time, stopped by DELETE /v1/capture or at exit.
//
// The lcores' half is lib/datapath/capture_tap.h (copy, enqueue, never block): the taps and
// their rings exist for the whole run and copy only while a capture runs. A capture's writer
// thread drains the rings and writes with rte_pcapng_write_packets until the file would exceed
// max_bytes; then it turns the taps off and the lcores stop copying.
//
// Threads: start(), stop() and status() from any control thread (serialised here); the
// metrics read the atomics; the lcores only read the mode.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/config.h"
#include "datapath/capture_tap.h"

struct rte_mempool;
struct rte_rcu_qsbr;
struct rte_ring;

namespace ptbsteer::control {

using namespace datapath; // control builds, publishes and observes the datapath's types

// A capture that could not start: `conflict` when one already runs or the file exists (the
// API's 409), otherwise the file or the copy pool could not be made.
struct CaptureRefused : std::runtime_error {
    CaptureRefused(const std::string& sentence, bool conflict)
        : std::runtime_error(sentence), conflict(conflict) {}
    bool conflict;
};

// One capture, as the API reports it.
struct CaptureStatus {
    bool running = false; // a file is open (the taps may have stopped at max_bytes)
    bool copying = false; // the lcores copy now
    std::string file;
    config::CaptureWhat what = config::CaptureWhat::drops;
    std::uint64_t max_bytes = 0;
    std::uint64_t frames = 0;     // written to this file
    std::uint64_t bytes = 0;      // this file's size, headers included
    std::uint64_t over_limit = 0; // copies discarded because max_bytes was reached
    bool write_failed = false;
};

// How start() opens the file: `truncate` what exists (the configuration's file, as always),
// or `create_new` only (the API: never overwrites a file).
enum class CaptureOpen : std::uint8_t { truncate, create_new };

class Capture {
  public:
    // One tap and ring per lcore, all off. `qsbr` (read when stop() runs) is the lcores' RCU
    // variable: stop() waits one grace period so that no copy is still being made. Needs the
    // EAL.
    Capture(std::size_t lcores, rte_rcu_qsbr* const& qsbr);
    ~Capture(); // stops a capture still running, frees the rings and the pool
    Capture(const Capture&) = delete;
    Capture& operator=(const Capture&) = delete;

    CaptureTap* tap(std::size_t lcore_index) { return &taps_[lcore_index]; }

    // Opens the file, creates the copy pool the first time, starts the writer and turns the
    // taps on. Throws CaptureRefused.
    CaptureStatus start(const config::Capture& cfg, CaptureOpen how);
    // Turns the taps off, waits until no lcore can still be copying, writes what the rings
    // hold and closes the file. nullopt when no capture runs. `wait_for_lcores` false: the
    // lcores have stopped (exit).
    std::optional<CaptureStatus> stop(bool wait_for_lcores = true);
    CaptureStatus status() const;

    // For the metrics, from any thread.
    bool copying() const { return mode_.load(std::memory_order_relaxed) != TapMode::off; }
    std::uint64_t frames_total() const { return frames_total_.load(std::memory_order_relaxed); }
    std::uint64_t over_limit_total() const { return over_total_.load(std::memory_order_relaxed); }
    // The running (or last) capture's file size.
    std::uint64_t file_bytes() const { return file_.bytes.load(std::memory_order_relaxed); }
    rte_mempool* pool() const { return pool_.load(std::memory_order_acquire); }

  private:
    class Writer;

    void make_pool();
    void discard_stale(); // frees copies left in the rings by a stop that could not wait

    std::vector<rte_ring*> rings_;
    std::vector<CaptureTap> taps_;
    std::atomic<TapMode> mode_{TapMode::off};
    std::atomic<rte_mempool*> pool_{nullptr};
    rte_rcu_qsbr* const& qsbr_;
    std::atomic<std::uint64_t> frames_total_{0}; // over every capture of the run
    std::atomic<std::uint64_t> over_total_{0};
    struct FileStats { // the running (or last) capture's; the writer thread adds
        std::atomic<std::uint64_t> frames{0}, bytes{0}, over_limit{0};
        std::atomic<bool> write_failed{false};
    } file_;

    mutable std::mutex mutex_; // start, stop, status; writer_ and last_
    std::unique_ptr<Writer> writer_;
    CaptureStatus last_; // the last capture stopped
};

} // namespace ptbsteer::control
