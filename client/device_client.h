#pragma once

// The device side of Outpost (DESIGN.md section 2, "Registration", "Authorization", "Release"):
// register with a token, then authorize, check status and release over mTLS with the ID
// certificate, verifying every signed authorization against the key pinned at registration.
// Depends only on outpost_proto, outpost_common (core, crypto) and outpost_https_client, so a
// device maker can link it without the satellite. See docs/client.md for an example.
//
// The state lives in a directory (see device_state.h for its files); a DeviceClient is a view
// of one state directory plus a connection to its satellite.
//
// Thread-safety: a DeviceClient is not thread-safe (it keeps one HTTPS connection); use one per
// thread, or a lock. Clients on different state directories are independent.
// Errors (Result/Status, never exceptions):
//   kFailedPrecondition  not registered, or released (the message says to register again);
//   kInvalidArgument     bad options or tags (nothing sent);
//   kUnauthenticated     the satellite's answer does not verify (certificate or signature),
//                        or the satellite refused the token or the ID certificate;
//   kUnavailable / kDeadlineExceeded  the satellite cannot be reached (nothing changed);
//   kDataLoss            the state directory is damaged;
//   otherwise the code and message of the satellite's error answer.
// A failed call changes nothing on disk.

#include <google/protobuf/message.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/authorization.h"
#include "client/device_state.h"
#include "common/clock.h"
#include "common/status.h"
#include "outpost/v1/devices.pb.h"

namespace outpost::net {
class HttpsClient;
}

namespace outpost::client {

// How a DeviceClient reaches the world (its HTTPS connection is set up from the device state
// with net::ClientOptions).
struct DeviceClientOptions {
  // Time for certificate checks and for expiry in the CLI; null means the system clock.
  std::shared_ptr<const Clock> clock;
  // Per request: connect, TLS handshake, write and read (net::ClientOptions::timeout).
  std::chrono::milliseconds timeout{30'000};
  // How far this device's clock may disagree with the satellite's: an answer issued later than
  // now + skew, or valid only until before now - skew, is refused (authorization.h,
  // CheckCurrent).
  std::chrono::seconds max_clock_skew = kDefaultClockSkew;
};

// The largest answer a device reads from its satellite; a larger one fails as kUnavailable
// without being read whole. Far above any real answer (which the state bounds further).
inline constexpr uint64_t kMaxAnswerBytes = 4ull << 20;
// A satellite's error message is cut to this many bytes (and marked as cut) before it reaches
// the caller: a hostile satellite must not be able to flood a terminal or a log.
inline constexpr size_t kMaxSatelliteMessageBytes = 1024;
// After a failed automatic renewal, the next automatic attempt waits this long (by the clock of
// DeviceClientOptions); RenewCertificate itself always tries.
inline constexpr std::chrono::seconds kAutomaticRenewalRetry{3600};

struct RegisterOptions {
  std::string server_url;  // "https://HOST:PORT" of the satellite
  // The CA that issued the satellite's TLS certificate (the data directory's ca.pem): a file,
  // or its PEM directly (ca_pem wins when both are set).
  std::filesystem::path ca_file;
  std::string ca_pem;
  std::string token;     // "opt_..." from `outpost token create`
  std::string pid;       // product id
  std::string serial;    // serial number
  std::string hostname;  // informational; may be empty
  std::filesystem::path state_dir;
  // A state directory that holds a registered (not released) device is refused, because
  // registering there replaces that device's key: the old instance would stay registered on its
  // satellite, holding its licenses, with nothing left that can use or release them. true
  // abandons it anyway (an operator can still release it: `outpost devices release ID`).
  bool replace_registered = false;
};

// GET /v1/devices/self and the last stored authorization.
struct DeviceStatus {
  v1::Device device;
  // Verified offline against the pinned key; nullopt if the device never authorized.
  std::optional<v1::Authorization> last_authorization;
};

class DeviceClient {
 public:
  // Generates a new ECDSA P-256 device key, sends a CSR for it with the token and UDI to
  // POST /v1/devices/register (server verified with the CA, no client certificate), checks the
  // answer (DeviceState::FromRegistration) and saves the state in options.state_dir. When the
  // directory holds this device's live registration (same UDI, same satellite), the request
  // carries its current ID certificate: the satellite replaces the registration (licenses carried
  // over) only with that proof. Another registered device there is refused (kAlreadyExists,
  // naming it) unless options.replace_registered, or unless its satellite no longer knows it; a
  // released one is replaced.
  static Result<DeviceClient> Register(const RegisterOptions& options,
                                       DeviceClientOptions client_options = {});

  // Loads a registered device's state; no network. A released device opens (released() is
  // true) but its calls fail until it registers again.
  static Result<DeviceClient> Open(const std::filesystem::path& state_dir,
                                   DeviceClientOptions client_options = {});

  DeviceClient(DeviceClient&&) noexcept;
  DeviceClient& operator=(DeviceClient&&) noexcept;
  ~DeviceClient();

  // POST /v1/devices/authorize: `tags` is the device's whole current use and replaces the
  // previous one (empty gives everything back). Each tag must be non-empty and appear once, each
  // count at least 1. The answer is verified (authorization.h), must answer this request (the
  // counts asked, nothing granted beyond them), must be current (CheckCurrent: not issued in the
  // future, not expired, not older than the stored one; DeviceClientOptions::max_clock_skew) and
  // must fit the state; only then is its signed form (CanonicalSignedForm) stored, atomically, as
  // the last authorization, and returned. A refused answer leaves the stored one as it was.
  Result<v1::Authorization> Authorize(const std::vector<v1::TagUse>& tags);

  // GET /v1/devices/self, plus LastAuthorization().
  Result<DeviceStatus> GetStatus();

  // The last stored authorization, verified again against the pinned key; no network, so a
  // device can check its licenses while the satellite is unreachable. nullopt if the device
  // never authorized. Whether it is still valid is the caller's decision (valid_until).
  // kDataLoss if authorization.pb is damaged; the next successful Authorize replaces it.
  Result<std::optional<v1::Authorization>> LastAuthorization() const;

  // POST /v1/devices/renew: a new ID certificate, for a new ECDSA P-256 key, for the same
  // instance, over mTLS with the current certificate; no token. The new key is stored as
  // device.key.next before the request and the swap is crash-safe (device_state.h). The answer
  // is checked like a registration (DeviceState::ApplyRenewal) and must be this registration
  // still. The old certificate is refused by the satellite from then on. Errors, besides those
  // at the top: kFailedPrecondition when the certificate expired (by this device's clock or the
  // satellite's: register again with a token, which takes the registration over with its
  // licenses) or when the satellite's renewal window (renew_after) has not opened yet.
  // Authorize and GetStatus call it by themselves once the clock is past renew_after (see
  // last_renewal_status()).
  Result<v1::RegisterResponse> RenewCertificate();

  // The result of the last automatic renewal attempt (Ok when none was made or it worked). A
  // failed attempt does not fail the call that made it — the current certificate still works
  // until it expires — and is tried again at most once an hour (kAutomaticRenewalRetry).
  const Status& last_renewal_status() const { return last_renewal_status_; }

  // POST /v1/devices/release: gives back every license and deregisters (the ID certificate is
  // refused afterwards), then marks the state as released.
  Result<v1::ReleaseResponse> Release();

  const v1::RegisterResponse& registration() const { return state_.registration(); }
  const std::string& server_url() const { return state_.server_url(); }
  const std::filesystem::path& state_dir() const { return state_.dir(); }
  bool released() const { return state_.released(); }
  const Clock& clock() const { return *options_.clock; }

 private:
  DeviceClient(DeviceState state, DeviceClientOptions options);
  // The live registration in options.state_dir that a new one may replace (see Register).
  static Result<std::optional<DeviceState>> CurrentRegistration(
      const RegisterOptions& options, const DeviceClientOptions& client_options);
  // Ok unless released.
  Status CheckUsable() const;
  // Renews when the clock is past renew_after and no failed attempt is recent; never fails.
  void RenewIfDue();
  // The mTLS connection, created on first use.
  Result<net::HttpsClient*> Connection();
  // Sends one mTLS call and explains a refused ID certificate.
  Status Call(const char* method, const char* target, const google::protobuf::Message& request,
              google::protobuf::Message* response);

  DeviceState state_;
  DeviceClientOptions options_;
  std::unique_ptr<net::HttpsClient> http_;
  Status last_renewal_status_;
  std::optional<TimePoint> last_failed_renewal_;
};

}  // namespace outpost::client
