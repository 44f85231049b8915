#include "metrics/telemetry.h"

#include <algorithm>
#include <cctype>
#include <mutex>
#include <string>

#include <rte_telemetry.h>

#include "control/reload.h"
#include "control/report.h"

namespace ptbsteer::metrics {
namespace {

// The telemetry callbacks take no user pointer: the runtime they read lives here, guarded so
// that a request arriving while ptbsteer stops reads either it or nothing.
std::mutex g_mutex;
const control::Runtime* g_runtime = nullptr;

std::string telemetry_name(std::string s) {
    for (char& c : s)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '/') c = '_';
    return s;
}

int counters(const char*, const char*, rte_tel_data* d) {
    const std::lock_guard lock(g_mutex);
    if (!g_runtime) return -1;
    const datapath::LcoreCounters t = control::sum(*g_runtime->counters);
    rte_tel_data_start_dict(d);
    for (const datapath::ScalarCounter& k : datapath::scalar_counters)
        rte_tel_data_add_dict_u64(d, std::string(k.key).c_str(), t.*k.field);
    return 0;
}

int drops(const char*, const char*, rte_tel_data* d) {
    const std::lock_guard lock(g_mutex);
    if (!g_runtime) return -1;
    const datapath::LcoreCounters t = control::sum(*g_runtime->counters);
    rte_tel_data_start_dict(d);
    for (std::size_t i = 0; i < datapath::drop_count; ++i)
        if (datapath::is_drop(datapath::Drop(i)))
            rte_tel_data_add_dict_u64(d, std::string(datapath::drop_reasons[i].name).c_str(),
                                      t.drops[i]);
    return 0;
}

int groups(const char*, const char*, rte_tel_data* d) {
    const std::lock_guard lock(g_mutex);
    if (!g_runtime) return -1;
    rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
    for (const config::Group& g : g_runtime->reloader->serving().groups)
        rte_tel_data_add_array_string(d, g.key().c_str()); // ROUTER/NAME for a router's state
    return 0;
}

const config::Group* find_group(const config::Config& c, const char* name) {
    if (!name) return nullptr;
    const auto it = std::find_if(c.groups.begin(), c.groups.end(),
                                 [&](const config::Group& g) { return g.key() == name; });
    return it == c.groups.end() ? nullptr : &*it;
}

rte_tel_data* string_array() {
    rte_tel_data* a = rte_tel_data_alloc();
    if (a) rte_tel_data_start_array(a, RTE_TEL_STRING_VAL);
    return a;
}

int group(const char*, const char* params, rte_tel_data* d) {
    const std::lock_guard lock(g_mutex);
    if (!g_runtime) return -1;
    const config::Config c = g_runtime->reloader->serving();
    const config::Group* g = find_group(c, params);
    if (!g) return -1;
    rte_tel_data_start_dict(d);
    rte_tel_data_add_dict_string(d, "name", g->name.c_str());
    rte_tel_data_add_dict_string(d, "source", std::string(config::name(g->source)).c_str());
    const auto changes = g_runtime->reloader->group_changes();
    if (!g->router.empty()) rte_tel_data_add_dict_string(d, "router", g->router.c_str());
    if (const auto it = changes.find(g->key()); it != changes.end())
        rte_tel_data_add_dict_u64(d, "generation", it->second.generation);
    rte_tel_data_add_dict_string(d, "model", std::string(hash::name(g->hash.kind)).c_str());
    rte_tel_data_add_dict_string(d, "select", std::string(steer::name(g->select)).c_str());
    if (rte_tel_data* p = string_array()) {
        for (const config::Prefix& x : g->prefixes)
            rte_tel_data_add_array_string(p, config::to_string(x).c_str());
        rte_tel_data_add_dict_container(d, "prefixes", p, 0);
    }
    if (rte_tel_data* h = string_array()) {
        for (const config::NextHop& n : g->next_hops)
            rte_tel_data_add_array_string(h, n.name.c_str());
        rte_tel_data_add_dict_container(d, "next_hops", h, 0);
    }
    return 0;
}

int next_hops(const char*, const char* params, rte_tel_data* d) {
    const std::lock_guard lock(g_mutex);
    if (!g_runtime || !params) return -1;
    const datapath::LcoreCounters t = control::sum(*g_runtime->counters);
    rte_tel_data_start_dict(d);
    bool any = false;
    for (const control::NextHopSlots::Total& n : g_runtime->reloader->slots().totals(t)) {
        if (n.name.group != params) continue;
        any = true;
        const std::string key = telemetry_name(n.name.next_hop);
        rte_tel_data_add_dict_u64(d, (key + "/unicast").c_str(), n.sent.unicast);
        rte_tel_data_add_dict_u64(d, (key + "/copies").c_str(), n.sent.copies);
        rte_tel_data_add_dict_u64(d, (key + "/transition").c_str(), n.sent.transition);
    }
    // The serving next-hops' neighbour states (docs/configuration.md, "Next-hops by address").
    const std::string group = params;
    for (const control::ServingHop& h : g_runtime->reloader->serving_hops(&group)) {
        const auto state = g_runtime->reloader->neighbors().view(h.slot).state;
        rte_tel_data_add_dict_string(d, (telemetry_name(h.name) + "/state").c_str(),
                                     std::string(datapath::name(state)).c_str());
    }
    return any ? 0 : -1;
}

void register_commands() {
    rte_telemetry_register_cmd("/ptbsteer/counters", counters,
                               "ptbsteer's counters, summed over the lcores. No parameters");
    rte_telemetry_register_cmd("/ptbsteer/drops", drops,
                               "Packets dropped, by reason. No parameters");
    rte_telemetry_register_cmd("/ptbsteer/groups", groups,
                               "The serving groups' names. No parameters");
    rte_telemetry_register_cmd("/ptbsteer/group", group, "One serving group. Parameters: its name");
    rte_telemetry_register_cmd("/ptbsteer/next_hops", next_hops,
                               "One group's next-hops: unicast packets, copies and neighbour "
                               "state. Parameters: "
                               "the group's name");
}

} // namespace

std::shared_ptr<void> start_telemetry(const control::Runtime& rt) {
    static std::once_flag registered;
    std::call_once(registered, register_commands);
    {
        const std::lock_guard lock(g_mutex);
        g_runtime = &rt;
    }
    return std::shared_ptr<void>(nullptr, [](void*) {
        const std::lock_guard lock(g_mutex);
        g_runtime = nullptr;
    });
}

} // namespace ptbsteer::metrics
