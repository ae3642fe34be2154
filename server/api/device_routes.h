#pragma once

#include <functional>

#include "common/net/router.h"

namespace outpost::server::licensing {
class DeviceService;
}  // namespace outpost::server::licensing

namespace outpost::server::api {

// Registers the device API (DESIGN.md section 6): POST /v1/devices/register with a token, and
// over mTLS with the ID certificate POST /v1/devices/authorize, POST /v1/devices/renew (a new ID
// certificate), POST /v1/devices/release and GET /v1/devices/self. Handlers never block an I/O
// thread: they answer from the licensing service's commit callback, or (GET /v1/devices/self, which
// reads the device's row) from `run_blocking`. `service` must outlive the router.
void AddDeviceRoutes(net::Router& router, licensing::DeviceService* service,
                     std::function<void(std::function<void()>)> run_blocking);

}  // namespace outpost::server::api
