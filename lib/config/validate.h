// Checks that span sections of a configuration (references, duplicates, overlaps, queues).
#pragma once

#include "config/config.h"
#include "config/yaml_reader.h"

namespace ptbsteer::config {

void validate(const Config& cfg, Reader& r);

} // namespace ptbsteer::config
