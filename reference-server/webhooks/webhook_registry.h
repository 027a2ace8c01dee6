// The webhook registry and delivery records, kept in memory for reads and
// written through to RocksDB in a data directory, so webhooks and the state of
// their deliveries survive a restart. Registry changes are written with fsync
// (a registered webhook is never lost); delivery records without (a crash may
// lose the last few attempts' history, never a webhook).
//
// Safety: endpoint URLs must be http or https to an allowed host; a webhook's
// secret is generated here, returned once by Create and otherwise only given
// to the delivery pipeline (SecretOf).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "aurigraph/webhook/v1/webhook.pb.h"
#include "common/clock/clock.h"
#include "reference-server/webhooks/secret_box.h"

namespace aurigraph::refserver {

class WebhookRegistry {
 public:
  struct Options {
    std::string data_dir;  // empty: memory only
    std::set<std::string> allowed_hosts = {"127.0.0.1", "localhost", "::1"};
    int default_max_attempts = 5;
    int64_t default_timeout_ms = 10'000;
    // Finished delivery records kept; the oldest are forgotten beyond it.
    int64_t max_stored_deliveries = 1'000'000;
    // Seals webhook secrets before they are stored; null: stored in clear
    // (behind the data directory's 0700).
    std::shared_ptr<const SecretBox> secret_box;
  };
  enum class Change { kCreated, kUpdated, kDeleted };
  using Observer = std::function<void(Change, const webhook::v1::Webhook&)>;

  // FAILED_PRECONDITION naming the directory when RocksDB cannot open it.
  static absl::StatusOr<std::unique_ptr<WebhookRegistry>> Open(Options options, const Clock& wall);
  ~WebhookRegistry();

  // Called after each change, outside the registry's lock, with the secret cleared.
  void SetObserver(Observer observer);

  absl::StatusOr<webhook::v1::Webhook> Create(const webhook::v1::CreateWebhookRequest& request);
  absl::StatusOr<webhook::v1::Webhook> Get(const std::string& webhook_id) const;
  absl::StatusOr<std::string> SecretOf(const std::string& webhook_id) const;
  absl::StatusOr<webhook::v1::ListWebhooksResponse> List(
      const webhook::v1::ListWebhooksRequest& request) const;
  absl::StatusOr<webhook::v1::Webhook> Update(const webhook::v1::UpdateWebhookRequest& request);
  absl::StatusOr<bool> Delete(const std::string& webhook_id);
  // Active webhooks subscribed to `event`.
  std::vector<webhook::v1::Webhook> Subscribers(webhook::v1::WebhookEvent event) const;
  int64_t webhook_count() const;

  // Stores a delivery record (new or updated) and, when it is finished, the
  // outcome in its webhook's statistics.
  absl::Status PutDelivery(const webhook::v1::WebhookDeliveryRecord& record);
  absl::StatusOr<webhook::v1::WebhookDeliveryRecord> GetDelivery(
      const std::string& delivery_id) const;
  absl::StatusOr<webhook::v1::DeliveryHistoryResponse> History(
      const webhook::v1::DeliveryHistoryRequest& request) const;
  // Deliveries still to be attempted (pending or waiting for a retry).
  std::vector<webhook::v1::WebhookDeliveryRecord> Unfinished() const;
  // A webhook's failed and dead-lettered deliveries.
  std::vector<webhook::v1::WebhookDeliveryRecord> Failed(const std::string& webhook_id) const;

 private:
  struct Impl;
  explicit WebhookRegistry(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Validates an endpoint URL: http or https, to a host in `allowed_hosts`.
absl::Status ValidateEndpoint(const std::string& url, const std::set<std::string>& allowed_hosts);

}  // namespace aurigraph::refserver
