#include "sync/bundle/trust.h"

#include <utility>

#include "sync/bundle/display.h"

namespace outpost::sync {

namespace {

Result<crypto::PrivateKey> EnrollmentKey(std::string_view enrollment_secret) {
  if (enrollment_secret.size() != kEnrollmentSecretSize) {
    return InvalidArgument("an enrollment secret is " + std::to_string(kEnrollmentSecretSize) +
                           " bytes, not " + std::to_string(enrollment_secret.size()));
  }
  return crypto::PrivateKey::FromRawEd25519(enrollment_secret);
}

}  // namespace

std::string EnrollmentProof(std::string_view enrollment_secret,
                            const crypto::PublicKey& satellite_key) {
  auto key = EnrollmentKey(enrollment_secret);
  if (!key.ok()) return "";
  auto proof = key->Sign(kEnrollmentProofDomain, satellite_key.ToDer());
  return proof.ok() ? std::move(proof).value() : std::string();
}

Result<std::string> EnrollmentVerifier(std::string_view enrollment_secret) {
  OUTPOST_ASSIGN_OR_RETURN(crypto::PrivateKey key, EnrollmentKey(enrollment_secret));
  return key.public_key().ToDer();
}

Status CheckEnrollmentProofWithVerifier(std::string_view proof, std::string_view verifier_der,
                                        const crypto::PublicKey& satellite_key) {
  auto verifier = crypto::PublicKey::FromDer(verifier_der);
  if (!verifier.ok() || verifier->algorithm() != crypto::KeyAlgorithm::kEd25519) {
    return InvalidArgument(
        "the stored enrollment verifier cannot be read; enrol the satellite "
        "again");
  }
  if (proof.empty()) {
    return PermissionDenied("the request introduces satellite key " + satellite_key.KeyId() +
                            " without an enrollment proof");
  }
  if (!verifier->Verify(kEnrollmentProofDomain, satellite_key.ToDer(), proof).ok()) {
    return PermissionDenied("the enrollment proof for satellite key " + satellite_key.KeyId() +
                            " was not made with this satellite's enrollment secret");
  }
  return Status::Ok();
}

Status CheckEnrollmentProof(std::string_view proof, std::string_view enrollment_secret,
                            const crypto::PublicKey& satellite_key) {
  OUTPOST_ASSIGN_OR_RETURN(std::string verifier, EnrollmentVerifier(enrollment_secret));
  return CheckEnrollmentProofWithVerifier(proof, verifier, satellite_key);
}

std::string KeyRotationMessage(std::string_view previous_key_id, std::string_view new_key_id,
                               int64_t effective_from) {
  std::string out;
  out.reserve(previous_key_id.size() + new_key_id.size() + 10);
  out.append(previous_key_id).push_back('\0');
  out.append(new_key_id).push_back('\0');
  const auto value = static_cast<uint64_t>(effective_from);
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((value >> shift) & 0xff));
  }
  return out;
}

Result<v1::KeyRotation> MakeKeyRotation(const crypto::PublicKey& current,
                                        const crypto::PrivateKey& next, TimePoint effective_from) {
  if (next.public_key() == current) {
    return InvalidArgument("the new central key is the current one (" + current.KeyId() + ")");
  }
  v1::KeyRotation rotation;
  rotation.set_previous_key_id(current.KeyId());
  rotation.set_new_public_key_pem(next.public_key().ToPem());
  rotation.set_new_key_id(next.public_key().KeyId());
  rotation.set_effective_from(ToUnixSeconds(effective_from));
  OUTPOST_ASSIGN_OR_RETURN(
      std::string signature,
      next.Sign(kKeyRotationDomain,
                KeyRotationMessage(rotation.previous_key_id(), rotation.new_key_id(),
                                   rotation.effective_from())));
  rotation.set_new_key_signature(std::move(signature));
  return rotation;
}

Result<crypto::PublicKey> CheckKeyRotation(const v1::KeyRotation& rotation,
                                           const crypto::PublicKey& current) {
  if (rotation.previous_key_id() != current.KeyId()) {
    return PermissionDenied("the key rotation replaces central key " +
                            Printable(rotation.previous_key_id()) +
                            " but this satellite trusts central key " + current.KeyId());
  }
  auto next = crypto::PublicKey::FromPem(rotation.new_public_key_pem());
  if (!next.ok()) {
    return InvalidArgument("the new central key of the key rotation cannot be read: " +
                           next.status().message());
  }
  if (rotation.new_key_id() != next->KeyId()) {
    return InvalidArgument("the key rotation names the new central key " +
                           Printable(rotation.new_key_id()) + " but carries key " + next->KeyId());
  }
  if (*next == current) {
    return InvalidArgument("the key rotation announces the current central key " + current.KeyId() +
                           " as the new one");
  }
  const Status signed_by_next =
      next->Verify(kKeyRotationDomain,
                   KeyRotationMessage(rotation.previous_key_id(), rotation.new_key_id(),
                                      rotation.effective_from()),
                   rotation.new_key_signature());
  if (!signed_by_next.ok()) {
    return InvalidArgument("the key rotation to central key " + next->KeyId() +
                           " is not signed by that key, so central may not hold it");
  }
  return std::move(next).value();
}

}  // namespace outpost::sync
