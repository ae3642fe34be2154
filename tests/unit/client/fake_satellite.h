#pragma once

// A stand-in for the satellite's device routes on the real HTTPS server (server/http), on
// 127.0.0.1 port 0, so the client's whole flow runs over TLS and mTLS in tests:
//   POST /v1/devices/register   token "opt_good" or "opt_other"; issues an ID certificate from
//                               its CA for the CSR's key (CN = instance id)
//   POST /v1/devices/authorize  mTLS; tags starting with "regid.known" are AUTHORIZED, others
//                               NOT_ENTITLED; answers a SignedAuthorization
//   GET  /v1/devices/self       mTLS; the Device with its holdings
//   POST /v1/devices/release    mTLS; forgets the device's holdings and deregisters it
// A released or replaced device's certificate is refused with 401. `misbehave` makes it answer
// the way a broken or hostile satellite would. Thread-safe.

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "server/http/server.h"
#include "tests/unit/client/client_test_util.h"

namespace outpost::testing {

enum class Misbehaviour {
  kNone,
  kCertificateForAnotherKey,  // register: certificate for a key the device does not hold
  kFlippedSignature,          // authorize: one signature byte flipped
  kOtherInstance,             // authorize: signed, but for another instance
  kDropLastTag,               // authorize: signed, but answers fewer tags than asked
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
  // What an operator's `outpost devices release INSTANCE_ID` does.
  void ReleaseByOperator(const std::string& instance_id);
  int authorize_calls() const;
  // The instance named by the client certificate of the last registration ("" without one).
  std::string last_registration_proof() const;

  void Shutdown();

 private:
  struct Device {
    v1::RegisterRequest registration;
    std::vector<v1::TagUse> holdings;
    bool registered = true;
  };

  explicit FakeSatellite(SatelliteKeys keys);
  http::Router MakeRouter();
  void Register(http::Request& request, const http::Reply& reply);
  void Authorize(http::Request& request, const http::Reply& reply);
  void Self(http::Request& request, const http::Reply& reply);
  void Release(http::Request& request, const http::Reply& reply);
  // The registered device the request's client certificate names, or null after replying 401.
  Device* Authenticate(const http::Request& request, const http::Reply& reply);

  SatelliteKeys keys_;
  std::filesystem::path ca_file_;
  std::unique_ptr<http::HttpServer> server_;
  mutable std::mutex mu_;
  std::map<std::string, Device> devices_;  // by instance id
  int next_instance_ = 1;
  int authorize_calls_ = 0;
  std::string last_registration_proof_;
  Misbehaviour misbehaviour_ = Misbehaviour::kNone;
};

}  // namespace outpost::testing
