#pragma once

// A stand-in for the satellite's device routes on the real HTTPS server (server/http), on
// 127.0.0.1 port 0, so the client's whole flow runs over TLS and mTLS in tests:
//   POST /v1/devices/register   token "opt_good" or "opt_other"; issues an ID certificate from
//                               its CA for the CSR's key (CN = instance id)
//   POST /v1/devices/authorize  mTLS; tags starting with "regid.known" are AUTHORIZED, others
//                               NOT_ENTITLED; answers a SignedAuthorization
//   GET  /v1/devices/self       mTLS; the Device with its holdings
//   POST /v1/devices/release    mTLS; forgets the device's holdings and deregisters it
//   POST /v1/devices/renew      mTLS; a new certificate for the CSR's key, same instance (or 409
//                               "renewal opens later" while set_refuse_renewal(true))
// A released or replaced device's certificate is refused with 401. `misbehave` makes it answer
// the way a broken or hostile satellite would. Thread-safe.

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/net/server.h"
#include "tests/unit/client/client_test_util.h"

namespace outpost::testing {

enum class Misbehaviour {
  kNone,
  kCertificateForAnotherKey,  // register: certificate for a key the device does not hold
  kFlippedSignature,          // authorize: one signature byte flipped
  kOtherInstance,             // authorize: signed, but for another instance
  kDropLastTag,               // authorize: signed, but answers fewer tags than asked
  // Issue 17, item 7: only the TLS key is needed for these (the signed parts are genuine).
  kPaddedCopy,    // authorize: the unsigned readable copy padded with a 2 MiB reason
  kUnknownField,  // authorize: a 3 MiB unknown field in the SignedAuthorization
  // Issue 17, item 8.
  kReplayFirstAnswer,  // authorize: the first answer signed for this device, replayed
  kIssuedEarlier,      // authorize: signed, issued an hour before now
  kExpired,            // authorize: signed, issued and valid until in 2017
  kFromTheFuture,      // authorize: signed, issued in 2096
  kGrantsTooMuch,      // authorize: signed, every tag granted 10^9
  // Issue 17, item 9 (registration answers).
  kHugeVa,          // a 2 MiB virtual account name
  kHugeChain,       // 3,000 certificates in the CA chain
  kOwnRoot,         // the ID certificate from another CA, whose root comes in the answer
  kPathInstanceId,  // instance id (and certificate CN) "../../../../tmp/x"
  // Issue 17, item 10: every mTLS route answers 403 with a message holding "ESC[2J" and
  // `error_padding` more bytes.
  kHostileError,
  // Issue 16: a renewal answer for another instance.
  kRenewOtherInstance,
};

class FakeSatellite {
 public:
  // Starts serving; writes its CA certificate to `dir`/ca.pem.
  static std::unique_ptr<FakeSatellite> StartOrDie(const std::filesystem::path& dir);
  ~FakeSatellite();

  std::string url() const;
  const std::filesystem::path& ca_file() const { return ca_file_; }
  const SatelliteKeys& keys() const { return keys_; }

  void set_misbehaviour(Misbehaviour m);
  // The size of the filler in kHostileError's message (default 3 MiB).
  void set_error_padding(size_t bytes);
  // What an operator's `outpost devices release INSTANCE_ID` does.
  void ReleaseByOperator(const std::string& instance_id);
  int authorize_calls() const;
  // Registration and renewal answers carry this renew_after (unix seconds; 0: none).
  void set_renew_after(int64_t unix_seconds);
  void set_refuse_renewal(bool refuse);
  int renew_calls() const;
  // The instance named by the client certificate of the last registration ("" without one).
  std::string last_registration_proof() const;

  void Shutdown();

 private:
  struct Device {
    v1::RegisterRequest registration;
    std::vector<v1::TagUse> holdings;
    bool registered = true;
    std::optional<v1::SignedAuthorization> first_answer;
  };

  explicit FakeSatellite(SatelliteKeys keys);
  net::Router MakeRouter();
  void Register(net::Request& request, const net::Reply& reply);
  void Authorize(net::Request& request, const net::Reply& reply);
  void Self(net::Request& request, const net::Reply& reply);
  void Release(net::Request& request, const net::Reply& reply);
  void Renew(net::Request& request, const net::Reply& reply);
  // The registered device the request's client certificate names, or null after replying 401.
  Device* Authenticate(const net::Request& request, const net::Reply& reply);

  SatelliteKeys keys_;
  std::filesystem::path ca_file_;
  std::unique_ptr<net::HttpServer> server_;
  mutable std::mutex mu_;
  std::map<std::string, Device> devices_;  // by instance id
  int next_instance_ = 1;
  int authorize_calls_ = 0;
  int renew_calls_ = 0;
  int64_t renew_after_ = 0;
  bool refuse_renewal_ = false;
  std::string last_registration_proof_;
  Misbehaviour misbehaviour_ = Misbehaviour::kNone;
  size_t error_padding_ = 3 << 20;
};

}  // namespace outpost::testing
