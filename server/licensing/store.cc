#include "server/licensing/store.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <system_error>
#include <thread>

#include "common/thread_boundary.h"

namespace outpost::server::licensing {

Result<int64_t> ParseStoredInt(std::string_view key, std::string_view text) {
  if (text.empty()) return int64_t{0};
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    return DataLoss("satellite_meta '" + std::string(key) + "' holds " + Quote(text) +
                    ", which is not an integer; the database was changed outside Outpost: "
                    "restore it from a backup");
  }
  return value;
}

namespace {

std::optional<int64_t> OptionalSeconds(const std::optional<TimePoint>& t) {
  if (!t) return std::nullopt;
  return ToUnixSeconds(*t);
}

// The entitlement and reservation rows, in canonical order, read by both loaders.
constexpr std::string_view kSelectEntitlements =
    "SELECT id, va, tag, quantity, start_at, end_at, enforced, floating, export_controlled "
    "FROM entitlements ORDER BY id";
constexpr std::string_view kSelectReservations =
    "SELECT va, tag, pid, serial, count FROM reservations ORDER BY va, tag, pid, serial";

Entitlement EntitlementFromRow(sqlite::Statement& row) {
  Entitlement e;
  e.id = row.ColumnText(0);
  e.va = row.ColumnText(1);
  e.tag = row.ColumnText(2);
  e.quantity = row.ColumnInt64(3);
  e.start = FromUnixSeconds(row.ColumnInt64(4));
  if (!row.ColumnIsNull(5)) e.end = FromUnixSeconds(row.ColumnInt64(5));
  e.enforcement = row.ColumnInt64(6) != 0 ? Enforcement::kEnforced : Enforcement::kReported;
  e.floating = row.ColumnInt64(7) != 0;
  e.export_controlled = row.ColumnInt64(8) != 0;
  return e;
}

Reservation ReservationFromRow(sqlite::Statement& row) {
  return {row.ColumnText(0), row.ColumnText(1), Udi{row.ColumnText(2), row.ColumnText(3)},
          row.ColumnInt64(4)};
}

}  // namespace

Status LoadEntitlementsAndReservations(sqlite::Connection& db, PoolBook::Restorer& restorer) {
  {
    OUTPOST_ASSIGN_OR_RETURN(auto stmt, db.Query(kSelectEntitlements));
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      OUTPOST_RETURN_IF_ERROR(restorer.AddEntitlement(EntitlementFromRow(*stmt)));
    }
  }
  OUTPOST_ASSIGN_OR_RETURN(auto stmt, db.Query(kSelectReservations));
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    OUTPOST_RETURN_IF_ERROR(restorer.AddReservation(ReservationFromRow(*stmt)));
  }
  return Status::Ok();
}

namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

Status LoadRegistry(sqlite::Connection& db, size_t devices, DeviceRegistry& registry) {
  // Headroom for registrations after start-up: the first one past a full vector would otherwise
  // copy every slot. Capacity that is not written costs address space, not resident memory.
  registry.Reserve(devices + devices / 8);
  // Table order (no ORDER BY): the registry is hashed, and a sort of a million rows costs more
  // than the rest of the load.
  OUTPOST_ASSIGN_OR_RETURN(auto stmt,
                           db.Query("SELECT instance_id, va, pid, serial, export_allowed, "
                                    "cert_serial, cert_not_after FROM devices"));
  RegisteredDevice d;  // reused: its strings keep their buffers from row to row
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    d.instance_id.assign(stmt->ColumnTextView(0));
    d.va.assign(stmt->ColumnTextView(1));
    d.udi.pid.assign(stmt->ColumnTextView(2));
    d.udi.serial.assign(stmt->ColumnTextView(3));
    d.export_allowed = stmt->ColumnInt64(4) != 0;
    d.cert_serial.assign(stmt->ColumnTextView(5));
    d.cert_not_after = FromUnixSeconds(stmt->ColumnInt64(6));
    registry.Put(d);
  }
  return Status::Ok();
}

// The book's rows without the devices' VAs and UDIs (the registry gives them afterwards).
Status LoadBookRows(sqlite::Connection& db, size_t devices, PoolBook::Restorer& restorer) {
  OUTPOST_RETURN_IF_ERROR(LoadEntitlementsAndReservations(db, restorer));
  restorer.Reserve(devices + devices / 8);
  // The primary key's order (instance_id, tag): an instance's rows come together, sorted by tag.
  OUTPOST_ASSIGN_OR_RETURN(auto stmt,
                           db.Query("SELECT instance_id, tag, count, valid_until FROM consumption "
                                    "ORDER BY instance_id, tag"));
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    OUTPOST_RETURN_IF_ERROR(restorer.AddGrant(stmt->ColumnTextView(0), stmt->ColumnTextView(1),
                                              stmt->ColumnInt64(2),
                                              FromUnixSeconds(stmt->ColumnInt64(3))));
  }
  return Status::Ok();
}

}  // namespace

Result<LoadTimes> LoadLicensingState(sqlite::Connection& db, sqlite::Connection* second,
                                     DeviceRegistry& registry, PoolBook::Restorer& restorer) {
  OUTPOST_ASSIGN_OR_RETURN(int64_t count, db.QueryInt64("SELECT count(*) FROM devices"));
  const auto devices = static_cast<size_t>(count);
  LoadTimes times;
  const auto book_rows = [&](sqlite::Connection& from) {
    const auto start = std::chrono::steady_clock::now();
    Status s = LoadBookRows(from, devices, restorer);
    times.book_rows = SecondsSince(start);
    return s;
  };
  Status book_status;
  std::thread reader;
  if (second != nullptr) {
    // The two tables are independent until the identities are attached: the consumption rows
    // (2 per device in the benchmark) are decoded on that thread while the device rows are here.
    try {
      reader = std::thread([&] {
        book_status =
            CatchAtBoundary("loading the book's rows", [&] { return book_rows(*second); });
      });
    } catch (const std::system_error&) {
      // No thread to be had: the same rows, one table after the other.
    }
  }
  const auto start = std::chrono::steady_clock::now();
  Status registry_status =
      CatchAtBoundary("loading the devices", [&] { return LoadRegistry(db, devices, registry); });
  times.devices = SecondsSince(start);
  if (reader.joinable()) {
    reader.join();
  } else if (registry_status.ok()) {
    book_status = book_rows(db);
  }
  OUTPOST_RETURN_IF_ERROR(registry_status);
  OUTPOST_RETURN_IF_ERROR(book_status);
  const auto identities_start = std::chrono::steady_clock::now();
  OUTPOST_RETURN_IF_ERROR(restorer.AttachIdentities(
      [&registry](std::string_view instance_id) -> std::optional<PoolBook::Restorer::Identity> {
        const std::optional<DeviceRegistry::Identity> found = registry.FindIdentity(instance_id);
        if (!found) return std::nullopt;
        return PoolBook::Restorer::Identity{found->va, found->pid, found->serial};
      }));
  times.identities = SecondsSince(identities_start);
  return times;
}

Result<std::vector<std::string>> LoadChangedInstances(sqlite::Connection& db) {
  std::vector<std::string> out;
  OUTPOST_ASSIGN_OR_RETURN(auto stmt, db.Query("SELECT instance_id FROM licensing_changed"));
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    out.push_back(stmt->ColumnText(0));
  }
  return out;
}

Status ReloadInstances(sqlite::Connection& db, const std::vector<std::string>& instances,
                       DeviceRegistry& registry, PoolBook::Restorer& restorer) {
  // Every changed instance leaves first: a UDI or (VA, serial) may have passed from one of them
  // to another since the file was written.
  for (const std::string& id : instances) {
    registry.Remove(id);
    restorer.DropDevice(id);
  }
  RegisteredDevice d;
  for (const std::string& id : instances) {
    {
      OUTPOST_ASSIGN_OR_RETURN(auto stmt,
                               db.Query("SELECT va, pid, serial, export_allowed, cert_serial, "
                                        "cert_not_after FROM devices WHERE instance_id = ?",
                                        id));
      OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
      // Released, or never registered (a registration that rolled back): its consumption rows
      // are gone too, or skipped as the join of LoadBookState skips them.
      if (!row) continue;
      d.instance_id = id;
      d.va.assign(stmt->ColumnTextView(0));
      d.udi.pid.assign(stmt->ColumnTextView(1));
      d.udi.serial.assign(stmt->ColumnTextView(2));
      d.export_allowed = stmt->ColumnInt64(3) != 0;
      d.cert_serial.assign(stmt->ColumnTextView(4));
      d.cert_not_after = FromUnixSeconds(stmt->ColumnInt64(5));
    }
    registry.Put(d);
    OUTPOST_ASSIGN_OR_RETURN(auto stmt, db.Query("SELECT tag, count, valid_until FROM consumption "
                                                 "WHERE instance_id = ? ORDER BY tag",
                                                 id));
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      OUTPOST_RETURN_IF_ERROR(restorer.AddConsumption(id, d.va, d.udi.pid, d.udi.serial,
                                                      stmt->ColumnTextView(0), stmt->ColumnInt64(1),
                                                      FromUnixSeconds(stmt->ColumnInt64(2))));
    }
  }
  return Status::Ok();
}

Result<BookState> LoadBookState(sqlite::Connection& db) {
  BookState state;
  {
    OUTPOST_ASSIGN_OR_RETURN(auto stmt, db.Query(kSelectEntitlements));
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      state.entitlements.push_back(EntitlementFromRow(*stmt));
    }
  }
  {
    OUTPOST_ASSIGN_OR_RETURN(auto stmt, db.Query(kSelectReservations));
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      state.reservations.push_back(ReservationFromRow(*stmt));
    }
  }
  {
    OUTPOST_ASSIGN_OR_RETURN(
        auto stmt,
        db.Query("SELECT c.instance_id, d.va, d.pid, d.serial, c.tag, c.count, c.valid_until "
                 "FROM consumption c JOIN devices d ON d.instance_id = c.instance_id "
                 "ORDER BY c.instance_id, c.tag"));
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      ConsumptionRow r;
      r.instance_id = stmt->ColumnText(0);
      r.va = stmt->ColumnText(1);
      r.udi = {stmt->ColumnText(2), stmt->ColumnText(3)};
      r.tag = stmt->ColumnText(4);
      r.count = stmt->ColumnInt64(5);
      r.valid_until = FromUnixSeconds(stmt->ColumnInt64(6));
      state.consumption.push_back(std::move(r));
    }
  }
  // SQLite orders text by bytes, as std::string compares: already canonical.
  return state;
}

Status InsertDevice(sqlite::Connection& db, const DeviceRecord& d) {
  auto n = db.ExecPrepared(
      "INSERT INTO devices(instance_id, va, pid, serial, hostname, token_id, export_allowed, "
      "cert_serial, cert_not_after, registered_at, last_seen_at, cert_not_before, cert_sha256) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      d.instance_id, d.va, d.udi.pid, d.udi.serial, d.hostname, d.token_id,
      d.export_allowed ? 1 : 0, d.cert_serial, ToUnixSeconds(d.cert_not_after),
      ToUnixSeconds(d.registered_at), OptionalSeconds(d.last_seen_at),
      OptionalSeconds(d.cert_not_before),
      d.cert_fingerprint.empty() ? std::optional<std::string>() : d.cert_fingerprint);
  return n.status();
}

Status DeleteDevice(sqlite::Connection& db, std::string_view instance_id) {
  return db.ExecPrepared("DELETE FROM devices WHERE instance_id = ?", instance_id).status();
}

Status UpdateDeviceUdi(sqlite::Connection& db, std::string_view instance_id, const Udi& udi) {
  return db
      .ExecPrepared(
          "UPDATE devices SET pid = ?, serial = ?, cert_serial = '' WHERE instance_id = ?", udi.pid,
          udi.serial, instance_id)
      .status();
}

Status UpdateDeviceCertificate(sqlite::Connection& db, std::string_view instance_id,
                               std::string_view cert_serial, TimePoint cert_not_after) {
  return db
      .ExecPrepared("UPDATE devices SET cert_serial = ?, cert_not_after = ? WHERE instance_id = ?",
                    cert_serial, ToUnixSeconds(cert_not_after), instance_id)
      .status();
}

Status TouchDevice(sqlite::Connection& db, std::string_view instance_id, TimePoint at) {
  return db
      .ExecPrepared("UPDATE devices SET last_seen_at = ? WHERE instance_id = ?", ToUnixSeconds(at),
                    instance_id)
      .status();
}

Status PersistDelta(sqlite::Connection& db, const ConsumptionDelta& delta) {
  for (const TagChange& c : delta.changes) {
    if (c.new_count == 0) {
      OUTPOST_RETURN_IF_ERROR(
          db.ExecPrepared("DELETE FROM consumption WHERE instance_id = ? AND tag = ?",
                          delta.instance_id, c.tag)
              .status());
    } else {
      OUTPOST_RETURN_IF_ERROR(
          db.ExecPrepared("INSERT INTO consumption(instance_id, tag, count, valid_until) "
                          "VALUES (?, ?, ?, ?) ON CONFLICT(instance_id, tag) DO UPDATE SET "
                          "count = excluded.count, valid_until = excluded.valid_until",
                          delta.instance_id, c.tag, c.new_count,
                          ToUnixSeconds(c.valid_until.value_or(TimePoint())))
              .status());
    }
  }
  return Status::Ok();
}

Status UpsertEntitlements(sqlite::Connection& db, const std::vector<Entitlement>& entitlements) {
  for (const Entitlement& e : entitlements) {
    OUTPOST_RETURN_IF_ERROR(
        db.ExecPrepared(
              "INSERT INTO entitlements(id, va, tag, quantity, start_at, end_at, enforced, "
              "floating, export_controlled) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
              "ON CONFLICT(id) DO UPDATE SET va = excluded.va, tag = excluded.tag, "
              "quantity = excluded.quantity, start_at = excluded.start_at, end_at = "
              "excluded.end_at, enforced = excluded.enforced, floating = excluded.floating, "
              "export_controlled = excluded.export_controlled",
              e.id, e.va, e.tag, e.quantity, ToUnixSeconds(e.start), OptionalSeconds(e.end),
              e.enforcement == Enforcement::kEnforced ? 1 : 0, e.floating ? 1 : 0,
              e.export_controlled ? 1 : 0)
            .status());
  }
  return Status::Ok();
}

Status ReplaceEntitlementRows(sqlite::Connection& db,
                              const std::vector<Entitlement>& entitlements) {
  OUTPOST_RETURN_IF_ERROR(db.ExecPrepared("DELETE FROM entitlements").status());
  return UpsertEntitlements(db, entitlements);
}

Status PersistReservation(sqlite::Connection& db, const Reservation& r) {
  if (r.count == 0) {
    return db
        .ExecPrepared(
            "DELETE FROM reservations WHERE va = ? AND tag = ? AND pid = ? AND serial = ?", r.va,
            r.tag, r.udi.pid, r.udi.serial)
        .status();
  }
  return db
      .ExecPrepared(
          "INSERT INTO reservations(va, tag, pid, serial, count) VALUES (?, ?, ?, ?, ?) "
          "ON CONFLICT(va, tag, pid, serial) DO UPDATE SET count = excluded.count",
          r.va, r.tag, r.udi.pid, r.udi.serial, r.count)
      .status();
}

Status InsertMove(sqlite::Connection& db, const MoveRecord& m) {
  return db
      .ExecPrepared(
          "INSERT INTO license_moves(id, from_va, to_va, tag, count, created_at, created_by) "
          "VALUES (?, ?, ?, ?, ?, ?, ?)",
          m.id, m.from_va, m.to_va, m.tag, m.count, ToUnixSeconds(m.created_at), m.created_by)
      .status();
}

Status InsertUsageSamples(sqlite::Connection& db, const std::vector<UsageSample>& samples) {
  for (const UsageSample& s : samples) {
    OUTPOST_RETURN_IF_ERROR(
        db.ExecPrepared("INSERT INTO usage_samples(va, tag, hour, max_in_use) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT(va, tag, hour) DO UPDATE SET "
                        "max_in_use = max(max_in_use, excluded.max_in_use)",
                        s.va, s.tag, ToUnixSeconds(s.hour), s.max_in_use)
            .status());
  }
  return Status::Ok();
}

Result<std::vector<UsageSample>> LoadUsageSamples(sqlite::Connection& db,
                                                  std::optional<TimePoint> since) {
  OUTPOST_ASSIGN_OR_RETURN(auto stmt,
                           db.Query("SELECT va, tag, hour, max_in_use FROM usage_samples "
                                    "WHERE hour >= ? ORDER BY hour, va, tag",
                                    since ? ToUnixSeconds(*since) : INT64_MIN));
  std::vector<UsageSample> out;
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    out.push_back({stmt->ColumnText(0), stmt->ColumnText(1), FromUnixSeconds(stmt->ColumnInt64(2)),
                   stmt->ColumnInt64(3)});
  }
  return out;
}

}  // namespace outpost::server::licensing
