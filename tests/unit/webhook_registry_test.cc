// The webhook building blocks without a network: signatures, the retry
// schedule, endpoint validation and the registry (in memory and in RocksDB).
#include "reference-server/webhooks/webhook_registry.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "common/clock/clock.h"
#include "common/webhook_signature/webhook_signature.h"
#include "reference-server/webhooks/retry_policy.h"

namespace aurigraph::refserver {
namespace {

namespace wv1 = webhook::v1;

TEST(WebhookSignature, MatchesAnIndependentHmacAndRejectsEveryAlteration) {
  const std::string body = R"({"event":"APPROVAL_CREATED"})";
  // Python: base64(hmac.new(b"whsec-test", b"1700000000." + body, sha256).digest())
  const std::string signature = SignWebhook("whsec-test", 1'700'000'000, body);
  EXPECT_EQ(signature, "sha256=cCgwPRT2s90UdLVTM88KkS3Wamsx+tNOPe3LvPW+KUk=");
  const auto check = [&](std::string_view secret, std::string_view sig, std::string_view ts,
                         std::string_view b,
                         int64_t now) { return VerifyWebhook(secret, sig, ts, b, now, 300); };
  EXPECT_EQ(check("whsec-test", signature, "1700000000", body, 1'700'000'100),
            SignatureCheck::kValid);
  EXPECT_EQ(check("whsec-test", signature, "1700000000", body + " ", 1'700'000'000),
            SignatureCheck::kMismatch);
  EXPECT_EQ(check("whsec-test", signature, "1700000001", body, 1'700'000'000),
            SignatureCheck::kMismatch);
  EXPECT_EQ(check("other", signature, "1700000000", body, 1'700'000'000),
            SignatureCheck::kMismatch);
  EXPECT_EQ(check("whsec-test", signature, "1700000000", body, 1'700'000'301),
            SignatureCheck::kStale);
  EXPECT_EQ(check("whsec-test", signature, "1700000000", body, 1'699'999'699),
            SignatureCheck::kStale);
  EXPECT_EQ(check("whsec-test", "md5=abc", "1700000000", body, 1'700'000'000),
            SignatureCheck::kMalformed);
  EXPECT_EQ(check("whsec-test", "sha256=***", "1700000000", body, 1'700'000'000),
            SignatureCheck::kMalformed);
  EXPECT_EQ(check("whsec-test", signature, "", body, 1'700'000'000), SignatureCheck::kMalformed);
  EXPECT_EQ(check("whsec-test", signature, "17e8", body, 1'700'000'000),
            SignatureCheck::kMalformed);
}

TEST(RetryPolicy, DoublesFromTheInitialBackoffUpToTheCap) {
  RetryPolicy policy;
  policy.initial_backoff_nanos = 1'000'000'000;
  policy.max_backoff_nanos = 5'000'000'000;
  EXPECT_EQ(policy.BackoffAfter(1), 1'000'000'000);
  EXPECT_EQ(policy.BackoffAfter(2), 2'000'000'000);
  EXPECT_EQ(policy.BackoffAfter(3), 4'000'000'000);
  EXPECT_EQ(policy.BackoffAfter(4), 5'000'000'000);
  EXPECT_EQ(policy.BackoffAfter(60), 5'000'000'000);
}

TEST(WebhookEndpoint, OnlyHttpToAllowedHosts) {
  const std::set<std::string> allowed = {"127.0.0.1", "localhost", "::1"};
  EXPECT_TRUE(ValidateEndpoint("http://127.0.0.1:8080/hook", allowed).ok());
  EXPECT_TRUE(ValidateEndpoint("https://localhost/hook?x=1", allowed).ok());
  EXPECT_TRUE(ValidateEndpoint("http://[::1]:9/h", allowed).ok());
  EXPECT_EQ(ValidateEndpoint("file:///etc/passwd", allowed).message(),
            "url 'file:///etc/passwd': the scheme must be http or https");
  EXPECT_EQ(ValidateEndpoint("http://10.0.0.1/h", allowed).message(),
            "url 'http://10.0.0.1/h': host '10.0.0.1' is not in the allow-list");
  EXPECT_EQ(ValidateEndpoint("http://127.0.0.1@evil.example/h", allowed).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateEndpoint("http:///h", allowed).message(), "url 'http:///h': no host");
}

wv1::CreateWebhookRequest Request(const std::string& owner) {
  wv1::CreateWebhookRequest request;
  request.set_owner_id(owner);
  request.set_url("http://127.0.0.1:9/hook");
  request.add_events(wv1::WEBHOOK_EVENT_APPROVAL_CREATED);
  return request;
}

TEST(WebhookRegistry, CrudListsByOwnerAndNeverReturnsTheSecretAgain) {
  ManualClock clock(1'000);
  auto registry = WebhookRegistry::Open({}, clock);
  ASSERT_TRUE(registry.ok()) << registry.status();
  auto created = (*registry)->Create(Request("alice"));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->secret().size(), 6u + 64u);  // "whsec_" + 32 random bytes in hex
  EXPECT_EQ(created->max_attempts(), 5);
  EXPECT_EQ(created->method(), wv1::HTTP_METHOD_POST);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE((*registry)->Create(Request("alice")).ok());
  ASSERT_TRUE((*registry)->Create(Request("bob")).ok());
  EXPECT_TRUE((*registry)->Get(created->webhook_id())->secret().empty());
  EXPECT_EQ(*(*registry)->SecretOf(created->webhook_id()), created->secret());

  wv1::ListWebhooksRequest list;
  list.set_owner_id("alice");
  list.mutable_page()->set_page_size(3);
  auto first = (*registry)->List(list);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->webhooks_size(), 3);
  EXPECT_EQ(first->next_page_token(), "3");
  list.mutable_page()->set_page_token(first->next_page_token());
  auto second = (*registry)->List(list);
  EXPECT_EQ(second->webhooks_size(), 2);
  EXPECT_TRUE(second->next_page_token().empty());
  for (const auto& webhook : second->webhooks()) EXPECT_TRUE(webhook.secret().empty());

  wv1::UpdateWebhookRequest update;
  update.set_webhook_id(created->webhook_id());
  update.set_status(wv1::WEBHOOK_STATUS_INACTIVE);
  ASSERT_TRUE((*registry)->Update(update).ok());
  EXPECT_EQ((*registry)->Subscribers(wv1::WEBHOOK_EVENT_APPROVAL_CREATED).size(), 5u);
  EXPECT_TRUE((*registry)->Subscribers(wv1::WEBHOOK_EVENT_TRANSACTION_COMMITTED).empty());
  EXPECT_TRUE(*(*registry)->Delete(created->webhook_id()));
  EXPECT_FALSE(*(*registry)->Delete(created->webhook_id()));
  EXPECT_EQ((*registry)->Get(created->webhook_id()).status().code(), absl::StatusCode::kNotFound);

  auto bad = Request("alice");
  bad.clear_events();
  EXPECT_EQ((*registry)->Create(bad).status().message(), "events: subscribe to at least one");
  bad = Request("alice");
  bad.set_max_attempts(11);
  EXPECT_EQ((*registry)->Create(bad).status().message(), "max_attempts: 1..10");
}

TEST(WebhookRegistry, WebhooksAndDeliveriesSurviveAReopen) {
  const auto dir = std::filesystem::temp_directory_path() / "webhook-registry-unit";
  std::filesystem::remove_all(dir);
  ManualClock clock(1'000);
  WebhookRegistry::Options options;
  options.data_dir = dir.string();
  std::string id, secret;
  {
    auto registry = WebhookRegistry::Open(options, clock);
    ASSERT_TRUE(registry.ok()) << registry.status();
    auto created = (*registry)->Create(Request("alice"));
    id = created->webhook_id();
    secret = created->secret();
    for (int i = 0; i < 3; ++i) {
      wv1::WebhookDeliveryRecord record;
      record.set_delivery_id("dl-" + std::to_string(i));
      record.set_webhook_id(id);
      record.set_status(i == 0 ? wv1::DELIVERY_STATUS_SUCCESS : wv1::DELIVERY_STATUS_RETRY);
      record.add_attempts()->set_response_ms(10 * (i + 1));
      ASSERT_TRUE((*registry)->PutDelivery(record).ok());
    }
  }
  auto registry = WebhookRegistry::Open(options, clock);
  ASSERT_TRUE(registry.ok()) << registry.status();
  EXPECT_EQ(*(*registry)->SecretOf(id), secret);
  const auto unfinished = (*registry)->Unfinished();
  ASSERT_EQ(unfinished.size(), 2u);
  EXPECT_EQ(unfinished[0].delivery_id(), "dl-1");
  EXPECT_EQ(unfinished[1].delivery_id(), "dl-2");
  const auto stats = (*registry)->Get(id)->statistics();
  EXPECT_EQ(stats.total_deliveries(), 1);
  EXPECT_EQ(stats.successful_deliveries(), 1);
  EXPECT_DOUBLE_EQ(stats.average_response_ms(), 20);
  wv1::DeliveryHistoryRequest history;
  history.set_webhook_id(id);
  EXPECT_EQ((*registry)->History(history)->deliveries_size(), 3);
  registry->reset();
  std::filesystem::remove_all(dir);
}

TEST(WebhookRegistry, OldFinishedDeliveriesAreForgottenBeyondTheBound) {
  ManualClock clock(1'000);
  WebhookRegistry::Options options;
  options.max_stored_deliveries = 10;
  auto registry = WebhookRegistry::Open(options, clock);
  auto created = (*registry)->Create(Request("alice"));
  for (int i = 0; i < 25; ++i) {
    wv1::WebhookDeliveryRecord record;
    record.set_delivery_id("dl-" + std::to_string(i));
    record.set_webhook_id(created->webhook_id());
    record.set_status(i == 0 ? wv1::DELIVERY_STATUS_PENDING : wv1::DELIVERY_STATUS_SUCCESS);
    ASSERT_TRUE((*registry)->PutDelivery(record).ok());
  }
  wv1::DeliveryHistoryRequest history;
  history.set_webhook_id(created->webhook_id());
  const auto kept = (*registry)->History(history);
  ASSERT_EQ(kept->deliveries_size(), 10);
  EXPECT_EQ(kept->deliveries(0).delivery_id(), "dl-0");  // unfinished: never forgotten
  EXPECT_EQ(kept->deliveries(9).delivery_id(), "dl-24");
}

// The registry holds webhook secrets: its directory and files are the server
// user's alone, also when the directory existed before with looser modes.
TEST(WebhookRegistry, TheDataDirectoryAndItsFilesArePrivate) {
  namespace fs = std::filesystem;
  const auto dir = fs::temp_directory_path() / "webhook-registry-private";
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::all, fs::perm_options::replace);
  std::ofstream(dir / "LOG.old.1") << "written by an earlier, older server\n";
  fs::permissions(dir / "LOG.old.1", fs::perms::owner_read | fs::perms::owner_write |
                                         fs::perms::group_read | fs::perms::others_read);
  ManualClock clock(1'000);
  WebhookRegistry::Options options;
  options.data_dir = dir.string();
  {
    auto registry = WebhookRegistry::Open(options, clock);
    ASSERT_TRUE(registry.ok()) << registry.status();
    ASSERT_TRUE((*registry)->Create(Request("alice")).ok());
  }
  EXPECT_EQ(fs::status(dir).permissions(), fs::perms::owner_all);
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    ++files;
    EXPECT_EQ(entry.status().permissions(), fs::perms::owner_read | fs::perms::owner_write)
        << entry.path();
  }
  EXPECT_GE(files, 3);  // the WAL, MANIFEST, CURRENT, ... and the old log
  fs::remove_all(dir);
}

// Whether any file in `dir` holds `text` as is.
bool AnyFileHolds(const std::filesystem::path& dir, const std::string& text) {
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.find(text) != std::string::npos) return true;
  }
  return false;
}

// With the operator's key the registry's files (WAL and tables) hold no secret
// in clear; a secret stored in clear before is sealed when the key is given;
// without the key, or with another, the registry does not open.
TEST(WebhookRegistry, SecretsAreEncryptedAtRestWithTheOperatorsKey) {
  namespace fs = std::filesystem;
  const auto dir = fs::temp_directory_path() / "webhook-registry-sealed";
  fs::remove_all(dir);
  ManualClock clock(1'000);
  WebhookRegistry::Options options;
  options.data_dir = dir.string();
  std::string before_id, before_secret, sealed_id, sealed_secret;
  {
    auto registry = WebhookRegistry::Open(options, clock);
    ASSERT_TRUE(registry.ok()) << registry.status();
    auto created = (*registry)->Create(Request("alice"));
    before_id = created->webhook_id();
    before_secret = created->secret();
  }
  EXPECT_TRUE(AnyFileHolds(dir, before_secret));  // without a key: in clear (the check can see it)
  options.secret_box = std::make_shared<const SecretBox>(std::string(32, 'k'));
  {
    auto registry = WebhookRegistry::Open(options, clock);
    ASSERT_TRUE(registry.ok()) << registry.status();
    auto created = (*registry)->Create(Request("bob"));
    sealed_id = created->webhook_id();
    sealed_secret = created->secret();
    wv1::UpdateWebhookRequest update;
    update.set_webhook_id(sealed_id);
    update.set_url("http://127.0.0.1:9/moved");
    ASSERT_TRUE((*registry)->Update(update).ok());
  }
  EXPECT_FALSE(AnyFileHolds(dir, sealed_secret));
  EXPECT_FALSE(AnyFileHolds(dir, before_secret));  // its version in clear was compacted away
  {
    auto registry = WebhookRegistry::Open(options, clock);
    ASSERT_TRUE(registry.ok()) << registry.status();
    EXPECT_EQ(*(*registry)->SecretOf(before_id), before_secret);
    EXPECT_EQ(*(*registry)->SecretOf(sealed_id), sealed_secret);
  }
  WebhookRegistry::Options no_key = options;
  no_key.secret_box = nullptr;
  auto refused = WebhookRegistry::Open(no_key, clock);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(),
            "--data-dir " + dir.string() +
                ": its webhook secrets are encrypted; give the key (--secret-key-file)");
  WebhookRegistry::Options other_key = options;
  other_key.secret_box = std::make_shared<const SecretBox>(std::string(32, 'x'));
  auto wrong = WebhookRegistry::Open(other_key, clock);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().message(),
            "--secret-key-file: a webhook secret does not open with this key (another key, or "
            "altered bytes) in --data-dir " +
                dir.string());
  fs::remove_all(dir);
}

// A start killed after sealing a secret stored in clear, but before the
// compaction that drops the version in clear, compacts at the next start.
TEST(WebhookRegistry, AStartKilledBeforeTheCompactionCompactsAtTheNext) {
  namespace fs = std::filesystem;
  const auto dir = fs::temp_directory_path() / "webhook-registry-killed-sealing";
  fs::remove_all(dir);
  ManualClock clock(1'000);
  WebhookRegistry::Options options;
  options.data_dir = dir.string();
  wv1::Webhook created;
  {
    auto registry = WebhookRegistry::Open(options, clock);
    ASSERT_TRUE(registry.ok()) << registry.status();
    created = *(*registry)->Create(Request("alice"));
  }
  const SecretBox box(std::string(32, 'k'));
  {
    // What the killed start had written: the pending mark, then the sealed record.
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir.string(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    wv1::Webhook sealed = created;
    sealed.set_secret(box.Seal(created.secret(), created.webhook_id()));
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "m/clear-secrets-pending", "").ok());
    ASSERT_TRUE(
        db->Put(rocksdb::WriteOptions(), "w/" + created.webhook_id(), sealed.SerializeAsString())
            .ok());
  }
  ASSERT_TRUE(AnyFileHolds(dir, created.secret()));
  options.secret_box = std::make_shared<const SecretBox>(box);
  {
    auto registry = WebhookRegistry::Open(options, clock);
    ASSERT_TRUE(registry.ok()) << registry.status();
    EXPECT_EQ(*(*registry)->SecretOf(created.webhook_id()), created.secret());
  }
  EXPECT_FALSE(AnyFileHolds(dir, created.secret()));
  fs::remove_all(dir);
}

TEST(SecretBox, ASealedSecretOpensOnlyWithItsKeyAndWebhook) {
  const SecretBox box(std::string(32, 'k'));
  const std::string sealed = box.Seal("whsec_abc", "wh-1");
  EXPECT_TRUE(SecretBox::IsSealed(sealed));
  EXPECT_NE(sealed, box.Seal("whsec_abc", "wh-1"));  // a fresh nonce each time
  EXPECT_EQ(*box.Open(sealed, "wh-1"), "whsec_abc");
  EXPECT_FALSE(box.Open(sealed, "wh-2").ok());  // moved to another webhook
  EXPECT_FALSE(SecretBox(std::string(32, 'x')).Open(sealed, "wh-1").ok());
  std::string altered = sealed;
  // A character inside the base64 (the last ones may carry only padding bits).
  char& inside = altered[std::string("aes256gcm:").size() + 20];
  inside = inside == 'A' ? 'B' : 'A';
  EXPECT_FALSE(box.Open(altered, "wh-1").ok());
  EXPECT_FALSE(box.Open("aes256gcm:not base64!", "wh-1").ok());
}

TEST(SecretBox, KeyFilesAreHexOrRawBytes) {
  const auto dir = std::filesystem::temp_directory_path();
  const auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name, std::ios::binary) << text;
    return (dir / name).string();
  };
  const std::string hex = write("key-hex", std::string(64, 'a') + "\n");
  const std::string raw = write("key-raw", std::string(32, '\xaa'));
  ASSERT_TRUE(SecretBox::FromKeyFile(hex).ok());
  ASSERT_TRUE(SecretBox::FromKeyFile(raw).ok());
  // The same key written both ways opens the other's seals.
  EXPECT_EQ(*SecretBox::FromKeyFile(raw)->Open(SecretBox::FromKeyFile(hex)->Seal("s", "w"), "w"),
            "s");
  const std::string short_key = write("key-short", "abcd\n");
  EXPECT_EQ(SecretBox::FromKeyFile(short_key).status().message(),
            "--secret-key-file " + short_key +
                ": expected 64 hex digits or 32 bytes (e.g. openssl rand -hex 32)");
  for (const char* name : {"key-hex", "key-raw", "key-short"}) std::filesystem::remove(dir / name);
}

TEST(WebhookRegistry, AnUnusableDataDirectoryIsNamed) {
  ManualClock clock(1'000);
  WebhookRegistry::Options options;
  options.data_dir = "/proc/no-such-dir/registry";
  auto registry = WebhookRegistry::Open(options, clock);
  ASSERT_FALSE(registry.ok());
  EXPECT_EQ(registry.status().message().rfind(
                "--data-dir /proc/no-such-dir/registry: cannot open the registry (", 0),
            0u)
      << registry.status();
}

}  // namespace
}  // namespace aurigraph::refserver
