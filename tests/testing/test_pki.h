#pragma once

#include <string>

#include "common/clock.h"
#include "common/status.h"

namespace outpost::testing {

// A throwaway PKI for TLS tests: a CA, a server certificate for 127.0.0.1/localhost, and a
// client certificate, all as PEM. Valid from an hour ago for a day (wall clock: TLS stacks
// check validity against the real time).
struct TestPki {
  std::string ca_pem;
  std::string server_chain_pem;  // server certificate followed by the CA
  std::string server_key_pem;
  std::string client_certificate_pem;
  std::string client_key_pem;
};

// `name` goes into the subject names, so two PKIs are told apart in error messages.
TestPki MakeTestPkiOrDie(const std::string& name);

}  // namespace outpost::testing
