#pragma once

// DeviceService: the licensing service as devices reach it (DESIGN.md section 2, "Registration"
// to "Authorization"; the routes of server/api/device_routes.cc).
//
// Asynchronous: a call never blocks the calling (I/O) thread. What changes state takes a
// callback, which runs on the writer thread after the commit — encode the answer elsewhere
// (net::Reply::Later). Identify takes only a short shared lock and never waits behind SQL; Self
// reads the device's row, so call it off the I/O threads.
//
// Thread-safety: thread-safe. Owned by LicensingService (service.h), which it must not outlive.

#include <functional>
#include <optional>
#include <string>

#include "common/crypto/ca.h"
#include "common/status.h"
#include "outpost/v1/devices.pb.h"
#include "server/licensing/options.h"

namespace outpost::server::licensing {

class LicensingImpl;

class DeviceService {
 public:
  template <typename T>
  using Callback = std::function<void(Result<T>)>;

  explicit DeviceService(LicensingImpl& impl) : impl_(impl) {}
  DeviceService(const DeviceService&) = delete;
  DeviceService& operator=(const DeviceService&) = delete;

  // POST /v1/devices/register. A UDI that is registered already is registered again (its
  // licenses carried over to the new instance) only when `proven_instance` — the instance the
  // request's client certificate identifies (Identify) — is that device, or when an operator
  // rehosted the instance to this UDI; and never into another VA. Errors: kInvalidArgument
  // (UDI, hostname, key/CSR, CSR signature), kUnauthenticated (token: unknown, expired, revoked,
  // used up), kAlreadyExists (the UDI is registered and not proven; the serial is registered in
  // the VA under another product — neither names the other device), kFailedPrecondition (a
  // proven device with a token of another VA), kResourceExhausted (rate limit for
  // `remote_address`), kUnavailable (storm: queue full).
  void Register(const v1::RegisterRequest& request, const std::string& remote_address,
                std::optional<std::string> proven_instance, Callback<v1::RegisterResponse> done);

  // Who is calling: the instance named by the certificate's CN, if it is registered and the
  // certificate is its current one. kUnauthenticated otherwise (a released or replaced
  // instance, or no certificate).
  Result<DeviceIdentity> Identify(const std::optional<crypto::Certificate>& certificate) const;

  // The instance a certificate of this satellite's CA was issued to, if that instance is still
  // registered — whether or not it is the instance's current certificate (a renewal replaced it).
  // Register takes it as proof that the caller is that device: the CA certified the name only to
  // the holder of the instance's key. nullopt without a certificate or for an unknown instance.
  std::optional<std::string> CertifiedInstance(
      const std::optional<crypto::Certificate>& certificate) const;

  // POST /v1/devices/renew: a new ID certificate for `device`, whose current certificate (the
  // one Identify accepted) is `current`, for the key of `request.csr_pem`. The new serial
  // replaces the old one in the same unit, so `current` is refused from the commit on; the
  // answer has the shape of a registration (same instance, VA, UDI, export permission). Audited
  // as device.renew. Errors: kInvalidArgument (no CSR, not a CSR, its signature does not
  // verify), kPermissionDenied (the CSR's CN is not the calling instance), kFailedPrecondition
  // (`current` expired by the satellite's clock: register again with a token; or renewal is not
  // open yet: before current.not_before + certificate_renewal, the message says when),
  // kUnauthenticated (released or replaced meanwhile).
  void Renew(const DeviceIdentity& device, const crypto::Certificate& current,
             const v1::RenewRequest& request, Callback<v1::RegisterResponse> done);

  // POST /v1/devices/authorize: the signed answer. kInvalidArgument (tags, counts, duplicates),
  // kUnauthenticated (the instance went away meanwhile).
  // Answers committed in the same writer batch are signed together, once, after the batch
  // ("ed25519-merkle", see devices.proto); `done` runs on the writer thread with the signed
  // answer.
  void Authorize(const DeviceIdentity& device, const v1::AuthorizeRequest& request,
                 Callback<v1::SignedAuthorization> done);

  // POST /v1/devices/release: everything back, deregistered. Audited with the device as actor.
  void ReleaseSelf(const DeviceIdentity& device, Callback<v1::ReleaseResponse> done);

  // GET /v1/devices/self (blocking: reads the device's row). kUnauthenticated when the device
  // was released or replaced.
  Result<v1::Device> Self(const DeviceIdentity& device) const;

 private:
  LicensingImpl& impl_;
};

}  // namespace outpost::server::licensing
