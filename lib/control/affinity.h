// Which CPUs the control threads run on. The EAL pins the main thread to the main lcore's CPU,
// and every thread it creates inherits that: the metrics and API listeners' workers, the
// reload thread and the capture writer would all time-share the CPU of a busy-polling lcore
// (measured: a 4096-next-hop update took twice as long, and each of them preempts the lcore).
// They belong on the CPUs the process may use that no polling lcore takes, as DPDK's own
// control threads do (rte_ctrl_thread_create).
#pragma once

#include <sched.h>

#include <vector>

namespace ptbsteer::control {

// The calling thread's CPUs; set them (threads it creates later inherit them). Setting fails
// silently: the threads then run where they did before, only slower.
cpu_set_t thread_cpus();
void set_thread_cpus(const cpu_set_t& cpus);

// `allowed` without `polling`; all of `allowed` when that leaves none (2 CPUs, 2 lcores).
cpu_set_t control_cpus(const cpu_set_t& allowed, const std::vector<unsigned>& polling);

} // namespace ptbsteer::control
