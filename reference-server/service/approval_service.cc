#include "reference-server/service/approval_service.h"

#include <deque>
#include <string>

#include "aurigraph/approval/v1/approval.grpc.pb.h"
#include "common/process/process_stats.h"
#include "common/version/version.h"
#include "reference-server/service/gated_service.h"
#include "reference-server/streams/event_stream.h"
#include "reference-server/streams/reply_stream.h"

namespace aurigraph::refserver {
namespace {

namespace av1 = approval::v1;
namespace cv1 = common::v1;

// This process's resident memory now and at its peak.
void ReadMemory(cv1::HealthResponse* response) {
  response->set_resident_memory_bytes(OwnResidentBytes());
  response->set_peak_resident_memory_bytes(OwnPeakResidentBytes());
}

// BatchSubmitResponses lists at most this many vote errors.
constexpr int kMaxBatchErrors = 100;

class ApprovalServiceImpl final : public GatedService<av1::ApprovalService::CallbackService> {
 public:
  ApprovalServiceImpl(ApprovalStore& store, const Responder& responder, Streaming streaming,
                      int64_t started)
      : GatedService(av1::ApprovalService::service_full_name(), responder),
        store_(store),
        responder_(responder),
        streaming_(streaming),
        wall_(streaming.wall),
        started_(started) {
    using Self = ApprovalServiceImpl;
    Unary("SubmitApprovalRequest", &Self::SubmitApprovalRequest);
    Unary("GetApprovalStatus", &Self::GetApprovalStatus);
    Unary("SubmitValidatorResponse", &Self::SubmitValidatorResponse);
    Unary("CheckHealth", &Self::CheckHealth);
    ServerStreaming("WatchApprovalUpdates", &Self::WatchApprovalUpdates);
    ServerStreaming("StreamPendingApprovals", &Self::StreamPendingApprovals);
    ClientStreaming("BatchSubmitResponses", &Self::OpenBatchSubmitResponses);
    Bidi("BidirectionalApprovalStream", &Self::OpenBidirectionalApprovalStream);
  }

  grpc::ServerUnaryReactor* SubmitApprovalRequest(grpc::CallbackServerContext* context,
                                                  const av1::ApprovalRequest* request,
                                                  av1::ApprovalState* response) override {
    return responder_.Finish(context, Assign(store_.Submit(*request), response));
  }
  grpc::ServerUnaryReactor* GetApprovalStatus(grpc::CallbackServerContext* context,
                                              const av1::GetApprovalStatusRequest* request,
                                              av1::ApprovalState* response) override {
    return responder_.Finish(
        context, Assign(store_.Get(request->approval_id(), request->include_votes()), response));
  }
  grpc::ServerUnaryReactor* SubmitValidatorResponse(grpc::CallbackServerContext* context,
                                                    const av1::ValidatorResponse* request,
                                                    av1::ApprovalState* response) override {
    return responder_.Finish(context, Assign(store_.Vote(*request), response));
  }
  grpc::ServerUnaryReactor* CheckHealth(grpc::CallbackServerContext* context,
                                        const cv1::HealthRequest* request,
                                        cv1::HealthResponse* response) override {
    const int64_t now = wall_.NowNanos();
    response->set_status(cv1::SERVING_STATUS_SERVING);
    response->set_uptime_ms((now - started_) / 1'000'000);
    response->set_server_time_unix_nanos(now);
    response->set_version(kVersion);
    ReadMemory(response);
    return responder_.Finish(context, absl::OkStatus());
  }

  grpc::ServerWriteReactor<av1::ApprovalEvent>* WatchApprovalUpdates(
      grpc::CallbackServerContext* context, const av1::WatchApprovalRequest* request) override {
    const std::string id = request->approval_id();
    const Clock& wall = wall_;
    return EventStream<av1::ApprovalEvent, av1::ApprovalEvent>::Open(
        streaming_.approval_events, streaming_.counters, streaming_.options.stream_queue_bound,
        [id](const av1::ApprovalEvent& e) { return id.empty() || e.state().approval_id() == id; },
        [&wall](const av1::ApprovalEvent& e, av1::ApprovalEvent* out) {
          *out = e;
          out->set_sent_at_unix_nanos(wall.NowNanos());
        });
  }

  grpc::ServerWriteReactor<av1::ApprovalState>* StreamPendingApprovals(
      grpc::CallbackServerContext* context, const av1::StreamPendingRequest* request) override {
    std::deque<std::shared_ptr<const av1::ApprovalEvent>> snapshot;
    for (av1::ApprovalState& state :
         store_.Pending(request->validator_id(), streaming_.options.pending_snapshot_limit)) {
      auto event = std::make_shared<av1::ApprovalEvent>();
      event->set_type(av1::APPROVAL_EVENT_TYPE_CREATED);
      *event->mutable_state() = std::move(state);
      snapshot.push_back(std::move(event));
    }
    return EventStream<av1::ApprovalEvent, av1::ApprovalState>::Open(
        streaming_.approval_events, streaming_.counters, streaming_.options.stream_queue_bound,
        [](const av1::ApprovalEvent& e) { return e.type() == av1::APPROVAL_EVENT_TYPE_CREATED; },
        [](const av1::ApprovalEvent& e, av1::ApprovalState* out) { *out = e.state(); },
        std::move(snapshot), /*follow=*/request->follow());
  }

  grpc::ServerReadReactor<Decoded<av1::ValidatorResponse>>* OpenBatchSubmitResponses(
      grpc::CallbackServerContext* context, av1::BatchResponseSummary* summary) {
    // Applies each vote as it arrives; the summary answers the client's half-close.
    class Reader final : public grpc::ServerReadReactor<Decoded<av1::ValidatorResponse>> {
     public:
      Reader(ApprovalStore& store, StreamCounters& counters, av1::BatchResponseSummary* summary)
          : store_(store), counters_(counters), summary_(summary) {
        counters_.client_streams_open.fetch_add(1, std::memory_order_relaxed);
        StartRead(&vote_);
      }
      void OnReadDone(bool ok) override {
        if (!ok) {
          Finish(grpc::Status::OK);
          return;
        }
        if (!vote_.error.ok()) {
          Finish(vote_.error);
          return;
        }
        counters_.messages_received.fetch_add(1, std::memory_order_relaxed);
        summary_->set_received(summary_->received() + 1);
        const auto outcome = store_.Vote(vote_.message);
        if (outcome.ok()) {
          summary_->set_accepted(summary_->accepted() + 1);
        } else {
          summary_->set_rejected(summary_->rejected() + 1);
          if (summary_->errors_size() < kMaxBatchErrors) {
            summary_->add_errors(std::string(outcome.status().message()));
          }
        }
        StartRead(&vote_);
      }
      void OnDone() override {
        counters_.client_streams_open.fetch_sub(1, std::memory_order_relaxed);
        delete this;
      }

     private:
      ApprovalStore& store_;
      StreamCounters& counters_;
      av1::BatchResponseSummary* summary_;
      Decoded<av1::ValidatorResponse> vote_;
    };
    return new Reader(store_, streaming_.counters, summary);
  }

  grpc::ServerBidiReactor<Decoded<av1::ValidatorResponse>, av1::ApprovalEvent>*
  OpenBidirectionalApprovalStream(grpc::CallbackServerContext* context) {
    ApprovalStore& store = store_;
    const Clock& wall = wall_;
    return ReplyStream<av1::ValidatorResponse, av1::ApprovalEvent>::Open(
        [&store, &wall](const av1::ValidatorResponse& vote,
                        std::function<void(av1::ApprovalEvent)> done) {
          av1::ApprovalEvent event;
          auto outcome = store.Vote(vote);
          event.set_correlation_id(vote.correlation_id());
          if (outcome.ok()) {
            event.set_type(outcome->status() == av1::APPROVAL_STATUS_PENDING
                               ? av1::APPROVAL_EVENT_TYPE_VOTE_RECORDED
                               : av1::APPROVAL_EVENT_TYPE_FINALIZED);
            *event.mutable_state() = *std::move(outcome);
          } else {
            event.mutable_state()->set_approval_id(vote.approval_id());
            event.set_code(static_cast<int32_t>(outcome.status().code()));
            event.set_error(std::string(outcome.status().message()));
          }
          event.set_sent_at_unix_nanos(wall.NowNanos());
          done(std::move(event));
        },
        streaming_.faults, streaming_.delays, streaming_.counters, streaming_.options.reply_window);
  }

 private:
  ApprovalStore& store_;
  const Responder& responder_;
  Streaming streaming_;
  const Clock& wall_;
  int64_t started_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeApprovalService(ApprovalStore& store, const Responder& responder,
                                                   const Streaming& streaming,
                                                   int64_t started_unix_nanos) {
  return std::make_unique<ApprovalServiceImpl>(store, responder, streaming, started_unix_nanos);
}

}  // namespace aurigraph::refserver
