#include "server/audit/record_row.h"

namespace outpost::server::audit {

Record ReadRecord(const sqlite::Statement& row) {
  Record record;
  record.seq = row.ColumnInt64(0);
  record.time_ms = row.ColumnInt64(1);
  record.actor = row.ColumnText(2);
  record.action = row.ColumnText(3);
  record.object = row.ColumnText(4);
  record.details = row.ColumnText(5);
  record.prev_hash = row.ColumnBlob(6);
  record.hash = row.ColumnBlob(7);
  return record;
}

Checkpoint ReadCheckpoint(const sqlite::Statement& row) {
  Checkpoint checkpoint;
  checkpoint.seq = row.ColumnInt64(0);
  checkpoint.hash = row.ColumnBlob(1);
  checkpoint.time_ms = row.ColumnInt64(2);
  checkpoint.key_id = row.ColumnText(3);
  checkpoint.signature = row.ColumnBlob(4);
  return checkpoint;
}

}  // namespace outpost::server::audit
