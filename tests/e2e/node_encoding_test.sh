#!/usr/bin/env bash
# End-to-end against a server that is not C++: a Node @grpc/grpc-js server
# (tests/e2e/node, installed by scripts/setup) records what protobufjs decoded
# from each request, and every field must be what the template says: nested
# messages with constant and templated fields, a oneof message member, maps
# with templated keys and values, repeated scalars with templates, int64
# extremes, data-file records. Then a request that cannot be built is not
# sent and is counted, and an out-of-range template is refused up front.
# Request inputs (an array of messages, --data @FILE and -, --data-bin,
# --metadata-file) reach the server as given, and the server's own reflection
# (grpc.reflection.v1) describes it, map fields included; an incomplete
# reflection answer is one line.
#   node_encoding_test.sh LOADGEN PROTO_DIR NODE_DIR
set -u
LOADGEN=$1
PROTO_DIR=$2
NODE_DIR=$3
source "$(dirname "$0")/common.sh"

need_node_modules "$NODE_DIR"
node "$NODE_DIR/recorder_server.js" "$PROTO_DIR" "$WORK/received.jsonl" >"$WORK/server.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q "^listening on " "$WORK/server.out" && break; sleep 0.1; done
ADDR=$(awk '/^listening on /{print $3}' "$WORK/server.out")
[[ -n $ADDR ]] || { echo "FAIL the Node server did not start"; cat "$WORK/server.out"; exit 1; }

# run NAME REQUESTS [loadgen options...]: a closed-loop run of REQUESTS calls,
# its result in $WORK/NAME/result.json and what the server received in $WORK/NAME.jsonl.
run() {
  local name=$1 requests=$2
  shift 2
  : >"$WORK/received.jsonl"
  timeout 60 "$LOADGEN" run --call aurigraph.test.v1.Recorder/Record \
    --proto "$PROTO_DIR/aurigraph/test/v1/everything.proto" --import-path "$PROTO_DIR" \
    --target "$ADDR" --concurrency 2 --set "requests=$requests" --duration 30s --no-progress \
    --watch-pid -1 --out "$WORK/$name" "$@" >"$WORK/$name.out" 2>&1
  local rc=$?
  cp "$WORK/received.jsonl" "$WORK/$name.jsonl"
  return $rc
}

started_ns=$(date +%s%N)
run template 20 --data '{
  "id": "d-${seq}",
  "where": {"lat_e7": "${seq}", "lng_e7": 5},
  "meta": {"offset": "${seq}", "kind": "KIND_MANUAL", "source": "z",
           "tags": ["t-${seq}", "fixed"], "counters": {"n": "${seq}", "k": 7}},
  "choice_point": {"lat_e7": 3, "lng_e7": "${seq}"},
  "labels": {"req": "${uuid}", "k-${seq}": "v", "const": "c"},
  "counters": {"c-${seq}": "${rand_int:-9223372036854775808:-9223372036854775808}",
               "max": "${pick:9223372036854775807}"},
  "by_u64": {"${pick:18446744073709551615}": "top", "${seq}": "s-${seq}"},
  "by_i32": {"${rand_int:-2147483648:-2147483648}": {"lat_e7": "${seq}", "lng_e7": 1}, "4": {}},
  "r_i32": ["${seq}", -1, "${rand_int:-2147483648:-2147483648}"],
  "r_str": ["a-${seq}", "b"],
  "r_s64": ["${pick:-9223372036854775808}", 1],
  "r_unpacked": ["${seq}", "9223372036854775807"],
  "i64": "${pick:-9223372036854775808}",
  "u64": "${pick:18446744073709551615}",
  "sf64": "${rand_int:9223372036854775807:9223372036854775807}",
  "s32": "${rand_int:-2147483648:-2147483648}",
  "f32": "${pick:4294967295}",
  "flag": "${pick:true}",
  "kind": "${pick:KIND_NEGATIVE}",
  "blob": "raw-${seq}",
  "dbl": "${pick:1.5}",
  "flt": "${seq}",
  "stamp": {"unix_nanos": "${now_ns}", "zone": "UTC", "parts": ["${seq}", 2]},
  "metas": {"$repeat": 3, "$item": {"offset": "${item}", "source": "m-${item}", "kind": "KIND_AUTO"}},
  "maybe": "${rand_int:0:0}",
  "far": "${seq}"
}' || { echo "FAIL template run"; cat "$WORK/template.out"; exit 1; }
finished_ns=$(date +%s%N)

cat >"$WORK/users.jsonl" <<'JSONL'
{"name": "alice", "big": "-9223372036854775808", "ubig": "18446744073709551615", "kind": "KIND_AUTO", "token": "t-a", "lat": -7}
{"name": "bob", "big": 9223372036854775807, "ubig": 0, "kind": "KIND_UNSPECIFIED", "token": "", "lat": 0}
{"name": "carol", "big": "1", "ubig": "4294967296", "kind": "-1", "token": "t-c", "lat": 2147483647}
JSONL
run data 9 --data-file "$WORK/users.jsonl" --data '{
  "id": "${data.name}", "i64": "${data.big}", "u64": "${data.ubig}", "kind": "${data.kind}",
  "labels": {"${data.name}": "${data.token}"},
  "where": {"lat_e7": "${data.lat}", "lng_e7": 9}
}' || { echo "FAIL data-file run"; cat "$WORK/data.out"; exit 1; }

# The request with ${seq} = 1 has two keys "k-1": it cannot be built and is not sent.
run collision 6 --data '{"id": "c-${seq}", "labels": {"k-${seq}": "a", "k-1": "b"}}' ||
  { echo "FAIL collision run"; cat "$WORK/collision.out"; exit 1; }

run refused 1 --data '{"i32": "${rand_int:3000000000:3000000001}"}'
echo "$?" >"$WORK/refused.rc"

# Request inputs: an array of messages taken in turn, the request from a file
# and from stdin, a serialized request, headers from a file beside -H.
run array 9 --data '[{"id": "a-${seq}", "i32": 1}, {"id": "b-${seq}"}, {"id": "c-${seq}", "flag": true}]' ||
  { echo "FAIL array run"; cat "$WORK/array.out"; exit 1; }
printf '%s' '{"id": "file-${seq}", "labels": {"k": "${seq}"}}' >"$WORK/request.json"
run at_file 3 --data "@$WORK/request.json" || { echo "FAIL --data @FILE run"; cat "$WORK/at_file.out"; exit 1; }
printf '%s' '[{"id": "stdin-${seq}"}, {"id": "other-${seq}"}]' |
  run stdin 4 --data - || { echo "FAIL --data - run"; cat "$WORK/stdin.out"; exit 1; }
# Everything{id: "bin", i64: 5}, as protoc --encode writes it.
printf '\x0a\x03bin\x18\x05' >"$WORK/request.bin"
printf '%s' '{"x-tenant": "acme", "X-Request": "r-${seq}"}' >"$WORK/headers.json"
run bin 3 --data-bin "$WORK/request.bin" --metadata-file "$WORK/headers.json" -H 'x-user: u-${seq}' ||
  { echo "FAIL --data-bin run"; cat "$WORK/bin.out"; exit 1; }
run bin_foreign 1 --data-bin "$WORK/headers.json"
echo "$?" >"$WORK/bin_foreign.rc"

# The nghttp2 client (channel.client: nghttp2) against this server, which is
# not gRPC's C++: the same calls, metadata and a binary header among it, arrive
# as they did from gRPC's library.
TWIN='{"id": "t-${seq}", "labels": {"k": "${seq}"}, "i64": "${pick:-9223372036854775808}", "blob": "b-${seq}"}'
for client in grpc nghttp2; do
  run "twin_$client" 12 --set "channel.client=$client" --data "$TWIN" -H 'x-user: u-${seq}' \
    -H 'x-blob-bin: raw-${seq}' || { echo "FAIL $client twin run"; cat "$WORK/twin_$client.out"; exit 1; }
done

# A client stream sends an array's messages in order, then again, on each stream.
: >"$WORK/received.jsonl"
timeout 60 "$LOADGEN" run --call aurigraph.test.v1.Recorder/RecordStream \
  --proto "$PROTO_DIR/aurigraph/test/v1/everything.proto" --import-path "$PROTO_DIR" \
  --target "$ADDR" --streams 2 --rate 60 --duration 1s --no-progress --watch-pid -1 \
  --out "$WORK/stream" -H 'x-stream: ${stream}' \
  --data '[{"id": "s0-${msg}"}, {"id": "s1-${msg}"}, {"id": "s2-${msg}"}]' >"$WORK/stream.out" 2>&1 ||
  { echo "FAIL client stream run"; cat "$WORK/stream.out"; exit 1; }
cp "$WORK/received.jsonl" "$WORK/stream.jsonl"

# Server reflection instead of a .proto: the Node server answers grpc.reflection.v1
# (map entries named protobufjs's way), and a map field is templated over it.
: >"$WORK/received.jsonl"
timeout 60 "$LOADGEN" run --call aurigraph.test.v1.Recorder/Record --target "$ADDR" \
  --concurrency 2 --requests 5 --no-progress --watch-pid -1 --out "$WORK/reflected" \
  --data '{"id": "r-${seq}", "labels": {"k-${seq}": "v", "c": "${seq}"}, "meta": {"counters": {"n": "${seq}"}},
           "by_i32": {"${seq}": {"lat_e7": 2}}, "stamp": {"zone": "z-${seq}"}}' >"$WORK/reflected.out" 2>&1 ||
  { echo "FAIL reflection run"; cat "$WORK/reflected.out"; exit 1; }
cp "$WORK/received.jsonl" "$WORK/reflected.jsonl"

# A reflection answer that lacks an imported file: one line naming it, exit 2.
node "$NODE_DIR/recorder_server.js" "$PROTO_DIR" "$WORK/incomplete.jsonl" missing-import \
  >"$WORK/incomplete-server.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q "^listening on " "$WORK/incomplete-server.out" && break; sleep 0.1; done
INCOMPLETE=$(awk '/^listening on /{print $3}' "$WORK/incomplete-server.out")
[[ -n $INCOMPLETE ]] || { echo "FAIL the second Node server did not start"; cat "$WORK/incomplete-server.out"; exit 1; }
timeout 60 "$LOADGEN" run --call aurigraph.test.v1.Recorder/Record --target "$INCOMPLETE" \
  --requests 1 --no-progress --watch-pid -1 --out "$WORK/incomplete" >"$WORK/incomplete.out" 2>&1
echo "$?" >"$WORK/incomplete.rc"

python3 - "$WORK" "$started_ns" "$finished_ns" <<'PY'
import base64, json, sys

work, started, finished = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
passed = failed = 0

def check(name, got, want):
    global passed, failed
    if got == want:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name}: got {got!r}, want {want!r}")

def received(name):
    with open(f"{work}/{name}.jsonl") as f:
        return [json.loads(line) for line in f if line.strip()]

def result(name):
    with open(f"{work}/{name}/result.json") as f:
        return json.load(f)

def long_key(key):
    """protobufjs keys a map with 64-bit keys by the key's 8 little-endian bytes."""
    return int.from_bytes(key.encode("latin-1"), "little")

# protobufjs leaves defaults out (defaults: false): an absent field reads as its default.
requests = received("template")
check("template: requests received", len(requests), 20)
check("template: distinct ids", len({r["id"] for r in requests}), 20)
for r in requests:
    seq = int(r["id"][2:])
    at = f"template d-{seq}"
    where = r.get("where", {})
    check(f"{at} where", (where.get("lat_e7", 0), where.get("lng_e7", 0)), (seq, 5))
    meta = r.get("meta", {})
    check(f"{at} meta", (meta.get("offset", "0"), meta.get("kind"), meta.get("source"),
                        meta.get("tags"), meta.get("counters")),
          (str(seq), "KIND_MANUAL", "z", [f"t-{seq}", "fixed"], {"n": str(seq), "k": "7"}))
    check(f"{at} oneof", r.get("choice"), "choice_point")
    point = r.get("choice_point", {})
    check(f"{at} choice_point", (point.get("lat_e7", 0), point.get("lng_e7", 0)), (3, seq))
    labels = r.get("labels", {})
    check(f"{at} labels keys", sorted(labels), sorted(["req", f"k-{seq}", "const"]))
    check(f"{at} labels values", (len(labels.get("req", "")), labels.get(f"k-{seq}"),
                                  labels.get("const")), (36, "v", "c"))
    check(f"{at} counters", r.get("counters"),
          {f"c-{seq}": "-9223372036854775808", "max": "9223372036854775807"})
    check(f"{at} by_u64", {long_key(k): v for k, v in r.get("by_u64", {}).items()},
          {18446744073709551615: "top", seq: f"s-{seq}"})
    by_i32 = r.get("by_i32", {})
    check(f"{at} by_i32 keys", sorted(by_i32), sorted(["-2147483648", "4"]))
    inner = by_i32.get("-2147483648", {})
    check(f"{at} by_i32 value", (inner.get("lat_e7", 0), inner.get("lng_e7", 0), by_i32.get("4")),
          (seq, 1, {}))
    check(f"{at} r_i32", r.get("r_i32"), [seq, -1, -2147483648])
    check(f"{at} r_str", r.get("r_str"), [f"a-{seq}", "b"])
    check(f"{at} r_s64", r.get("r_s64"), ["-9223372036854775808", "1"])
    check(f"{at} r_unpacked", r.get("r_unpacked"), [str(seq), "9223372036854775807"])
    check(f"{at} int64 extremes",
          (r.get("i64"), r.get("u64"), r.get("sf64"), r.get("s32"), r.get("f32")),
          ("-9223372036854775808", "18446744073709551615", "9223372036854775807", -2147483648,
           4294967295))
    check(f"{at} flag kind", (r.get("flag"), r.get("kind")), (True, "KIND_NEGATIVE"))
    check(f"{at} blob", base64.b64decode(r.get("blob", "")), f"raw-{seq}".encode())
    check(f"{at} floats", (r.get("dbl"), r.get("flt", 0)), (1.5, seq))
    stamp = r.get("stamp", {})
    check(f"{at} stamp", (stamp.get("zone"), stamp.get("parts")), ("UTC", [seq, 2]))
    check(f"{at} stamp time", started <= int(stamp.get("unix_nanos", 0)) <= finished, True)
    check(f"{at} metas", [(m.get("offset", "0"), m.get("source"), m.get("kind"))
                          for m in r.get("metas", [])],
          [(str(i), f"m-{i}", "KIND_AUTO") for i in range(3)])
    check(f"{at} optional zero is present", (r.get("_maybe"), r.get("maybe")), ("maybe", 0))
    check(f"{at} far", r.get("far", "0"), str(seq))

users = {
    "alice": ("-9223372036854775808", "18446744073709551615", "KIND_AUTO", "t-a", -7),
    "bob": ("9223372036854775807", "0", "KIND_UNSPECIFIED", "", 0),
    "carol": ("1", "4294967296", "KIND_NEGATIVE", "t-c", 2147483647),
}
requests = received("data")
check("data: requests received", len(requests), 9)
check("data: every record used", sorted({r["id"] for r in requests}), sorted(users))
for r in requests:
    big, ubig, kind, token, lat = users[r["id"]]
    at = f"data {r['id']}"
    check(f"{at} numbers", (r.get("i64", "0"), r.get("u64", "0"), r.get("kind", "KIND_UNSPECIFIED")),
          (big, ubig, kind))
    check(f"{at} labels", r.get("labels"), {r["id"]: token})
    check(f"{at} where", (r.get("where", {}).get("lat_e7", 0), r["where"].get("lng_e7")), (lat, 9))

requests = received("collision")
check("collision: the request with two keys alike is not sent",
      sorted(int(r["id"][2:]) for r in requests), [0, 2, 3, 4, 5])
for r in requests:
    check(f"collision {r['id']} labels", r.get("labels"), {r["id"].replace("c-", "k-"): "a", "k-1": "b"})
outcome = result("collision")
check("collision: counted as a build error", outcome["generator"]["request_build_errors"], 1)
check("collision: recorded as INVALID_ARGUMENT", outcome["total"]["status_codes"],
      {"OK": 5, "INVALID_ARGUMENT": 1})

with open(f"{work}/refused.out") as f:
    refused = [line for line in f.read().splitlines() if line.strip()]
check("refused: one line naming the field and range",
      any("${rand_int:3000000000:3000000001} is out of range for i32 (int32)" in line
          for line in refused) and len(refused) == 1, True)
with open(f"{work}/refused.rc") as f:
    check("refused: exit code", f.read().strip() != "0", True)
check("refused: nothing sent", received("refused"), [])

requests = received("array")
check("array: requests received", len(requests), 9)
for r in requests:
    letter, seq = r["id"].split("-")
    check(f"array {r['id']} is message seq % 3", "abc"[int(seq) % 3], letter)
    check(f"array {r['id']} fields", (r.get("i32"), r.get("flag")),
          {"a": (1, None), "b": (None, None), "c": (None, True)}[letter])

check("--data @FILE", sorted((r["id"], r.get("labels")) for r in received("at_file")),
      [(f"file-{i}", {"k": str(i)}) for i in range(3)])
check("--data -", sorted(r["id"] for r in received("stdin")),
      ["other-1", "other-3", "stdin-0", "stdin-2"])
requests = received("bin")
check("--data-bin: sent as is", [(r.get("id"), r.get("i64")) for r in requests], [("bin", "5")] * 3)
check("--metadata-file with -H", sorted(tuple(sorted(r.get("headers", {}).items())) for r in requests),
      [(("x-request", f"r-{i}"), ("x-tenant", "acme"), ("x-user", f"u-{i}")) for i in range(3)])
with open(f"{work}/bin_foreign.out") as f:
    lines = [line for line in f.read().splitlines() if line.strip()]
check("--data-bin of another type: one line naming the file and type",
      len(lines) == 1 and f"binary request {work}/headers.json: not a serialized "
      "aurigraph.test.v1.Everything message" in lines[0], True)
with open(f"{work}/bin_foreign.rc") as f:
    check("--data-bin of another type: exit code", f.read().strip(), "2")

library, nghttp2 = (sorted(received(f"twin_{c}"), key=lambda r: r["id"]) for c in ("grpc", "nghttp2"))
check("nghttp2: requests received", len(nghttp2), 12)
check("nghttp2: every call answered OK", result("twin_nghttp2")["total"]["status_codes"], {"OK": 12})
check("nghttp2: what arrived is what gRPC's library sent", nghttp2, library)
check("nghttp2: the binary header decoded",
      sorted(bytes(r["headers"]["x-blob-bin"]["data"]) for r in nghttp2),
      sorted(f"raw-{i}".encode() for i in range(12)))

streams = {}
for r in received("stream"):
    streams.setdefault(r["stream"], []).append(r["id"])
check("client stream: both streams sent", len(streams), 2)
for number, ids in streams.items():
    check(f"client stream {number}: messages in order, then again", ids,
          [f"s{i % 3}-{i}" for i in range(len(ids))])
    check(f"client stream {number}: more than one round", len(ids) > 3, True)

check("reflection: the protocol used", result("reflected").get("reflection"), "grpc.reflection.v1")
requests = received("reflected")
check("reflection: requests received", len(requests), 5)
for r in requests:
    seq = int(r["id"][2:])
    check(f"reflection {r['id']} maps", (r.get("labels"), r.get("meta", {}).get("counters"),
                                         r.get("by_i32")),
          ({f"k-{seq}": "v", "c": str(seq)}, {"n": str(seq)}, {str(seq): {"lat_e7": 2}}))
    check(f"reflection {r['id']} imported message", r.get("stamp"), {"zone": f"z-{seq}"})

with open(f"{work}/incomplete.out") as f:
    lines = [line for line in f.read().splitlines() if line.strip()]
check("incomplete reflection: one line naming the missing file, suggesting --proto",
      len(lines) == 1 and "imports aurigraph/test/v1/stamp.proto" in lines[0]
      and "--proto" in lines[0], True)
with open(f"{work}/incomplete.rc") as f:
    check("incomplete reflection: exit code", f.read().strip(), "2")

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
