#include "common/config/config.h"

#include <algorithm>

#include "common/config/duration.h"
#include "common/config/key_table.h"

namespace outpost::config {
namespace {

constexpr std::string_view kListenAccepted =
    "accepted: HOST:PORT with a port from 0 to 65535 (0 = any free port), e.g. "
    "\"127.0.0.1:8443\", \"0.0.0.0:8443\", \"[::1]:8443\"";

Status BadListen(std::string_view text, std::string_view why) {
  return InvalidArgument(internal::QuoteToml(text) + " is not a listen address (" +
                         std::string(why) + "); " + std::string(kListenAccepted));
}

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

}  // namespace

std::string ListenAddress::ToString() const {
  const std::string port_text = std::to_string(port);
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + port_text;
  return host + ":" + port_text;
}

Result<ListenAddress> ParseListenAddress(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return BadListen(text, "no closing ']'");
    host = text.substr(1, close - 1);
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return BadListen(text, "no :PORT after the address");
    }
    port = text.substr(close + 2);
    const bool ipv6_chars = std::all_of(host.begin(), host.end(), [](char c) {
      return IsAlnum(c) || c == ':' || c == '.' || c == '%';
    });
    if (host.find(':') == std::string_view::npos || !ipv6_chars) {
      return BadListen(text, "brackets hold an IPv6 address");
    }
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return BadListen(text, "no :PORT");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return BadListen(text, "write IPv6 addresses in brackets");
    }
    const bool host_chars = std::all_of(host.begin(), host.end(), [](char c) {
      return IsAlnum(c) || c == '.' || c == '-' || c == '_';
    });
    if (!host_chars) return BadListen(text, "the host has characters a host name cannot have");
  }
  if (host.empty()) return BadListen(text, "no host; use 0.0.0.0 or [::] for all addresses");
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return BadListen(text, "the port is not a number");
  }
  const int port_number = std::stoi(std::string(port));
  if (port_number > 65535) return BadListen(text, "the port is above 65535");
  return ListenAddress{std::string(host), static_cast<std::uint16_t>(port_number)};
}

Status Validate(const Config& config) {
  std::vector<std::string> problems;
  // Each key's own rules, exactly as when it is read: write the value back through its setter.
  Config scratch = config;
  for (const internal::Key& key : internal::Keys()) {
    if (Status s = key.set(scratch, key.get(config)); !s.ok()) {
      problems.push_back(std::string(key.name) + ": " + s.message());
    }
  }

  auto shorter = [&problems](std::string_view short_name, Duration short_value,
                             std::string_view long_name, Duration long_value) {
    if (short_value < long_value) return;
    problems.push_back(std::string(short_name) + " (" + FormatDuration(short_value) +
                       ") must be shorter than " + std::string(long_name) + " (" +
                       FormatDuration(long_value) + ")");
  };
  const PolicyConfig& policy = config.policy;
  shorter("policy.authorization_renewal", policy.authorization_renewal,
          "policy.authorization_validity", policy.authorization_validity);
  shorter("policy.certificate_renewal", policy.certificate_renewal, "policy.certificate_validity",
          policy.certificate_validity);
  if (policy.token_default_expiry_days > policy.token_max_expiry_days) {
    problems.push_back("policy.token_default_expiry_days (" +
                       std::to_string(policy.token_default_expiry_days) +
                       ") must not exceed policy.token_max_expiry_days (" +
                       std::to_string(policy.token_max_expiry_days) + ")");
  }

  const SyncConfig& sync = config.sync;
  if (sync.jitter > sync.interval) {
    problems.push_back("sync.jitter (" + FormatDuration(sync.jitter) +
                       ") must not exceed sync.interval (" + FormatDuration(sync.interval) + ")");
  }
  if (sync.mode == SyncMode::kOnline && sync.central_url.empty()) {
    problems.push_back(
        "sync.mode is \"online\" but sync.central_url is empty; set it to central's https:// "
        "URL or use mode \"offline\"");
  }

  const AuditConfig& audit = config.audit;
  if (audit.syslog_url.rfind("tls://", 0) == 0 && audit.syslog_ca.empty()) {
    problems.push_back(
        "audit.syslog_url is tls:// but audit.syslog_ca is empty; set it to the PEM file of the "
        "CA that issued the collector's certificate");
  }

  if (problems.empty()) return Status::Ok();
  return InvalidArgument(internal::JoinLines(problems));
}

std::filesystem::path ResolvePath(const Config& config, const std::filesystem::path& path) {
  if (path.is_absolute()) return path;
  return config.data_dir / path;
}

}  // namespace outpost::config
