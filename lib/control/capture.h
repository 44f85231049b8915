// Capture on demand: what the appliance dropped (and, with `what: all`, what it delivered),
// written as pcapng (rte_pcapng) for debugging. Off unless the configuration has `capture:`.
//
// The lcores' half is lib/datapath/capture_tap.h (copy, enqueue, never block).
// A control thread (CaptureWriter) drains the rings and writes with rte_pcapng_write_packets
// until the file would exceed max_bytes; then it clears `active` and the lcores stop copying.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "datapath/capture_tap.h"

struct rte_mbuf;
struct rte_mempool;
struct rte_ring;
struct rte_pcapng;

namespace ptbsteer::control {

using namespace datapath; // control builds, publishes and observes the datapath's types

// What the writer did, readable from any thread (metrics).
struct CaptureStats {
    std::atomic<std::uint64_t> frames{0};     // frames written to the file
    std::atomic<std::uint64_t> bytes{0};      // file size, headers included
    std::atomic<std::uint64_t> over_limit{0}; // copies discarded because max_bytes was reached
    std::atomic<bool> write_failed{false};
};

class CaptureWriter {
  public:
    // Opens (truncates) the file, creates the copy pool and one tap per lcore. Throws
    // std::runtime_error with a sentence naming the file on failure. Needs the EAL.
    CaptureWriter(const config::Capture& cfg, std::size_t lcores);
    ~CaptureWriter(); // stops the thread if still running, closes the file, frees pool and rings
    CaptureWriter(const CaptureWriter&) = delete;
    CaptureWriter& operator=(const CaptureWriter&) = delete;

    CaptureTap* tap(std::size_t lcore_index) { return &taps_[lcore_index]; }
    bool all() const { return all_; }
    const CaptureStats& stats() const { return stats_; }
    bool active() const { return active_.load(std::memory_order_relaxed); }
    const std::vector<rte_ring*>& rings() const { return rings_; }
    rte_mempool* pool() const { return pool_; }

    void start();
    // Call after the lcores have stopped: writes what is left in the rings, then returns.
    void finish();

  private:
    unsigned drain();
    void write(rte_mbuf** pkts, unsigned n);
    void run();

    std::string file_;
    bool all_ = false;
    std::uint64_t max_bytes_ = 0;
    int fd_ = -1;
    rte_pcapng* pcapng_ = nullptr;
    rte_mempool* pool_ = nullptr;
    std::vector<rte_ring*> rings_;
    std::vector<CaptureTap> taps_;
    std::atomic<bool> active_{true};
    std::atomic<bool> stop_{false};
    CaptureStats stats_;
    std::thread thread_;
};

} // namespace ptbsteer::control
