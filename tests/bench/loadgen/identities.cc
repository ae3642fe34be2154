#include "tests/bench/loadgen/identities.h"

#include <fcntl.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "common/crypto/keys.h"
#include "common/crypto/x509.h"

namespace outpost::bench {

namespace {

constexpr std::string_view kEndMarker = "-----END ";

// The PEM blocks of `text`, in order.
std::vector<std::string_view> PemBlocks(std::string_view text) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (true) {
    const size_t begin = text.find("-----BEGIN ", pos);
    if (begin == std::string_view::npos) break;
    const size_t end_marker = text.find(kEndMarker, begin);
    if (end_marker == std::string_view::npos) break;
    const size_t end = text.find("-----", end_marker + kEndMarker.size());
    if (end == std::string_view::npos) break;
    out.push_back(text.substr(begin, end + 5 - begin));
    pos = end + 5;
  }
  return out;
}

}  // namespace

Result<std::vector<DeviceIdentity>> LoadIdentities(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read identities file " + path.string());
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  const std::vector<std::string_view> blocks = PemBlocks(text);
  if (blocks.empty() || blocks.size() % 2 != 0) {
    return InvalidArgument(path.string() +
                           " must hold (certificate, private key) PEM pairs; run the load "
                           "generator in register mode with --save-identities first");
  }
  std::vector<DeviceIdentity> out;
  out.reserve(blocks.size() / 2);
  for (size_t i = 0; i < blocks.size(); i += 2) {
    crypto::BioPtr cert_bio(BIO_new_mem_buf(blocks[i].data(), static_cast<int>(blocks[i].size())));
    crypto::BioPtr key_bio(
        BIO_new_mem_buf(blocks[i + 1].data(), static_cast<int>(blocks[i + 1].size())));
    DeviceIdentity id;
    id.certificate.reset(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
    id.key.reset(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
    if (!id.certificate || !id.key) {
      return InvalidArgument(path.string() + ": pair " + std::to_string(i / 2) +
                             " is not a certificate followed by its private key");
    }
    out.push_back(std::move(id));
  }
  return out;
}

Result<std::vector<PendingDevice>> MakePendingDevices(size_t count, const std::string& algorithm,
                                                      int threads) {
  OUTPOST_ASSIGN_OR_RETURN(crypto::KeyAlgorithm alg, crypto::ParseKeyAlgorithm(algorithm));
  std::vector<PendingDevice> out(count);
  std::vector<Status> failures(static_cast<size_t>(std::max(1, threads)), Status::Ok());
  std::vector<std::thread> workers;
  for (size_t t = 0; t < failures.size(); ++t) {
    workers.emplace_back([&, t] {
      for (size_t i = t; i < count; i += failures.size()) {
        auto key = crypto::PrivateKey::Generate(alg);
        if (!key.ok()) {
          failures[t] = key.status();
          return;
        }
        // The CN is ignored by the satellite (it names the instance itself).
        auto csr = crypto::CertificateSigningRequest::Create(*key, "outpost-bench-device");
        if (!csr.ok()) {
          failures[t] = csr.status();
          return;
        }
        out[i] = {key->ToPem(), csr->ToPem()};
      }
    });
  }
  for (std::thread& w : workers) w.join();
  for (const Status& s : failures) OUTPOST_RETURN_IF_ERROR(s);
  return out;
}

Status SaveIdentities(const std::filesystem::path& path,
                      const std::vector<std::pair<std::string, std::string>>& cert_and_key_pems) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Unavailable("cannot write identities file " + path.string());
  std::string text;
  for (const auto& [cert, key] : cert_and_key_pems) text += cert + key;
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n <= 0) {
      ::close(fd);
      return Unavailable("short write to identities file " + path.string());
    }
    written += static_cast<size_t>(n);
  }
  ::close(fd);
  return Status::Ok();
}

}  // namespace outpost::bench
