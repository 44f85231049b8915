#include "control/affinity.h"

#include <pthread.h>

namespace ptbsteer::control {

cpu_set_t thread_cpus() {
    cpu_set_t s;
    CPU_ZERO(&s);
    if (pthread_getaffinity_np(pthread_self(), sizeof s, &s) != 0) CPU_ZERO(&s);
    return s;
}

void set_thread_cpus(const cpu_set_t& cpus) {
    if (CPU_COUNT(&cpus) > 0) (void)pthread_setaffinity_np(pthread_self(), sizeof cpus, &cpus);
}

cpu_set_t control_cpus(const cpu_set_t& allowed, const std::vector<unsigned>& polling) {
    cpu_set_t s = allowed;
    for (const unsigned cpu : polling)
        if (cpu < CPU_SETSIZE) CPU_CLR(cpu, &s);
    return CPU_COUNT(&s) > 0 ? s : allowed;
}

} // namespace ptbsteer::control
