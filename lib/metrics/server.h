// The metrics endpoint: one HTTP listener (prometheus-cpp's pull Exposer on civetweb) serving
// /metrics (Collector), /healthz (health.h) and POST /reload (control/reload.h; loopback
// clients only unless `metrics: {reload: any}`) on the address of `metrics: {listen: ...}`.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "control/runtime.h"
#include "metrics/collector.h"

namespace prometheus {
class Exposer;
}

namespace ptbsteer::metrics {

struct ListenAddress {
    std::string host; // IPv4 dotted quad, or IPv6 without brackets
    bool ipv6 = false;
    std::uint16_t port = 0; // 0: the kernel picks one
};

// "127.0.0.1:9469" or "[::1]:9469". std::nullopt when it is neither.
std::optional<ListenAddress> parse_listen(const std::string& s);

// civetweb's options for a listener that keeps answering while clients stall: a worker thread
// per connection for more connections than one stalling client is expected to hold (civetweb
// serves one connection per thread, and an idle or half-sent request holds its thread until
// request_timeout_ms), a deep accept queue, and timeouts that let stalled connections go.
// Used by the metrics listener and the control API's (docs/api.md, "Listeners").
std::vector<std::string> listener_options(const std::string& listening_ports);

// Whether a client at `remote` (civetweb's remote_addr: dotted quad or IPv6 text) may POST
// /reload. loopback: 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104 only.
bool reload_allowed(config::ReloadAccess access, const std::string& remote);

class MetricsServer {
  public:
    // Listens at once. Throws std::runtime_error with a sentence naming the address when the
    // address is malformed or cannot be bound. One server per process (civetweb's callbacks
    // carry no user pointer, so /healthz finds the runtime through a process-wide pointer).
    MetricsServer(const control::Runtime& rt, const std::string& listen, BuildInfo build);
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    // "http://127.0.0.1:9469" with the port actually bound.
    const std::string& base_url() const { return url_; }

  private:
    std::shared_ptr<Collector> collector_;
    std::unique_ptr<prometheus::Exposer> exposer_;
    std::string url_;
};

// The observer lib/control calls before the lcores start: starts a MetricsServer unless
// `listen` is empty, and announces its address with a command to try.
control::Observation start_metrics(const control::Runtime& rt, BuildInfo build);

} // namespace ptbsteer::metrics
