// Where a Raft node keeps what it must not forget: term, vote, commit index,
// log and snapshot. Every Save is one write, synced to disk before it returns
// (a vote or an append is acknowledged only after it), so a node's fsyncs
// are one per Ready however many entries and messages it holds.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "reference-server/consensus/raft/raft.h"

namespace aurigraph::consensus {

class LogStorage {
 public:
  virtual ~LogStorage() = default;
  virtual absl::StatusOr<raft::DurableState> Load() = 0;
  // Persists what `ready` asks to: hard state, a received snapshot (which
  // replaces the whole log) and entries (which replace the log from the first
  // one on); synced to disk when ready.must_sync.
  virtual absl::Status Save(const raft::Ready& ready) = 0;
  // Replaces the log up to snapshot.index with the snapshot (compaction).
  virtual absl::Status Compact(const raft::Snapshot& snapshot) = 0;
  // False when a restart forgets everything (memory only).
  virtual bool durable() const = 0;
};

std::unique_ptr<LogStorage> NewMemoryLogStorage();
// RocksDB in `directory` (created if missing).
absl::StatusOr<std::unique_ptr<LogStorage>> OpenRocksLogStorage(const std::string& directory);

}  // namespace aurigraph::consensus
