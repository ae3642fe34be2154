#include "server/reloader.h"

#include <boost/json.hpp>

#include "common/config/config_file.h"
#include "common/crypto/ca.h"
#include "common/crypto/hash.h"
#include "common/crypto/keys.h"
#include "common/crypto/secure_file.h"
#include "common/log/logging.h"
#include "common/proto_json.h"
#include "common/text.h"
#include "common/time.h"
#include "server/licensing/operator_service.h"
#include "server/reload_plan.h"
#include "server/store/meta.h"
#include "server/sync/satellite_sync.h"
#include "server/tls_renewal.h"
#include "spdlog/spdlog.h"

namespace outpost::server {
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

constexpr size_t kMaxPemBytes = 1 << 20;

Result<std::string> ReadPem(const config::Config& config, const fs::path& path,
                            std::string_view key) {
  const fs::path resolved = config::ResolvePath(config, path);
  auto pem = crypto::ReadSmallFile(resolved, kMaxPemBytes);
  if (!pem.ok()) return pem.status().WithContext(std::string(key));
  return pem;
}

licensing::AuthorizationPolicy PolicyOf(const config::Config& c) {
  licensing::AuthorizationPolicy p;
  p.validity = c.policy.authorization_validity;
  p.renewal = c.policy.authorization_renewal;
  p.floating_lease = c.policy.floating_lease;
  return p;
}

bool SamePolicy(const licensing::AuthorizationPolicy& a, const licensing::AuthorizationPolicy& b) {
  return a.validity == b.validity && a.renewal == b.renewal && a.floating_lease == b.floating_lease;
}

bool SameTls(const net::TlsOptions& a, const net::TlsOptions& b) {
  return a.certificate_chain_pem == b.certificate_chain_pem &&
         a.private_key_pem == b.private_key_pem && a.client_ca_pem == b.client_ca_pem &&
         a.min_version == b.min_version;
}

void AddChanges(const std::vector<config::KeyChange>& changes,
                google::protobuf::RepeatedPtrField<v1::ConfigChange>* out) {
  for (const config::KeyChange& c : changes) {
    v1::ConfigChange* p = out->Add();
    p->set_key(c.key);
    p->set_before(c.before);
    p->set_after(c.after);
  }
}

}  // namespace

Result<net::TlsOptions> ReadTlsFiles(const config::Config& config) {
  net::TlsOptions tls;
  OUTPOST_ASSIGN_OR_RETURN(tls.certificate_chain_pem,
                           ReadPem(config, config.tls.certificate, "tls.certificate"));
  OUTPOST_ASSIGN_OR_RETURN(
      auto key, crypto::PrivateKey::LoadFile(config::ResolvePath(config, config.tls.private_key)));
  tls.private_key_pem = key.ToPem();
  OUTPOST_ASSIGN_OR_RETURN(tls.client_ca_pem,
                           ReadPem(config, config.tls.client_ca, "tls.client_ca"));
  tls.min_version = config.tls.min_version == config::TlsVersion::kTls13 ? "1.3" : "1.2";
  return tls;
}

Reloader::Reloader(Parts parts, config::Config running, net::TlsOptions tls, ConfigLoader load)
    : parts_(std::move(parts)), load_(std::move(load)), running_(std::move(running)) {
  std::lock_guard lock(mu_);
  NoteCertificate(tls);
  tls_ = std::move(tls);
}

void Reloader::AddMetrics(net::Metrics& metrics) {
  metrics.AddFamilies([this] {
    net::Metrics::Family reloads{
        "outpost_config_reloads_total",
        "Reloads of the configuration (SIGHUP, outpost reload), by result: ok or refused (the "
        "running configuration stayed in force).",
        "counter",
        {{{{"result", "ok"}}, static_cast<double>(reloads_ok_.load())},
         {{{"result", "refused"}}, static_cast<double>(reloads_refused_.load())}}};
    return std::vector<net::Metrics::Family>{std::move(reloads)};
  });
  metrics.AddCallback(
      "outpost_tls_certificate_expiry_seconds",
      "Seconds until the TLS server certificate in service expires (negative: expired).", "gauge",
      [this] {
        return static_cast<double>(not_after_.load() - ToUnixSeconds(parts_.clock->Now()));
      });
  metrics.AddCallback(
      "outpost_alarm_tls_certificate",
      "1 while the TLS server certificate expires within tls.renew_before and the satellite "
      "cannot renew it (an operator's certificate, or the satellite CA ends too soon).",
      "gauge", [this] { return alarm_.load() ? 1.0 : 0.0; });
}

void Reloader::NoteCertificate(const net::TlsOptions& tls) {
  info_.Clear();
  auto chain = crypto::Certificate::ParsePemChain(tls.certificate_chain_pem);
  if (!chain.ok() || chain->empty()) return;
  const crypto::Certificate& leaf = chain->front();
  info_.set_fingerprint(leaf.Fingerprint());
  info_.set_serial(leaf.serial_hex());
  info_.set_not_after(ToUnixSeconds(leaf.not_after()));
  info_.set_not_after_text(FormatRfc3339(leaf.not_after()));
  for (const auto& n : leaf.dns_names()) info_.add_names(n);
  for (const auto& n : leaf.ip_addresses()) info_.add_names(n);
  if (auto ca = crypto::Certificate::LoadFile(parts_.dir.ca_certificate()); ca.ok()) {
    info_.set_issued_by_satellite_ca(IssuedBy(leaf, *ca));
  }
  not_after_ = info_.not_after();
}

v1::TlsCertificateInfo Reloader::certificate() const {
  std::lock_guard lock(mu_);
  return info_;
}

Status Reloader::Audit(const audit::Actor& by, std::string action, std::string object,
                       std::string details, const std::optional<std::string>& config_sha256) {
  return parts_.writer->Run([&](sqlite::Connection& db) -> Status {
    OUTPOST_RETURN_IF_ERROR(audit::Append(db, {by, action, object, details}, parts_.clock->Now()));
    if (config_sha256) {
      OUTPOST_RETURN_IF_ERROR(store::kSatelliteMeta.Set(db, "config_sha256", *config_sha256));
    }
    return Status::Ok();
  });
}

Status Reloader::Refuse(const audit::Actor& by, const Status& why) {
  reloads_refused_.fetch_add(1);
  Status refusal(why.code(),
                 "the configuration was not reloaded and the running one stays in "
                 "force: " +
                     why.message());
  spdlog::error("{}", refusal.message());
  json::object details{{"error", why.message()}};
  if (Status s = Audit(by, "config.reload.refused", "outpost.toml", json::serialize(details),
                       std::nullopt);
      !s.ok()) {
    spdlog::warn("recording the refused reload failed: {}", s.ToString());
  }
  return refusal;
}

Result<v1::ReloadReport> Reloader::Reload(const audit::Actor& by) {
  std::lock_guard lock(mu_);
  Result<config::Config> loaded =
      load_ ? load_() : Result<config::Config>(Internal("no configuration source"));
  if (!loaded.ok()) return Refuse(by, loaded.status());
  if (loaded->data_dir.empty()) loaded->data_dir = running_.data_dir;
  ReloadPlan plan = PlanReload(running_, *loaded);
  if (Status s = config::Validate(plan.effective); !s.ok()) return Refuse(by, s);
  auto tls = ReadTlsFiles(plan.effective);
  if (!tls.ok()) return Refuse(by, tls.status());
  const bool audit_changed = !(plan.effective.audit == running_.audit);
  if (audit_changed && parts_.check_audit) {
    if (Status s = parts_.check_audit(plan.effective); !s.ok()) return Refuse(by, s);
  }
  const bool tls_changed = !SameTls(*tls, tls_);

  // The steps that can fail come first, each undone if a later one fails.
  licensing::OperatorService& licensing = *parts_.licensing;
  const licensing::AuthorizationPolicy old_policy = licensing.configured_policy();
  const licensing::AuthorizationPolicy new_policy = PolicyOf(plan.effective);
  const bool policy_changed = !SamePolicy(old_policy, new_policy);
  auto restore_policy = [&] {
    licensing.SetConfiguredPolicy(old_policy);
    if (Status s = parts_.sync->ApplyStoredPolicy(); !s.ok()) {
      spdlog::warn("restoring the policy failed: {}", s.ToString());
    }
  };
  if (policy_changed) {
    if (Status s = new_policy.Validate(); !s.ok()) {
      return Refuse(by, InvalidArgument("[policy]: " + s.message()));
    }
    licensing.SetConfiguredPolicy(new_policy);
    if (Status s = parts_.sync->ApplyStoredPolicy(); !s.ok()) {
      restore_policy();
      return Refuse(by, s.WithContext("[policy] with central's policy"));
    }
  }
  if (tls_changed) {
    if (Status s = parts_.server->ReloadTls(*tls); !s.ok()) {
      if (policy_changed) restore_policy();
      return Refuse(by, s.WithContext("tls"));
    }
  }

  // From here on nothing fails.
  if (plan.effective.log.level != running_.log.level) {
    if (auto level = log::ParseLogLevel(plan.effective.log.level); level.ok()) {
      spdlog::default_logger()->set_level(*level);
    }
  }
  if (!(plan.effective.sync == running_.sync)) parts_.sync->Reconfigure(plan.effective.sync);
  if (audit_changed && parts_.apply_audit) parts_.apply_audit(plan.effective);
  running_ = plan.effective;
  if (tls_changed) {
    tls_ = std::move(*tls);
    NoteCertificate(tls_);
  }

  v1::ReloadReport report;
  AddChanges(plan.applied, report.mutable_applied());
  AddChanges(plan.needs_restart, report.mutable_needs_restart());
  AddChanges(plan.ignored, report.mutable_ignored());
  report.set_certificate_reloaded(tls_changed);
  *report.mutable_certificate() = info_;
  for (const auto& c : plan.applied) report.add_messages("applied: " + config::Describe(c));
  for (const auto& c : plan.needs_restart) report.add_messages(RestartMessage(c));
  for (const auto& c : plan.ignored) {
    report.add_messages("not used by a running satellite: " + config::Describe(c) +
                        " (names go into the certificate `outpost init` issues; a renewal keeps "
                        "the certificate's names)");
  }
  if (tls_changed) {
    report.add_messages("TLS certificate reloaded for new connections: serial " + info_.serial() +
                        ", expires " + info_.not_after_text());
  }
  if (report.messages().empty()) report.add_messages("nothing changed");
  reloads_ok_.fetch_add(1);
  spdlog::info("configuration reloaded by {}", by.ToString());
  for (const auto& c : plan.applied) spdlog::info("reload applied: {}", config::Describe(c));
  for (const auto& c : plan.needs_restart) spdlog::warn("reload: {}", RestartMessage(c));
  for (const auto& m : report.messages()) {
    if (m.starts_with("not used") || m.starts_with("TLS")) spdlog::info("reload: {}", m);
  }
  const std::string digest = crypto::Sha256Hex(config::RenderConfig(running_));
  if (Status s = Audit(by, "config.reload", "outpost.toml", ToJson(report), digest); !s.ok()) {
    spdlog::warn("recording the reload failed: {}", s.ToString());
  }
  return report;
}

Status Reloader::ApplyTls(net::TlsOptions tls) {
  OUTPOST_RETURN_IF_ERROR(parts_.server->ReloadTls(tls));
  tls_ = std::move(tls);
  NoteCertificate(tls_);
  return Status::Ok();
}

Status Reloader::CheckCertificate() {
  std::lock_guard lock(mu_);
  const TimePoint now = parts_.clock->Now();
  auto chain = crypto::Certificate::ParsePemChain(tls_.certificate_chain_pem);
  if (!chain.ok() || chain->empty()) {
    return Internal("the TLS certificate in service cannot be parsed");
  }
  const crypto::Certificate current = chain->front();
  auto ca_certificate = crypto::Certificate::LoadFile(parts_.dir.ca_certificate());
  if (!ca_certificate.ok()) return ca_certificate.status();
  const bool ours = IssuedBy(current, *ca_certificate);
  const RenewalVerdict verdict =
      DecideRenewal(current, ours, *ca_certificate, now, running_.tls.renew_before);
  const std::string expires = FormatRfc3339(current.not_after());
  const fs::path cert_path = config::ResolvePath(running_, running_.tls.certificate);

  auto raise = [&](std::string message) -> Status {
    spdlog::warn("TLS_CERTIFICATE: {}", message);
    alarm_ = true;
    if (!alarm_audited_) {
      json::object details{{"alarm", "TLS_CERTIFICATE"},
                           {"serial", current.serial_hex()},
                           {"not_after", expires},
                           {"message", message}};
      Status s = Audit(audit::Actor::System(), "alarm.tls_certificate", "tls:" + cert_path.string(),
                       json::serialize(details), std::nullopt);
      if (s.ok()) alarm_audited_ = true;
    }
    return FailedPrecondition(message);
  };

  switch (verdict) {
    case RenewalVerdict::kValid:
      alarm_ = false;
      alarm_audited_ = false;
      return Status::Ok();
    case RenewalVerdict::kOperatorExpiring:
      return raise("the TLS server certificate " + cert_path.string() + " expires at " + expires +
                   " and was not issued by the satellite CA, so the satellite does not renew it; "
                   "install a new certificate there and run `outpost reload`");
    case RenewalVerdict::kCaExpiresTooSoon:
      return raise("the TLS server certificate expires at " + expires +
                   " and cannot be renewed for long: the satellite CA itself expires at " +
                   FormatRfc3339(ca_certificate->not_after()));
    case RenewalVerdict::kRenew:
      break;
  }

  auto fail = [&](const Status& s) {
    return raise("renewing the TLS server certificate (expires " + expires +
                 ") failed: " + s.message());
  };
  auto ca_key = crypto::PrivateKey::LoadFile(parts_.dir.ca_key());
  if (!ca_key.ok()) return fail(ca_key.status());
  auto ca = crypto::CertificateAuthority::Load(*ca_certificate, std::move(*ca_key));
  if (!ca.ok()) return fail(ca.status());
  auto key = crypto::PrivateKey::FromPem(tls_.private_key_pem);
  if (!key.ok()) return fail(key.status());
  auto renewed = RenewServerCertificate(*ca, current, key->public_key(), now);
  if (!renewed.ok()) return fail(renewed.status());
  net::TlsOptions next = tls_;
  next.certificate_chain_pem = *renewed;
  // Checked whole (the key matches) before the file is replaced.
  if (Status s = parts_.server->ReloadTls(next); !s.ok()) return fail(s);
  if (Status s = crypto::WriteFileAtomically(cert_path, *renewed,
                                             fs::perms::owner_read | fs::perms::owner_write |
                                                 fs::perms::group_read | fs::perms::others_read,
                                             crypto::IfExists::kReplace);
      !s.ok()) {
    // Serving the new certificate while the file holds the old one would undo the renewal at
    // the next start: go back to the file's.
    if (Status back = parts_.server->ReloadTls(tls_); !back.ok()) {
      spdlog::error("restoring the TLS certificate failed: {}", back.ToString());
    }
    return fail(s);
  }
  const std::string old_serial = current.serial_hex();
  tls_ = std::move(next);
  NoteCertificate(tls_);
  alarm_ = false;
  alarm_audited_ = false;
  spdlog::info("TLS server certificate renewed: serial {} (expiring {}) -> {} (expires {})",
               old_serial, expires, info_.serial(), info_.not_after_text());
  json::object details{{"previous_serial", old_serial},
                       {"previous_not_after", expires},
                       {"serial", info_.serial()},
                       {"not_after", info_.not_after_text()},
                       {"fingerprint", info_.fingerprint()}};
  if (Status s = Audit(audit::Actor::System(), "tls.certificate.renew", "tls:" + cert_path.string(),
                       json::serialize(details), std::nullopt);
      !s.ok()) {
    spdlog::warn("recording the certificate renewal failed: {}", s.ToString());
  }
  return Status::Ok();
}

}  // namespace outpost::server
