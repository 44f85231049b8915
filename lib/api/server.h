// The control API's HTTP listener (civetweb): `control: {listen, token_file}`. Every request
// needs the bearer token (auth.h); the work is in handlers.h. docs/api.md.
#pragma once

#include <memory>
#include <string>

#include "control/runtime.h"

class CivetServer;

namespace ptbsteer::api {

class ApiServer {
  public:
    // Reads the token and listens at once. Throws std::runtime_error with a sentence when the
    // token file is unusable or the address is malformed or cannot be bound.
    explicit ApiServer(const control::Runtime& rt);
    ~ApiServer();
    ApiServer(const ApiServer&) = delete;
    ApiServer& operator=(const ApiServer&) = delete;

    const std::string& base_url() const { return url_; } // "http://127.0.0.1:9470"

  private:
    class Handler;
    std::unique_ptr<Handler> handler_;
    std::unique_ptr<CivetServer> server_;
    std::string url_;
};

// The observer lib/control calls before the lcores start: an ApiServer when `control:` is set.
control::Observation start_api(const control::Runtime& rt);

} // namespace ptbsteer::api
