// Request templates: a JSON object for a protobuf message whose string values
// may contain variables, e.g. {"id": "tx-${seq}", "amount": "${rand_int:1:1000}"}.
// Variables go in singular fields, nested and repeated messages, oneof members,
// the elements of repeated fields, and map keys and values.
//
// Every request is the canonical encoding of its message: the bytes protobuf's
// own deterministic serializer writes for it (each field once, in field-number
// order, nested messages whole, map entries by key), so servers whose parsers
// keep only the last copy of a field (protobufjs) see every field. The constant
// fields are serialized once, at compile time; per request the variable values
// are rendered between them into a reused buffer, with no reflection.
//
// A templated number must fit its field: a range known when the template is
// compiled (${rand_int} bounds, ${pick} choices, a data file's values, ${now_*}
// in 32 bits) is checked then; a counter (${seq}, ${item}...) that outgrows its
// field, or two map keys that render the same, fail that request's build.
//
// Variables: ${seq} (globally unique sequence number), ${worker}, ${uuid},
// ${rand_int:LO:HI}, ${rand_string:N}, ${pick:a|b|c}, ${now_ns}, ${now_ms},
// ${sha256:f1,f2,...} (lower-case hex SHA-256 of sibling fields' values joined with "\n"),
// ${run} (an id shared by every request of one run), ${data.FIELD} (a field of
// the request's record in the operation's data file), and for streams ${stream}
// (the stream's number) and ${msg} (the message's index within its stream).
//
// Metadata (gRPC request headers) are templates too, e.g. "authorization:
// Bearer ${data.token}"; a stream's metadata is rendered once, when it opens,
// with ${seq} the stream's number.
//
// A template may be a JSON array of messages: each is compiled as its own
// template, and a request renders one of them, chosen from its position alone
// (no per-request state): by its sequence number, round-robin, for unary calls
// and server streams; by its index in its stream, in order and then again, for
// the messages of client and bidi streams.
//
// A repeated message field may be generated: {"$repeat": N, "$item": {...}}
// renders the item N times, with ${item} its index (0..N-1), e.g. a batch of
// 10,000 distinct transactions.
// Random values come from the scenario's seed, so a run's mix is reproducible;
// ${uuid} does not, so ids stay unique when a scenario is re-run against the
// same server.
//
// request_template.cc is longer than the project's ~600 lines: the compiler
// and the per-request renderer share the compiled tree's types (pieces,
// leaves, nodes, map key orders), kept private to that file so that nothing
// else can depend on the encoding's internals. Splitting it means moving them
// to an internal header first.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "loadgen/interfaces/request_source.h"
#include "loadgen/payload/data_file.h"

namespace google::protobuf {
class Descriptor;
}

namespace aurigraph::loadgen {

class CompiledTemplate;

inline constexpr int64_t kDefaultMaxRequestBytes = int64_t{64} << 20;

// Which message of a template's array a request renders.
enum class MessageOrder {
  kAcrossRequests,  // the request's sequence number, round-robin (unary calls, server streams)
  kWithinStream,    // the message's index in its stream, then again (client and bidi streams)
};

struct TemplateInputs {
  // Header name (in any case, sent lower-cased; "-bin" names carry binary values)
  // and value template.
  std::vector<std::pair<std::string, std::string>> metadata;
  std::shared_ptr<const DataFile> data;  // the records for ${data.FIELD}, if any
  MessageOrder order = MessageOrder::kAcrossRequests;
  // The largest request it may render: a template that can render more (its
  // $repeat counts times its values' longest renderings) is refused when
  // compiled, and a request that grows past it (a long data-file value) is
  // not built.
  int64_t max_request_bytes = kDefaultMaxRequestBytes;
  // Metadata may also name the HTTP pseudo-headers ":method" and ":path"
  // (templates too: "/v1/transactions/tx-${seq}"), for an HTTP transport.
  bool http_pseudo_headers = false;
};

// Immutable and shareable between workers.
class RequestTemplate {
 public:
  // `json` is the template text, an object or a non-empty array of them;
  // errors name the message (of an array), field, header or variable at fault.
  static absl::StatusOr<RequestTemplate> Compile(const google::protobuf::Descriptor& type,
                                                 absl::string_view json,
                                                 const TemplateInputs& inputs = {});
  // Every request is `bytes`, a serialized `type` message, as is (the
  // metadata are still templates); INVALID_ARGUMENT when it does not parse as one.
  // A JSON body instead of a protobuf message: `json` (an object or a non-empty
  // array of them; empty: no body) rendered as compact JSON text, variables
  // in strings and keys JSON-escaped (they render inside strings; protobuf's
  // JSON mapping reads integers from strings too), {"$repeat": N, "$item":
  // ...} rendered as an array of N items, and a "${sha256:f1,f2}" value as
  // the digest of sibling members' rendered values. For HTTP requests.
  static absl::StatusOr<RequestTemplate> CompileJson(absl::string_view json,
                                                     const TemplateInputs& inputs = {});
  static absl::StatusOr<RequestTemplate> FromBinary(const google::protobuf::Descriptor& type,
                                                    std::string bytes,
                                                    const TemplateInputs& inputs = {});
  ~RequestTemplate();
  RequestTemplate(RequestTemplate&&) noexcept;
  RequestTemplate& operator=(RequestTemplate&&) noexcept;

 private:
  friend class TemplateRequestSource;
  explicit RequestTemplate(std::unique_ptr<CompiledTemplate> compiled);
  std::unique_ptr<CompiledTemplate> compiled_;
};

// Per-worker renderer of one template: owns its RNG and scratch buffers.
class TemplateRequestSource final : public RequestSource {
 public:
  // `run_id` is what ${run} renders as.
  TemplateRequestSource(const RequestTemplate& request_template, uint32_t worker, uint64_t seed,
                        std::string run_id = "");
  ~TemplateRequestSource() override;
  // A null view when the request cannot be built (see above; request_source.h).
  std::string_view Build(const RequestContext& context) override;
  std::span<const Header> BuildHeaders(const RequestContext& context) override;

 private:
  struct Scratch;
  class Renderer;
  const CompiledTemplate& compiled_;
  std::unique_ptr<Scratch> scratch_;
};

}  // namespace aurigraph::loadgen
