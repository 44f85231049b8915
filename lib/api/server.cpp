#include "api/server.h"

#include <stdexcept>

#include <CivetServer.h>
#include <fmt/format.h>

#include "api/auth.h"
#include "api/handlers.h"
#include "metrics/server.h"

namespace ptbsteer::api {
namespace {

void send(mg_connection* conn, const Response& r, bool challenge = false) {
    const std::string body = r.body.dump() + "\n";
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
              "%sConnection: close\r\n\r\n",
              r.status, mg_get_response_code_text(conn, r.status), body.size(),
              challenge ? "WWW-Authenticate: Bearer realm=\"ptbsteer\"\r\n" : "");
    mg_write(conn, body.data(), body.size());
}

// The body, or nullopt when it is larger than max_body. An oversized body is still read (and
// discarded) up to 16 x max_body, so that the client, still sending, sees the 413.
std::optional<std::string> read_body(mg_connection* conn) {
    std::string body;
    std::size_t total = 0;
    char buf[16384];
    for (;;) {
        const int n = mg_read(conn, buf, sizeof buf);
        if (n <= 0) break;
        total += std::size_t(n);
        if (total <= max_body) body.append(buf, std::size_t(n));
        if (total > 16 * max_body) break;
    }
    if (total > max_body) return std::nullopt;
    return body;
}

} // namespace

class ApiServer::Handler : public CivetHandler {
  public:
    Handler(const control::Runtime& rt, std::string token) : rt_(rt), token_(std::move(token)) {}

    bool handleGet(CivetServer*, mg_connection* c) override { return serve(c); }
    bool handlePut(CivetServer*, mg_connection* c) override { return serve(c); }
    bool handlePost(CivetServer*, mg_connection* c) override { return serve(c); }
    bool handleDelete(CivetServer*, mg_connection* c) override { return serve(c); }

  private:
    bool serve(mg_connection* conn) {
        const mg_request_info* ri = mg_get_request_info(conn);
        const Response r = answer(conn, ri);
        send(conn, r, r.status == 401);
        if (rt_.api) rt_.api->count(endpoint_of(ri->local_uri), r.status);
        return true;
    }

    Response answer(mg_connection* conn, const mg_request_info* ri) {
        const char* auth = mg_get_header(conn, "Authorization");
        if (!auth || !authorized(auth, token_))
            return {401,
                    refusal(auth ? "wrong bearer token"
                                 : "missing Authorization: Bearer TOKEN (control: token_file)")};
        const auto body = read_body(conn);
        if (!body) return {413, refusal(fmt::format("the body is larger than {} bytes", max_body))};
        Response r;
        try {
            r = handle(rt_, hops_, ri->request_method, ri->local_uri,
                       ri->query_string ? ri->query_string : "", *body);
        } catch (const std::exception& e) {
            r = {500, refusal(fmt::format("internal error: {}", e.what()))};
        }
        return r;
    }

    const control::Runtime& rt_;
    HopCache hops_; // next-hops of earlier PUTs, shared by this listener's threads
    std::string token_;
};

ApiServer::ApiServer(const control::Runtime& rt)
    : handler_(std::make_unique<Handler>(rt, read_token(rt.config->control.token_file))) {
    const std::string& listen = rt.config->control.listen;
    const auto addr = metrics::parse_listen(listen);
    if (!addr)
        throw std::runtime_error(fmt::format(
            "control: listen '{}' is not ADDRESS:PORT (e.g. 127.0.0.1:9470 or [::1]:9470)",
            listen));
    const std::string port = addr->ipv6 ? fmt::format("[{}]:{}", addr->host, addr->port)
                                        : fmt::format("{}:{}", addr->host, addr->port);
    try {
        server_ = std::make_unique<CivetServer>(metrics::listener_options(port));
    } catch (const std::exception& e) {
        throw std::runtime_error(
            fmt::format("control: cannot listen on {}: {}; choose another control: {{listen: ...}}",
                        listen, e.what()));
    }
    server_->addHandler("/v1", handler_.get());
    const std::vector<int> ports = server_->getListeningPorts();
    const int bound = ports.empty() ? addr->port : ports.front();
    url_ = addr->ipv6 ? fmt::format("http://[{}]:{}", addr->host, bound)
                      : fmt::format("http://{}:{}", addr->host, bound);
}

ApiServer::~ApiServer() {
    server_.reset(); // stops civetweb and joins its threads: no request runs after this
}

control::Observation start_api(const control::Runtime& rt) {
    if (!rt.config->control.enabled) return {};
    auto server = std::make_shared<ApiServer>(rt);
    std::string announce =
        fmt::format("control API on {0}/v1/ (bearer token from {1}); try: curl -s -H "
                    "\"Authorization: Bearer $(cat {1})\" {0}/v1/groups",
                    server->base_url(), rt.config->control.token_file);
    return control::Observation{std::move(server), std::move(announce)};
}

} // namespace ptbsteer::api
