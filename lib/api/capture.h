// GET|POST|DELETE /v1/capture: capture on demand (lib/control/capture.h) started and stopped at
// run time. The API names a file, never a path: it is created (never overwritten) in
// `control.capture_dir`, so a token cannot be used to truncate an arbitrary file as root.
#pragma once

#include <string>

#include "api/handlers.h"

namespace ptbsteer::api {

inline constexpr std::string_view capture_path = "/v1/capture";

Response capture_status(const control::Runtime& rt);
// Body: {"file": NAME, "what": "drops"|"all", "max_bytes": N}, every field optional.
Response start_capture(const control::Runtime& rt, const std::string& body);
Response stop_capture(const control::Runtime& rt);

} // namespace ptbsteer::api
