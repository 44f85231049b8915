#include "sync/push.h"

#include <civetweb.h>

#include <memory>

#include <fmt/format.h>

namespace ptbsteer::sync {
namespace {

struct Close {
    void operator()(mg_connection* c) const { mg_close_connection(c); }
};

} // namespace

Answer call(const Appliance& a, const std::string& token, const std::string& method,
            const std::string& path, const nlohmann::json& body, int timeout_ms) {
    Answer out;
    char err[256] = {};
    std::unique_ptr<mg_connection, Close> c(
        mg_connect_client(a.host.c_str(), a.port, 0, err, sizeof err));
    if (!c) {
        out.error = fmt::format("{}: cannot connect: {}", a.name, err);
        return out;
    }
    const std::string text = body.is_null() ? std::string() : body.dump();
    const bool v6 = a.host.find(':') != std::string::npos;
    const std::string head = fmt::format(
        "{} {} HTTP/1.1\r\nHost: {}{}{}:{}\r\nAuthorization: Bearer {}\r\n"
        "Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        method, path, v6 ? "[" : "", a.host, v6 ? "]" : "", a.port, token, text.size());
    if (mg_write(c.get(), head.data(), head.size()) != int(head.size()) ||
        (!text.empty() && mg_write(c.get(), text.data(), text.size()) != int(text.size()))) {
        out.error = fmt::format("{}: the request could not be sent", a.name);
        return out;
    }
    if (mg_get_response(c.get(), err, sizeof err, timeout_ms) < 0) {
        out.error = fmt::format("{}: no answer within {} ms: {}", a.name, timeout_ms, err);
        return out;
    }
    out.status = mg_get_response_info(c.get())->status_code;
    std::string answer;
    char buf[4096];
    for (int n; (n = mg_read(c.get(), buf, sizeof buf)) > 0;)
        answer.append(buf, std::size_t(n));
    out.body = nlohmann::json::parse(answer, nullptr, false);
    if (out.body.is_discarded()) out.body = nullptr;
    return out;
}

} // namespace ptbsteer::sync
