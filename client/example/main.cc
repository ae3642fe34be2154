// A tiny device program on the installed Outpost device library (docs/client.md, "Installed"):
// registers with a token, authorizes one unit of a tag, prints the verified answer, and
// releases the device again.
//
//   outpost_client_example SATELLITE_URL CA_FILE TOKEN STATE_DIR TAG [SERIAL]
//
// Exit status: 0 when every step succeeded (whatever the tag's status), 1 when one failed (the
// error is printed), 2 on a usage error.

#include <cstdint>
#include <filesystem>
#include <iostream>
#include <string>

#include "client/device_client.h"

namespace {

int Failed(const char* step, const outpost::Status& status) {
  std::cerr << step << " failed: " << status.reason() << ": " << status.message() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6 && argc != 7) {
    std::cerr << "usage: " << argv[0] << " SATELLITE_URL CA_FILE TOKEN STATE_DIR TAG [SERIAL]\n";
    return 2;
  }
  outpost::client::RegisterOptions options;
  options.server_url = argv[1];  // https://HOST:PORT
  options.ca_file = argv[2];     // the satellite's ca.pem
  options.token = argv[3];       // from `outpost token create`
  options.state_dir = argv[4];   // where the device keeps its key, certificate and answers
  options.pid = "OUTPOST-EXAMPLE";
  options.serial = argc == 7 ? argv[6] : "EXAMPLE-0001";
  options.hostname = "example";

  auto device = outpost::client::DeviceClient::Register(options);
  if (!device.ok()) return Failed("register", device.status());
  const outpost::v1::RegisterResponse& registration = device->registration();
  std::cout << "registered instance " << registration.instance_id() << " va " << registration.va()
            << " udi " << registration.udi() << "\n";

  outpost::v1::TagUse use;
  use.set_tag(argv[5]);
  use.set_count(1);
  // Authorize returns an answer only once its signature verified against the key pinned at
  // registration and it answers exactly this request.
  auto authorization = device->Authorize({use});
  if (!authorization.ok()) return Failed("authorize", authorization.status());
  // What a device checks when the satellite is away: the stored answer, verified again offline.
  auto stored = device->LastAuthorization();
  if (!stored.ok()) return Failed("verifying the stored authorization", stored.status());
  if (!stored->has_value() || (*stored)->issued_at() != authorization->issued_at()) {
    std::cerr << "the stored authorization is not the one just received\n";
    return 1;
  }
  std::cout << "verified authorization from satellite " << authorization->satellite_id()
            << " issued " << authorization->issued_at_text() << "\n";
  for (const outpost::v1::TagAuthorization& tag : authorization->tags()) {
    std::cout << "tag " << tag.tag() << " " << tag.status() << " requested " << tag.requested()
              << " granted " << tag.granted() << " valid until "
              << (tag.valid_until_text().empty() ? "-" : tag.valid_until_text()) << "\n";
  }

  auto released = device->Release();
  if (!released.ok()) return Failed("release", released.status());
  int64_t units = 0;
  for (const outpost::v1::TagUse& given_back : released->released()) units += given_back.count();
  std::cout << "released instance " << released->instance_id() << " (" << units
            << " unit(s) given back)\n";
  return 0;
}
