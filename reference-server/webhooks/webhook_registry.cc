#include "reference-server/webhooks/webhook_registry.h"

#include <openssl/rand.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <unordered_map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace aurigraph::refserver {

namespace wv1 = webhook::v1;

namespace {

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
constexpr int kMaxAttempts = 10;
constexpr int64_t kMaxTimeoutMs = 60'000;

// RocksDB keeps an overwritten value in its older WAL and table files until a
// compaction drops it, so sealing secrets stored in clear is done only once
// every file has been rewritten: a flush, then a compaction of everything. This
// key, written before the first seal and deleted after the compaction, makes a
// start that was killed in between compact again.
constexpr char kClearSecretsPendingKey[] = "m/clear-secrets-pending";

std::string RandomHex(int bytes) {
  std::string raw(static_cast<size_t>(bytes), '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), bytes);
  std::string hex;
  for (unsigned char c : raw) absl::StrAppend(&hex, absl::Hex(c, absl::kZeroPad2));
  return hex;
}

// The registry holds webhook secrets (and RocksDB writes them to its WAL and
// table files as they are), so only the server's own user may read it: the
// directory 0700, the files in it 0600, new files created under umask 077
// (RocksDB creates files later too, e.g. when it flushes a table: those are
// still behind the 0700 directory).
absl::Status MakePrivate(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code error;
  fs::create_directories(dir, error);
  if (!error) fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, error);
  for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
    if (it->is_regular_file(error)) {
      fs::permissions(it->path(), fs::perms::owner_read | fs::perms::owner_write,
                      fs::perm_options::replace, error);
    }
  }
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("--data-dir ", dir, ": cannot open the registry (", error.message(), ")"));
  }
  return absl::OkStatus();
}

bool Finished(wv1::DeliveryStatus status) {
  return status == wv1::DELIVERY_STATUS_SUCCESS || status == wv1::DELIVERY_STATUS_FAILED ||
         status == wv1::DELIVERY_STATUS_DEAD_LETTERED;
}

std::string WebhookKey(const std::string& id) { return "w/" + id; }
std::string DeliveryKey(uint64_t sequence, const std::string& id) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%020llu", static_cast<unsigned long long>(sequence));
  return absl::StrCat("d/", buf, "/", id);
}

// Offset paging: the token is the index of the page's first item.
absl::StatusOr<std::pair<size_t, size_t>> PageOf(const common::v1::PageRequest& page) {
  size_t offset = 0;
  if (!page.page_token().empty()) {
    const std::string& token = page.page_token();
    const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), offset);
    if (ec != std::errc() || end != token.data() + token.size()) {
      return absl::InvalidArgumentError(absl::StrCat("invalid page_token '", token, "'"));
    }
  }
  int size = page.page_size() > 0 ? page.page_size() : kDefaultPageSize;
  return std::pair{offset, static_cast<size_t>(std::min(size, kMaxPageSize))};
}

}  // namespace

absl::Status ValidateEndpoint(const std::string& url, const std::set<std::string>& allowed_hosts) {
  const size_t scheme_end = url.find("://");
  const std::string scheme = scheme_end == std::string::npos ? "" : url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") {
    return absl::InvalidArgumentError(
        absl::StrCat("url '", url, "': the scheme must be http or https"));
  }
  const size_t host_start = scheme_end + 3;
  const size_t host_end = url.find_first_of("/?#", host_start);
  std::string authority = url.substr(
      host_start, host_end == std::string::npos ? std::string::npos : host_end - host_start);
  if (authority.find('@') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("url '", url, "': credentials in URLs are not allowed"));
  }
  std::string host = authority;
  if (absl::StartsWith(authority, "[")) {  // [::1]:8080
    const size_t close = authority.find(']');
    host = close == std::string::npos ? "" : authority.substr(1, close - 1);
  } else if (const size_t colon = authority.rfind(':'); colon != std::string::npos) {
    host = authority.substr(0, colon);
  }
  if (host.empty()) return absl::InvalidArgumentError(absl::StrCat("url '", url, "': no host"));
  if (allowed_hosts.count(host) == 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("url '", url, "': host '", host, "' is not in the allow-list"));
  }
  return absl::OkStatus();
}

struct WebhookRegistry::Impl {
  Options options;
  const Clock& wall;
  std::unique_ptr<rocksdb::DB> db;
  mutable std::mutex mu;
  Observer observer;
  std::map<std::string, wv1::Webhook> webhooks;  // with secrets
  std::map<std::string, std::set<std::string>> by_owner;
  struct Delivery {
    uint64_t sequence = 0;
    wv1::WebhookDeliveryRecord record;
  };
  std::unordered_map<std::string, Delivery> deliveries;
  std::map<std::string, std::map<uint64_t, std::string>> by_webhook;  // sequence -> delivery id
  std::deque<std::pair<uint64_t, std::string>> finished;              // oldest first
  uint64_t next_sequence = 1;
  struct Totals {
    int64_t attempts = 0;
    int64_t response_ms = 0;
  };
  std::map<std::string, Totals> totals;

  Impl(Options o, const Clock& w) : options(std::move(o)), wall(w) {}

  absl::Status StoreError(const rocksdb::Status& status) const {
    return absl::InternalError(absl::StrCat("registry store: ", status.ToString()));
  }
  // Rewrites every file, so that no older version of a record survives (see
  // kClearSecretsPendingKey).
  absl::Status DropOverwrittenVersions() {
    rocksdb::FlushOptions flush;
    flush.wait = true;
    if (const rocksdb::Status s = db->Flush(flush); !s.ok()) return StoreError(s);
    rocksdb::CompactRangeOptions compact;
    compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    if (const rocksdb::Status s = db->CompactRange(compact, nullptr, nullptr); !s.ok())
      return StoreError(s);
    return Erase(kClearSecretsPendingKey, true);
  }

  absl::Status Write(const std::string& key, const google::protobuf::Message& value, bool sync) {
    if (!db) return absl::OkStatus();
    rocksdb::WriteOptions write;
    write.sync = sync;
    const rocksdb::Status status = db->Put(write, key, value.SerializeAsString());
    if (!status.ok()) return StoreError(status);
    return absl::OkStatus();
  }
  // A webhook as stored: its secret sealed when there is a key.
  absl::Status WriteWebhook(const wv1::Webhook& webhook) {
    if (!options.secret_box) return Write(WebhookKey(webhook.webhook_id()), webhook, true);
    wv1::Webhook stored = webhook;
    stored.set_secret(options.secret_box->Seal(webhook.secret(), webhook.webhook_id()));
    return Write(WebhookKey(webhook.webhook_id()), stored, true);
  }
  // A stored webhook's secret, opened; an error naming the directory when it
  // was sealed and there is no key, or another key.
  absl::Status OpenSecret(wv1::Webhook& webhook) const {
    if (!SecretBox::IsSealed(webhook.secret())) return absl::OkStatus();
    if (!options.secret_box) {
      return absl::FailedPreconditionError(
          absl::StrCat("--data-dir ", options.data_dir,
                       ": its webhook secrets are encrypted; give the key "
                       "(--secret-key-file)"));
    }
    auto secret = options.secret_box->Open(webhook.secret(), webhook.webhook_id());
    if (!secret.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "--secret-key-file: ", secret.status().message(), " in --data-dir ", options.data_dir));
    }
    webhook.set_secret(*std::move(secret));
    return absl::OkStatus();
  }
  absl::Status Erase(const std::string& key, bool sync) {
    if (!db) return absl::OkStatus();
    rocksdb::WriteOptions write;
    write.sync = sync;
    const rocksdb::Status status = db->Delete(write, key);
    if (!status.ok()) return StoreError(status);
    return absl::OkStatus();
  }

  // Applies a record's outcome to its webhook's statistics: +1 entering a state, -1 leaving it.
  void Account(const wv1::WebhookDeliveryRecord& record, int sign) {
    auto it = webhooks.find(record.webhook_id());
    if (it == webhooks.end()) return;
    wv1::WebhookStatistics& stats = *it->second.mutable_statistics();
    Totals& t = totals[record.webhook_id()];
    for (const auto& attempt : record.attempts()) {
      t.attempts += sign;
      t.response_ms += sign * attempt.response_ms();
    }
    stats.set_average_response_ms(
        t.attempts > 0 ? static_cast<double>(t.response_ms) / static_cast<double>(t.attempts) : 0);
    if (!Finished(record.status())) return;
    stats.set_total_deliveries(stats.total_deliveries() + sign);
    switch (record.status()) {
      case wv1::DELIVERY_STATUS_SUCCESS:
        stats.set_successful_deliveries(stats.successful_deliveries() + sign);
        break;
      case wv1::DELIVERY_STATUS_DEAD_LETTERED:
        stats.set_dead_lettered(stats.dead_lettered() + sign);
        break;
      default:
        stats.set_failed_deliveries(stats.failed_deliveries() + sign);
        break;
    }
  }

  void Index(uint64_t sequence, wv1::WebhookDeliveryRecord record) {
    by_webhook[record.webhook_id()][sequence] = record.delivery_id();
    if (Finished(record.status())) finished.emplace_back(sequence, record.delivery_id());
    Account(record, +1);
    const std::string id = record.delivery_id();  // read before the record moves
    deliveries[id] = Delivery{sequence, std::move(record)};
  }

  // Forgets the oldest finished records beyond the bound.
  void Evict() {
    while (static_cast<int64_t>(deliveries.size()) > options.max_stored_deliveries &&
           !finished.empty()) {
      const auto [sequence, id] = finished.front();
      finished.pop_front();
      auto it = deliveries.find(id);
      if (it == deliveries.end() || it->second.sequence != sequence ||
          !Finished(it->second.record.status())) {
        continue;  // requeued since, or already gone
      }
      by_webhook[it->second.record.webhook_id()].erase(sequence);
      Erase(DeliveryKey(sequence, id), false).IgnoreError();
      deliveries.erase(it);
    }
  }

  static wv1::Webhook Public(wv1::Webhook webhook) {
    webhook.clear_secret();
    return webhook;
  }
};

absl::StatusOr<std::unique_ptr<WebhookRegistry>> WebhookRegistry::Open(Options options,
                                                                       const Clock& wall) {
  auto impl = std::make_unique<Impl>(std::move(options), wall);
  if (!impl->options.data_dir.empty()) {
    if (auto made = MakePrivate(impl->options.data_dir); !made.ok()) return made;
    rocksdb::Options db_options;
    db_options.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    const mode_t umask_before = umask(077);
    const rocksdb::Status status = rocksdb::DB::Open(db_options, impl->options.data_dir, &db);
    umask(umask_before);
    if (!status.ok()) {
      return absl::FailedPreconditionError(absl::StrCat("--data-dir ", impl->options.data_dir,
                                                        ": cannot open the registry (",
                                                        status.ToString(), ")"));
    }
    impl->db.reset(db);
    std::string unused;
    bool clear_secrets_pending =
        db->Get(rocksdb::ReadOptions(), kClearSecretsPendingKey, &unused).ok();
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek("w/"); it->Valid() && it->key().starts_with("w/"); it->Next()) {
      wv1::Webhook webhook;
      if (!webhook.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
        return absl::DataLossError(absl::StrCat("--data-dir ", impl->options.data_dir,
                                                ": corrupt webhook record ", it->key().ToString()));
      }
      const bool in_clear = !SecretBox::IsSealed(webhook.secret());
      if (auto opened = impl->OpenSecret(webhook); !opened.ok()) return opened;
      // A secret stored in clear before the key was given is sealed now.
      if (in_clear && impl->options.secret_box) {
        if (!clear_secrets_pending) {
          rocksdb::WriteOptions write;
          write.sync = true;
          if (const rocksdb::Status s = db->Put(write, kClearSecretsPendingKey, ""); !s.ok()) {
            return impl->StoreError(s);
          }
          clear_secrets_pending = true;
        }
        if (auto sealed = impl->WriteWebhook(webhook); !sealed.ok()) return sealed;
      }
      impl->by_owner[webhook.owner_id()].insert(webhook.webhook_id());
      impl->webhooks[webhook.webhook_id()] = std::move(webhook);
    }
    for (it->Seek("d/"); it->Valid() && it->key().starts_with("d/"); it->Next()) {
      wv1::WebhookDeliveryRecord record;
      if (!record.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
        return absl::DataLossError(absl::StrCat("--data-dir ", impl->options.data_dir,
                                                ": corrupt delivery record ",
                                                it->key().ToString()));
      }
      const uint64_t sequence = std::stoull(it->key().ToString().substr(2, 20));
      impl->next_sequence = std::max(impl->next_sequence, sequence + 1);
      impl->Index(sequence, std::move(record));
    }
    it.reset();
    if (clear_secrets_pending) {
      if (auto dropped = impl->DropOverwrittenVersions(); !dropped.ok()) return dropped;
    }
  }
  return std::unique_ptr<WebhookRegistry>(new WebhookRegistry(std::move(impl)));
}

WebhookRegistry::WebhookRegistry(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WebhookRegistry::~WebhookRegistry() = default;

void WebhookRegistry::SetObserver(Observer observer) {
  std::lock_guard lock(impl_->mu);
  impl_->observer = std::move(observer);
}

absl::StatusOr<wv1::Webhook> WebhookRegistry::Create(const wv1::CreateWebhookRequest& request) {
  if (request.owner_id().empty()) return absl::InvalidArgumentError("owner_id is required");
  if (auto status = ValidateEndpoint(request.url(), impl_->options.allowed_hosts); !status.ok()) {
    return status;
  }
  if (request.events().empty())
    return absl::InvalidArgumentError("events: subscribe to at least one");
  for (int event : request.events()) {
    if (event == wv1::WEBHOOK_EVENT_UNSPECIFIED || !wv1::WebhookEvent_IsValid(event)) {
      return absl::InvalidArgumentError(absl::StrCat("events: invalid event ", event));
    }
  }
  if (request.max_attempts() < 0 || request.max_attempts() > kMaxAttempts) {
    return absl::InvalidArgumentError(absl::StrCat("max_attempts: 1..", kMaxAttempts));
  }
  if (request.timeout_ms() < 0 || request.timeout_ms() > kMaxTimeoutMs) {
    return absl::InvalidArgumentError(absl::StrCat("timeout_ms: 1..", kMaxTimeoutMs));
  }
  wv1::Webhook webhook;
  webhook.set_webhook_id("wh-" + RandomHex(8));
  webhook.set_owner_id(request.owner_id());
  webhook.set_url(request.url());
  webhook.set_method(request.method() == wv1::HTTP_METHOD_UNSPECIFIED ? wv1::HTTP_METHOD_POST
                                                                      : request.method());
  *webhook.mutable_events() = request.events();
  webhook.set_status(wv1::WEBHOOK_STATUS_ACTIVE);
  webhook.set_secret("whsec_" + RandomHex(32));
  webhook.set_max_attempts(request.max_attempts() > 0 ? request.max_attempts()
                                                      : impl_->options.default_max_attempts);
  webhook.set_timeout_ms(request.timeout_ms() > 0 ? request.timeout_ms()
                                                  : impl_->options.default_timeout_ms);
  const int64_t now = impl_->wall.NowNanos();
  webhook.set_created_at_unix_nanos(now);
  webhook.set_updated_at_unix_nanos(now);
  Observer observer;
  {
    std::lock_guard lock(impl_->mu);
    if (auto status = impl_->WriteWebhook(webhook); !status.ok()) {
      return status;
    }
    impl_->webhooks[webhook.webhook_id()] = webhook;
    impl_->by_owner[webhook.owner_id()].insert(webhook.webhook_id());
    observer = impl_->observer;
  }
  if (observer) observer(Change::kCreated, Impl::Public(webhook));
  return webhook;  // the only reply that carries the secret
}

absl::StatusOr<wv1::Webhook> WebhookRegistry::Get(const std::string& webhook_id) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->webhooks.find(webhook_id);
  if (it == impl_->webhooks.end()) {
    return absl::NotFoundError(absl::StrCat("webhook '", webhook_id, "' not found"));
  }
  return Impl::Public(it->second);
}

absl::StatusOr<std::string> WebhookRegistry::SecretOf(const std::string& webhook_id) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->webhooks.find(webhook_id);
  if (it == impl_->webhooks.end()) {
    return absl::NotFoundError(absl::StrCat("webhook '", webhook_id, "' not found"));
  }
  return it->second.secret();
}

absl::StatusOr<wv1::ListWebhooksResponse> WebhookRegistry::List(
    const wv1::ListWebhooksRequest& request) const {
  auto page = PageOf(request.page());
  if (!page.ok()) return page.status();
  const auto [offset, size] = *page;
  std::lock_guard lock(impl_->mu);
  wv1::ListWebhooksResponse response;
  auto owner = impl_->by_owner.find(request.owner_id());
  if (owner == impl_->by_owner.end()) return response;
  size_t index = 0;
  for (const std::string& id : owner->second) {
    if (index++ < offset) continue;
    if (static_cast<size_t>(response.webhooks_size()) == size) {
      response.set_next_page_token(absl::StrCat(offset + size));
      break;
    }
    *response.add_webhooks() = Impl::Public(impl_->webhooks.at(id));
  }
  return response;
}

absl::StatusOr<wv1::Webhook> WebhookRegistry::Update(const wv1::UpdateWebhookRequest& request) {
  if (!request.url().empty()) {
    if (auto status = ValidateEndpoint(request.url(), impl_->options.allowed_hosts); !status.ok()) {
      return status;
    }
  }
  if (request.status() == wv1::WEBHOOK_STATUS_DELETED) {
    return absl::InvalidArgumentError("status: use DeleteWebhook to delete");
  }
  wv1::Webhook updated;
  Observer observer;
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->webhooks.find(request.webhook_id());
    if (it == impl_->webhooks.end()) {
      return absl::NotFoundError(absl::StrCat("webhook '", request.webhook_id(), "' not found"));
    }
    updated = it->second;
    if (!request.url().empty()) updated.set_url(request.url());
    if (!request.events().empty()) *updated.mutable_events() = request.events();
    if (request.status() != wv1::WEBHOOK_STATUS_UNSPECIFIED) updated.set_status(request.status());
    updated.set_updated_at_unix_nanos(impl_->wall.NowNanos());
    wv1::Webhook stored = updated;
    stored.clear_statistics();
    if (auto status = impl_->WriteWebhook(stored); !status.ok()) {
      return status;
    }
    it->second = updated;
    observer = impl_->observer;
  }
  updated = Impl::Public(updated);
  if (observer) observer(Change::kUpdated, updated);
  return updated;
}

absl::StatusOr<bool> WebhookRegistry::Delete(const std::string& webhook_id) {
  wv1::Webhook deleted;
  Observer observer;
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->webhooks.find(webhook_id);
    if (it == impl_->webhooks.end()) return false;
    if (auto status = impl_->Erase(WebhookKey(webhook_id), true); !status.ok()) return status;
    deleted = Impl::Public(it->second);
    deleted.set_status(wv1::WEBHOOK_STATUS_DELETED);
    impl_->by_owner[deleted.owner_id()].erase(webhook_id);
    impl_->webhooks.erase(it);
    observer = impl_->observer;
  }
  if (observer) observer(Change::kDeleted, deleted);
  return true;
}

std::vector<wv1::Webhook> WebhookRegistry::Subscribers(wv1::WebhookEvent event) const {
  std::vector<wv1::Webhook> out;
  std::lock_guard lock(impl_->mu);
  for (const auto& [id, webhook] : impl_->webhooks) {
    if (webhook.status() != wv1::WEBHOOK_STATUS_ACTIVE &&
        webhook.status() != wv1::WEBHOOK_STATUS_FAILING) {
      continue;
    }
    if (std::find(webhook.events().begin(), webhook.events().end(), event) !=
        webhook.events().end()) {
      out.push_back(Impl::Public(webhook));
    }
  }
  return out;
}

int64_t WebhookRegistry::webhook_count() const {
  std::lock_guard lock(impl_->mu);
  return static_cast<int64_t>(impl_->webhooks.size());
}

absl::Status WebhookRegistry::PutDelivery(const wv1::WebhookDeliveryRecord& record) {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->deliveries.find(record.delivery_id());
  uint64_t sequence;
  if (it == impl_->deliveries.end()) {
    sequence = impl_->next_sequence++;
  } else {
    sequence = it->second.sequence;
    impl_->Account(it->second.record, -1);
  }
  if (auto status = impl_->Write(DeliveryKey(sequence, record.delivery_id()), record, false);
      !status.ok()) {
    if (it != impl_->deliveries.end()) impl_->Account(it->second.record, +1);
    return status;
  }
  if (it == impl_->deliveries.end()) {
    impl_->Index(sequence, record);
  } else {
    if (Finished(record.status())) impl_->finished.emplace_back(sequence, record.delivery_id());
    it->second.record = record;
    impl_->Account(record, +1);
  }
  impl_->Evict();
  return absl::OkStatus();
}

absl::StatusOr<wv1::WebhookDeliveryRecord> WebhookRegistry::GetDelivery(
    const std::string& delivery_id) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->deliveries.find(delivery_id);
  if (it == impl_->deliveries.end()) {
    return absl::NotFoundError(absl::StrCat("delivery '", delivery_id, "' not found"));
  }
  return it->second.record;
}

absl::StatusOr<wv1::DeliveryHistoryResponse> WebhookRegistry::History(
    const wv1::DeliveryHistoryRequest& request) const {
  auto page = PageOf(request.page());
  if (!page.ok()) return page.status();
  const auto [offset, size] = *page;
  std::lock_guard lock(impl_->mu);
  wv1::DeliveryHistoryResponse response;
  auto ids = impl_->by_webhook.find(request.webhook_id());
  if (ids == impl_->by_webhook.end()) return response;
  size_t index = 0;
  for (const auto& [sequence, id] : ids->second) {  // oldest first
    if (index++ < offset) continue;
    if (static_cast<size_t>(response.deliveries_size()) == size) {
      response.set_next_page_token(absl::StrCat(offset + size));
      break;
    }
    *response.add_deliveries() = impl_->deliveries.at(id).record;
  }
  return response;
}

std::vector<wv1::WebhookDeliveryRecord> WebhookRegistry::Unfinished() const {
  std::vector<std::pair<uint64_t, wv1::WebhookDeliveryRecord>> found;
  std::lock_guard lock(impl_->mu);
  for (const auto& [id, delivery] : impl_->deliveries) {
    if (!Finished(delivery.record.status())) found.emplace_back(delivery.sequence, delivery.record);
  }
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<wv1::WebhookDeliveryRecord> out;
  for (auto& [sequence, record] : found) out.push_back(std::move(record));
  return out;
}

std::vector<wv1::WebhookDeliveryRecord> WebhookRegistry::Failed(
    const std::string& webhook_id) const {
  std::vector<wv1::WebhookDeliveryRecord> out;
  std::lock_guard lock(impl_->mu);
  auto ids = impl_->by_webhook.find(webhook_id);
  if (ids == impl_->by_webhook.end()) return out;
  for (const auto& [sequence, id] : ids->second) {
    const auto& record = impl_->deliveries.at(id).record;
    if (record.status() == wv1::DELIVERY_STATUS_FAILED ||
        record.status() == wv1::DELIVERY_STATUS_DEAD_LETTERED) {
      out.push_back(record);
    }
  }
  return out;
}

}  // namespace aurigraph::refserver
