// Retiring central's previous signing key after a rotation (Central::RetireSigningKey), and
// finishing a retirement that a crash interrupted (FinishKeyRetirement, called by Open).

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "common/crypto/secure_file.h"
#include "common/time.h"
#include "sync/bundle/codec.h"
#include "sync/bundle/display.h"
#include "sync/central/central_internal.h"

namespace outpost::central {
namespace {

namespace fs = std::filesystem;

// Overwrites the file with zeros (and syncs it) before removing it, so that the private key is
// not left readable in the file's blocks by a plain read of the disk. (Flash translation layers
// and copy-on-write file systems may keep old blocks; the key's real protection is the 0600 file
// in a 0700 directory, as for every key.)
Status DestroyKeyFile(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return Status::Ok();
  const auto size = fs::file_size(path, ec);
  if (!ec) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      const std::string zeros(static_cast<size_t>(size), '\0');
      const ssize_t written = ::pwrite(fd, zeros.data(), zeros.size(), 0);
      const bool synced = ::fsync(fd) == 0;
      ::close(fd);
      if (written != static_cast<ssize_t>(zeros.size()) || !synced) {
        return Internal("cannot overwrite the retired key " + path.string());
      }
    }
  }
  fs::remove(path, ec);
  if (ec) return Internal("cannot remove the retired key " + path.string() + ": " + ec.message());
  return Status::Ok();
}

}  // namespace

Status FinishKeyRetirement(const CentralDataDir& dir, std::string_view recorded_key_id) {
  std::error_code ec;
  if (fs::exists(dir.next_signing_key(), ec)) {
    OUTPOST_ASSIGN_OR_RETURN(auto next, crypto::PrivateKey::LoadFile(dir.next_signing_key()));
    if (next.public_key().KeyId() == recorded_key_id) {
      // A second name for the old key's file first: the rename below then replaces signing.key
      // in one step (it is a whole key at every moment), and overwriting the second name
      // overwrites the old key's own blocks.
      if (!fs::exists(dir.retired_signing_key(), ec)) {
        fs::create_hard_link(dir.signing_key(), dir.retired_signing_key(), ec);
        if (ec) return Internal("cannot keep the retired key aside: " + ec.message());
      }
      fs::rename(dir.next_signing_key(), dir.signing_key(), ec);
      if (ec) return Internal("cannot install the new signing key: " + ec.message());
    }
  }
  return DestroyKeyFile(dir.retired_signing_key());
}

Result<v1::CentralKeyRetirement> Central::RetireSigningKey(std::string_view key_id, bool force) {
  Impl& impl = *impl_;
  const std::string current_id = impl.signing_key->public_key().KeyId();
  if (!impl.next_signing_key) {
    if (key_id == current_id) {
      return FailedPrecondition(
          "key " + current_id +
          " is central's only signing key and cannot be retired: rotate first (`outpost central "
          "key rotate`), let every satellite sync once, then retire it");
    }
    return NotFound("central has no signing key '" + sync::Printable(key_id, 80) +
                    "'; its signing key is " + current_id + " (`outpost central key`)");
  }
  const crypto::PrivateKey& next = *impl.next_signing_key;
  const std::string next_id = next.public_key().KeyId();
  if (key_id == next_id) {
    return FailedPrecondition("key " + next_id +
                              " is the new key satellites are moving to; retire the previous key " +
                              current_id + " once they have moved");
  }
  if (key_id != current_id) {
    return NotFound("central has no signing key '" + sync::Printable(key_id, 80) +
                    "'; the key a rotation replaces is " + current_id + " (`outpost central key`)");
  }

  // Who has not moved: a satellite moved when central answered it with the new key, which it
  // does only to a request that named the new key, i.e. after the satellite pinned it.
  std::vector<std::string> not_moved;
  {
    OUTPOST_ASSIGN_OR_RETURN(auto lease, impl.readers->Acquire());
    OUTPOST_ASSIGN_OR_RETURN(
        auto stmt, lease->Query("SELECT id, name, last_response FROM satellites WHERE revoked_at "
                                "IS NULL ORDER BY account_id, name, id"));
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      const std::string last = stmt->ColumnBlob(2);
      bool moved = false;
      if (!last.empty()) {
        auto bundle = sync::ParseBundleBytes(last, "the last response");
        moved = bundle.ok() && bundle->key_id() == next_id;
      }
      if (!moved) {
        not_moved.push_back(stmt->ColumnText(0) + " (" + sync::Printable(stmt->ColumnText(1)) +
                            (last.empty() ? ", never synced" : "") + ")");
      }
    }
  }
  if (!not_moved.empty() && !force) {
    std::string list;
    for (size_t i = 0; i < not_moved.size() && i < 20; ++i) list += "\n  " + not_moved[i];
    if (not_moved.size() > 20) {
      list += "\n  ... and " + std::to_string(not_moved.size() - 20) + " more";
    }
    return FailedPrecondition(
        std::to_string(not_moved.size()) + " satellite" + (not_moved.size() == 1 ? "" : "s") +
        " have not synced since the rotation to key " + next_id + " and still trust key " +
        current_id + ":" + list +
        "\nWait until they have synced, or retire anyway with --force: they are then refused and "
        "must be enrolled again (`outpost central satellite revoke` and `reenroll`)");
  }

  const int64_t now = ToUnixSeconds(impl.clock->Now());
  v1::CentralKeyRetirement out;
  out.set_retired_key_id(current_id);
  out.set_signing_key_id(next_id);
  out.set_signing_key_fingerprint(next.public_key().Fingerprint());
  out.set_retired_at(now);
  for (const std::string& s : not_moved) out.add_satellites_cut_off(s);

  // The public part first (harmless if the rest fails), then the record, then the files.
  const fs::path public_file = impl.dir.retired_keys() / (current_id + ".pem");
  std::error_code ec;
  fs::create_directories(impl.dir.retired_keys(), ec);
  if (ec)
    return Internal("cannot create " + impl.dir.retired_keys().string() + ": " + ec.message());
  OUTPOST_RETURN_IF_ERROR(
      crypto::WriteFileAtomically(public_file, impl.signing_key->public_key().ToPem(),
                                  fs::perms::owner_read | fs::perms::owner_write |
                                      fs::perms::group_read | fs::perms::others_read,
                                  crypto::IfExists::kReplace));
  out.set_retired_public_key_file(public_file.string());
  std::map<std::string, int64_t> retired = impl.retired_keys;
  retired[current_id] = now;
  OUTPOST_RETURN_IF_ERROR(impl.writer->Run([&](sqlite::Connection& db) -> Status {
    OUTPOST_RETURN_IF_ERROR(kCentralMeta.Set(db, kMetaSigningKeyId, next_id));
    OUTPOST_RETURN_IF_ERROR(kCentralMeta.Erase(db, kMetaKeyRotation));
    return kCentralMeta.Set(db, kMetaRetiredKeys, FormatRetiredKeys(retired));
  }));
  // Recorded: from here on Open finishes the file moves if this process dies.
  OUTPOST_RETURN_IF_ERROR(impl.writer->Run([&](sqlite::Connection&) {
    impl.signing_key.emplace(std::move(*impl.next_signing_key));
    impl.next_signing_key.reset();
    impl.rotation.reset();
    impl.retired_keys = retired;
    return Status::Ok();
  }));
  OUTPOST_RETURN_IF_ERROR(FinishKeyRetirement(impl.dir, next_id));
  return out;
}

const std::map<std::string, int64_t>& Central::retired_signing_keys() const {
  return impl_->retired_keys;
}

std::string FormatRetiredKeys(const std::map<std::string, int64_t>& retired) {
  std::string out;
  for (const auto& [id, at] : retired) {
    if (!out.empty()) out += ",";
    out += id + "@" + std::to_string(at);
  }
  return out;
}

Result<std::map<std::string, int64_t>> ParseRetiredKeys(std::string_view text) {
  std::map<std::string, int64_t> out;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    const size_t at = item.find('@');
    if (at == std::string_view::npos || at == 0) {
      return DataLoss("central setting retired_signing_keys is not KEY_ID@TIME,...");
    }
    out[std::string(item.substr(0, at))] =
        std::strtoll(std::string(item.substr(at + 1)).c_str(), nullptr, 10);
  }
  return out;
}

}  // namespace outpost::central
