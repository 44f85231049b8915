// A serving group as JSON, in the fields and spellings of a YAML group (docs/configuration.md),
// so that what GET returns can be PUT back unchanged. `source` says who owns it.
#pragma once

#include <nlohmann/json.hpp>

#include "config/config.h"

namespace ptbsteer::api {

nlohmann::json group_json(const config::Config& cfg, const config::Group& g);

} // namespace ptbsteer::api
