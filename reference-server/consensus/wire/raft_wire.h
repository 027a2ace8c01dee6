// Raft messages (raft/raft.h) as the ConsensusService's protobuf messages and
// back: what the gRPC transport sends and the service receives.
#pragma once

#include <string>

#include "aurigraph/consensus/v1/consensus.pb.h"
#include "reference-server/consensus/raft/raft.h"

namespace aurigraph::consensus {

namespace cv1 = aurigraph::consensus::v1;

// Requests: `from_name` names the sender; `from` and `to` number the nodes.
cv1::AppendEntriesRequest ToAppendRequest(const raft::Message& m, const std::string& from_name);
raft::Message FromAppendRequest(const cv1::AppendEntriesRequest& r, raft::NodeId from,
                                raft::NodeId to);
cv1::VoteRequest ToVoteRequest(const raft::Message& m, const std::string& from_name);
raft::Message FromVoteRequest(const cv1::VoteRequest& r, raft::NodeId from, raft::NodeId to);
cv1::InstallSnapshotRequest ToSnapshotRequest(const raft::Message& m, const std::string& from_name);
raft::Message FromSnapshotRequest(const cv1::InstallSnapshotRequest& r, raft::NodeId from,
                                  raft::NodeId to);
cv1::TimeoutNowRequest ToTimeoutNowRequest(const raft::Message& m, const std::string& from_name);
raft::Message FromTimeoutNowRequest(const cv1::TimeoutNowRequest& r, raft::NodeId from,
                                    raft::NodeId to);

// Replies: a reply's type follows from the request it answers.
void ToAppendResponse(const raft::Message& m, cv1::AppendEntriesResponse* out);
raft::Message FromAppendResponse(const cv1::AppendEntriesResponse& r, raft::MessageType type,
                                 raft::NodeId from, raft::NodeId to);
void ToVoteResponse(const raft::Message& m, cv1::VoteResponse* out);
raft::Message FromVoteResponse(const cv1::VoteResponse& r, bool pre_vote, raft::NodeId from,
                               raft::NodeId to);

}  // namespace aurigraph::consensus
