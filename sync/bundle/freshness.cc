#include "sync/bundle/freshness.h"

#include "common/time.h"
#include "sync/bundle/display.h"
#include "sync/bundle/trust.h"

namespace outpost::sync {
namespace {

std::string Ids(std::string_view satellite_id, std::string_view account_id) {
  return "satellite " + Printable(satellite_id) + " (account " + Printable(account_id) + ")";
}

}  // namespace

Status CheckResponse(const v1::SyncResponse& response, const SatelliteSyncState& state,
                     TimePoint now, Duration clock_tolerance) {
  if (response.satellite_id() != state.satellite_id || response.account_id() != state.account_id) {
    return PermissionDenied("this sync response is for " +
                            Ids(response.satellite_id(), response.account_id()) + " but this is " +
                            Ids(state.satellite_id, state.account_id) +
                            "; it was made for another satellite");
  }
  const int64_t number = response.response_number();
  if (number < 1) {
    return InvalidArgument("this sync response has no response number (" + std::to_string(number) +
                           ")");
  }
  if (number == state.last_response_number) {
    return AlreadyExists("sync response " + std::to_string(number) +
                         " was already imported; nothing to do");
  }
  if (number < state.last_response_number) {
    return FailedPrecondition("sync response " + std::to_string(number) +
                              " is older than the last imported response " +
                              std::to_string(state.last_response_number) +
                              " (rollback refused); import the newest response from central");
  }
  if (response.restore_id() != state.restore_id) {
    return FailedPrecondition(
        "sync response " + std::to_string(number) +
        (state.restore_id.empty()
             ? " was made for a copy of this satellite restored from a backup (restore " +
                   Printable(response.restore_id()) + "), not for this one"
             : " was made before this satellite was restored from a backup (restore " +
                   state.restore_id + "), for the state the restore replaced") +
        "; export a new request and import central's answer to it (docs/operations.md)");
  }
  const int64_t answers = response.answers_request_sequence();
  if (answers < 1) {
    return InvalidArgument("sync response " + std::to_string(number) +
                           " does not say which request it answers");
  }
  if (answers > state.last_request_sequence) {
    return FailedPrecondition("sync response " + std::to_string(number) + " answers request " +
                              std::to_string(answers) +
                              ", but this satellite has only exported requests up to " +
                              std::to_string(state.last_request_sequence) +
                              "; it was not made for a request from this satellite");
  }
  if (response.valid_until() <= response.issued_at()) {
    return InvalidArgument("sync response " + std::to_string(number) + " is valid until " +
                           FormatRfc3339Seconds(response.valid_until()) +
                           ", not after it was issued (" +
                           FormatRfc3339Seconds(response.issued_at()) + ")");
  }
  const int64_t now_s = ToUnixSeconds(now);
  const int64_t tolerance_s =
      std::chrono::duration_cast<std::chrono::seconds>(clock_tolerance).count();
  if (response.issued_at() > now_s + tolerance_s) {
    return FailedPrecondition(
        "sync response " + std::to_string(number) + " was issued at " +
        FormatRfc3339Seconds(response.issued_at()) + ", " +
        std::to_string(response.issued_at() - now_s) + " s later than this satellite's time (" +
        FormatRfc3339Seconds(now_s) + "); check the clocks of the satellite and of central");
  }
  if (now_s >= response.valid_until()) {
    return FailedPrecondition("sync response " + std::to_string(number) + " expired at " +
                              FormatRfc3339Seconds(response.valid_until()) +
                              "; export a new request and get a fresh response");
  }
  if (response.has_key_rotation()) {
    if (!state.central_key.has_value()) {
      return FailedPrecondition("sync response " + std::to_string(number) +
                                " rotates central's key, but no central key is pinned to "
                                "check the rotation against");
    }
    OUTPOST_RETURN_IF_ERROR(CheckKeyRotation(response.key_rotation(), *state.central_key));
  }
  return Status::Ok();
}

Status CheckRequest(const v1::SyncRequest& request, int64_t last_sequence_seen) {
  if (request.satellite_id().empty()) {
    return InvalidArgument("this sync request names no satellite");
  }
  const int64_t sequence = request.sequence();
  const std::string who = "satellite " + Printable(request.satellite_id());
  if (sequence < 1) {
    return InvalidArgument("sync request from " + who + " has no sequence number (" +
                           std::to_string(sequence) + ")");
  }
  if (sequence == last_sequence_seen) {
    return AlreadyExists("sync request " + std::to_string(sequence) + " from " + who +
                         " was already processed; resend the stored response");
  }
  if (sequence < last_sequence_seen) {
    return FailedPrecondition("sync request " + std::to_string(sequence) + " from " + who +
                              " is older than the last processed request " +
                              std::to_string(last_sequence_seen) +
                              " (replay refused); export a new request on the satellite");
  }
  return Status::Ok();
}

}  // namespace outpost::sync
