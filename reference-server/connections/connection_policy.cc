#include "reference-server/connections/connection_policy.h"

#include <set>

#include "absl/strings/str_cat.h"

namespace aurigraph::refserver {

std::vector<ConnectionPolicy::Verdict> ConnectionPolicy::Observe(
    int64_t now_nanos, const std::vector<StreamCounts>& connections) {
  std::vector<Verdict> verdicts;
  std::set<std::string> seen;
  for (const StreamCounts& counts : connections) {
    seen.insert(counts.connection);
    auto [it, fresh] = connections_.try_emplace(counts.connection);
    History& history = it->second;
    // A connection first seen now opened within the window: count from zero.
    if (fresh) history.samples.push_back({now_nanos, 0, 0});
    // A sample only where the counts changed: an idle connection holds two,
    // whatever the window and however often it is looked at.
    const Sample& last = history.samples.back();
    if (counts.succeeded != last.succeeded || counts.failed != last.failed) {
      history.samples.push_back({now_nanos, counts.succeeded, counts.failed});
    }
    while (history.samples.size() > 1 &&
           history.samples[1].at <= now_nanos - limits_.window_nanos) {
      history.samples.pop_front();
    }
    if (history.closed) continue;
    const Sample& from = history.samples.front();
    const int64_t resets = counts.failed - from.failed;
    const int64_t ended = resets + counts.succeeded - from.succeeded;
    const int64_t open = counts.started - counts.succeeded - counts.failed;
    const int64_t ended_since = counts.succeeded + counts.failed - history.ended;
    history.ended = counts.succeeded + counts.failed;
    if (resets >= limits_.max_resets && 2 * resets > ended) {
      history.closed = true;
      verdicts.push_back({counts.connection, Reason::kStreamResets,
                          absl::StrCat(resets, " of the last ", ended,
                                       " streams to end were reset by the client (rapid reset)")});
    } else if (open > kStreamSlack * limits_.max_concurrent_streams &&
               ended_since < limits_.max_concurrent_streams) {
      history.closed = true;
      verdicts.push_back({counts.connection, Reason::kStreamLimit,
                          absl::StrCat(open, " streams open and ", ended_since,
                                       " ended since the last look: far beyond the ",
                                       limits_.max_concurrent_streams,
                                       " SETTINGS_MAX_CONCURRENT_STREAMS allows")});
    }
  }
  for (auto it = connections_.begin(); it != connections_.end();) {
    it = seen.count(it->first) ? std::next(it) : connections_.erase(it);
  }
  return verdicts;
}

}  // namespace aurigraph::refserver
