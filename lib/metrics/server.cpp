#include "metrics/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>

#include <CivetServer.h>
#include <civetweb.h>
#include <fmt/format.h>
#include <prometheus/exposer.h>

#include "control/reload.h"
#include "metrics/health.h"

namespace ptbsteer::metrics {
namespace {

// Set while a MetricsServer listens; read by civetweb's threads in begin_request.
std::atomic<const control::Runtime*> g_runtime{nullptr};

int send_health(mg_connection* conn) {
    const control::Runtime* rt = g_runtime.load();
    const Health h = rt ? check(*rt) : Health{false, "stopping\n"};
    const int code = h.ok ? 200 : 503;
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n"
              "Cache-Control: no-store\r\nConnection: close\r\n\r\n%s",
              code, h.ok ? "OK" : "Service Unavailable", h.text.size(), h.text.c_str());
    return code;
}

int send_text(mg_connection* conn, int code, const char* reason, const std::string& text,
              const char* extra_headers = "") {
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n"
              "Cache-Control: no-store\r\n%sConnection: close\r\n\r\n%s",
              code, reason, text.size(), extra_headers, text.c_str());
    return code;
}

// POST /reload: the same reload as SIGHUP (control/reload.h), answered with its outcome. Runs
// on this civetweb thread; Reloader::reload() serialises it with any other reload.
int send_reload(mg_connection* conn, const mg_request_info& ri) {
    const control::Runtime* rt = g_runtime.load();
    if (!rt || !rt->reloader) return send_text(conn, 503, "Service Unavailable", "stopping\n");
    if (std::strcmp(ri.request_method, "POST") != 0)
        return send_text(conn, 405, "Method Not Allowed", "use POST /reload\n", "Allow: POST\r\n");
    const config::ReloadAccess access = rt->config->metrics.reload;
    if (!reload_allowed(access, ri.remote_addr))
        return send_text(conn, 403, "Forbidden",
                         access == config::ReloadAccess::off
                             ? "reload over HTTP is off (metrics: {reload: off}); send SIGHUP\n"
                             : "reload over HTTP is for loopback clients only (metrics: {reload: "
                               "any} opens it to every client)\n");
    const control::ReloadResult r = rt->reloader->reload();
    std::string text = r.summary() + "\n";
    for (const std::string& m : r.messages)
        text += m + "\n";
    std::fprintf(stdout, "ptbsteer: POST /reload from %s: %s\n", ri.remote_addr,
                 r.summary().c_str());
    std::fflush(stdout);
    switch (r.outcome) {
    case control::ReloadOutcome::success: return send_text(conn, 200, "OK", text);
    case control::ReloadOutcome::failure: return send_text(conn, 400, "Bad Request", text);
    case control::ReloadOutcome::restart_required: return send_text(conn, 409, "Conflict", text);
    }
    return send_text(conn, 500, "Internal Server Error", text);
}

// civetweb calls this before its own handlers: answering here (non-zero) serves /healthz and
// /reload on the Exposer's listener; 0 passes /metrics on to prometheus-cpp.
int begin_request(mg_connection* conn) {
    const mg_request_info* ri = mg_get_request_info(conn);
    if (ri && ri->local_uri && std::strcmp(ri->local_uri, "/healthz") == 0)
        return send_health(conn);
    if (ri && ri->local_uri && std::strcmp(ri->local_uri, "/reload") == 0)
        return send_reload(conn, *ri);
    return 0;
}

int log_message(const mg_connection*, const char* message) {
    std::fprintf(stderr, "ptbsteer: metrics: %s\n", message);
    return 1;
}

// civetweb's own error is "Possible problem binding to port"; a plain bind() first names the
// cause (EADDRINUSE, EADDRNOTAVAIL, EACCES). Same SO_REUSEADDR as civetweb, so a port in
// TIME_WAIT is not reported busy.
std::string bind_problem(const ListenAddress& a) {
    const int fd = ::socket(a.ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::strerror(errno);
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int rc;
    if (a.ipv6) {
        sockaddr_in6 sa{};
        sa.sin6_family = AF_INET6;
        sa.sin6_port = htons(a.port);
        ::inet_pton(AF_INET6, a.host.c_str(), &sa.sin6_addr);
        rc = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    } else {
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(a.port);
        ::inet_pton(AF_INET, a.host.c_str(), &sa.sin_addr);
        rc = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    }
    const std::string why = rc == 0 ? std::string() : std::strerror(errno);
    ::close(fd);
    return why;
}

std::string host_port(const ListenAddress& a, int port) {
    return a.ipv6 ? fmt::format("[{}]:{}", a.host, port) : fmt::format("{}:{}", a.host, port);
}

} // namespace

std::vector<std::string> listener_options(const std::string& listening_ports) {
    return {"listening_ports", listening_ports,
            // 1,000 stalled connections (idle, or a request never finished) must leave
            // threads for everyone else: civetweb has no per-client limit before it reads a
            // request. Idle threads cost only the stack pages they touched.
            "num_threads", "1100",
            // A stalled request frees its thread after 5 s; a scrape or an API call takes ms.
            "request_timeout_ms", "5000", "keep_alive_timeout_ms", "2000",
            // Connections wait in the kernel's and civetweb's queues, not in SYN retries.
            "listen_backlog", "4096", "connection_queue", "1024"};
}

bool reload_allowed(config::ReloadAccess access, const std::string& remote) {
    if (access == config::ReloadAccess::any) return true;
    if (access == config::ReloadAccess::off) return false;
    in_addr v4{};
    if (::inet_pton(AF_INET, remote.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
    in6_addr v6{};
    if (::inet_pton(AF_INET6, remote.c_str(), &v6) != 1) return false;
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    // An IPv4 client on a dual-stack socket shows as ::ffff:127.x.y.z (RFC 4291 §2.5.5.2).
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}

std::optional<ListenAddress> parse_listen(const std::string& s) {
    ListenAddress a;
    std::string port;
    if (s.starts_with('[')) {
        const std::size_t close = s.find("]:");
        if (close == std::string::npos) return std::nullopt;
        a.host = s.substr(1, close - 1);
        a.ipv6 = true;
        port = s.substr(close + 2);
    } else {
        const std::size_t colon = s.rfind(':');
        if (colon == std::string::npos) return std::nullopt;
        a.host = s.substr(0, colon);
        port = s.substr(colon + 1);
    }
    unsigned char buf[sizeof(in6_addr)];
    if (::inet_pton(a.ipv6 ? AF_INET6 : AF_INET, a.host.c_str(), buf) != 1) return std::nullopt;
    unsigned v = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || v > 65535)
        return std::nullopt;
    a.port = std::uint16_t(v);
    return a;
}

MetricsServer::MetricsServer(const control::Runtime& rt, const std::string& listen, BuildInfo build)
    : collector_(std::make_shared<Collector>(rt, std::move(build))) {
    const auto addr = parse_listen(listen);
    if (!addr)
        throw std::runtime_error(fmt::format(
            "metrics: listen '{}' is not ADDRESS:PORT (e.g. 127.0.0.1:9469 or [::1]:9469)",
            listen));
    if (const std::string why = bind_problem(*addr); !why.empty())
        throw std::runtime_error(fmt::format("metrics: cannot listen on {}: {}; choose another "
                                             "metrics: {{listen: ...}} or \"\" to disable",
                                             listen, why));
    static CivetCallbacks callbacks = [] {
        CivetCallbacks c{};
        c.begin_request = begin_request;
        c.log_message = log_message;
        return c;
    }();
    const control::Runtime* none = nullptr;
    if (!g_runtime.compare_exchange_strong(none, &rt))
        throw std::logic_error("a MetricsServer already runs");
    try {
        exposer_ = std::make_unique<prometheus::Exposer>(
            listener_options(host_port(*addr, addr->port)), &callbacks);
    } catch (const std::exception& e) {
        g_runtime = nullptr;
        throw std::runtime_error(fmt::format("metrics: cannot listen on {}: {}", listen, e.what()));
    }
    exposer_->RegisterCollectable(collector_);
    const std::vector<int> ports = exposer_->GetListeningPorts();
    url_ = "http://" + host_port(*addr, ports.empty() ? addr->port : ports.front());
}

MetricsServer::~MetricsServer() {
    exposer_.reset(); // stops civetweb and joins its threads: no request runs after this
    g_runtime = nullptr;
}

control::Observation start_metrics(const control::Runtime& rt, BuildInfo build) {
    const std::string& listen = rt.config->metrics.listen;
    if (listen.empty()) return {};
    auto server = std::make_shared<MetricsServer>(rt, listen, std::move(build));
    std::string announce = fmt::format(
        "metrics on {0}/metrics, health on {0}/healthz; try: curl -s {0}/metrics | grep ^ptbsteer_",
        server->base_url());
    return control::Observation{std::move(server), std::move(announce)};
}

} // namespace ptbsteer::metrics
