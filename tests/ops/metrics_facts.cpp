// Prints the lists that docs/metrics.md and docs/troubleshooting.md must agree with, one fact per
// line, tab-separated, for tests/ops/docs_test.py:
//   family <name> <counter|gauge|histogram> <labels> <help>
//   drop <reason> <meaning>
//   counter <key> <exit report row>
// It reads the lists the appliance itself uses (lib/metrics/families.h,
// lib/datapath/drop_reason.h, lib/datapath/counters.h); nothing here restates them.
#include <cstdio>
#include <string_view>

#include "datapath/counters.h"
#include "datapath/drop_reason.h"
#include "metrics/families.h"

namespace {

std::string_view type_name(prometheus::MetricType t) {
    switch (t) {
    case prometheus::MetricType::Counter: return "counter";
    case prometheus::MetricType::Gauge: return "gauge";
    case prometheus::MetricType::Histogram: return "histogram";
    default: return "other";
    }
}

void print(std::initializer_list<std::string_view> fields) {
    bool first = true;
    for (std::string_view f : fields) {
        std::printf("%s%.*s", first ? "" : "\t", int(f.size()), f.data());
        first = false;
    }
    std::printf("\n");
}

} // namespace

int main() {
    using namespace ptbsteer;
    for (const metrics::Family* f : metrics::all_families)
        print({"family", f->name, type_name(f->type), f->labels, f->help});
    for (const datapath::DropReason& d : datapath::drop_reasons)
        print({"drop", d.name, d.meaning});
    for (const datapath::ScalarCounter& c : datapath::scalar_counters)
        print({"counter", c.key, c.row});
    return 0;
}
