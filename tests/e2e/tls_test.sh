#!/usr/bin/env bash
# TLS and mutual TLS against the reference server, with certificates made here
# by openssl: a run with the right CA and server name works; a wrong CA fails
# with a clear line; a server that requires client certificates refuses a
# client without one and serves one with one; gzip requests are served.
# Then the loadgen's own wires (HTTP/1.1 and WebSocket) over TLS, against
# Node's https and npm's ws (tests/e2e/node/tls_peer.js).
#   tls_test.sh LOADGEN REFSERVER NODE_DIR
set -uo pipefail
LOADGEN=$1
REFSERVER=$2
NODE_DIR=$3
source "$(dirname "$0")/common.sh"
failed=0
command -v openssl >/dev/null || { echo "FAIL openssl not installed"; exit 1; }

cd "$WORK"
make_ca() {  # name
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$1" -keyout "$1.key" -out "$1.pem" 2>/dev/null
}
make_cert() {  # name, ca, subject alt name
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout "$1.key" -out "$1.csr" 2>/dev/null
  printf 'subjectAltName=%s\n' "$3" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 2 \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
}
make_ca ca
make_ca other-ca
make_cert server ca "DNS:aurigraph.test,IP:127.0.0.1"
make_cert client ca "DNS:loadgen.test"
[[ -s server.pem && -s client.pem ]] || { echo "FAIL openssl could not make certificates"; exit 1; }

run() {  # expected exit, stderr fragment, args...
  local want=$1 fragment=$2
  shift 2
  "$LOADGEN" run --call aurigraph.approval.v1.ApprovalService/CheckHealth --rate 50 --duration 1s \
    --no-progress --out "$WORK/out" --set connect_timeout=2s --set max_generator_lag=1s "$@" \
    >run.out 2>run.err
  local rc=$?
  if [[ $rc -ne $want ]] || { [[ -n $fragment ]] && ! grep -q -- "$fragment" run.err; }; then
    echo "FAIL exit $rc (want $want), stderr:"; cat run.err; failed=$((failed + 1)); return 1
  fi
  [[ $want -ne 0 ]] || grep -q "ok 50 " run.out || { echo "FAIL not all 50 calls OK"; cat run.out; failed=$((failed + 1)); return 1; }
}

start_server TLS tls --tls-cert server.pem --tls-key server.key
run 0 "" --target "$TLS" --ca ca.pem --server-name aurigraph.test &&
  echo "ok   TLS: verified against the CA, under the certificate's name"
run 3 "unreachable" --target "$TLS" --ca other-ca.pem --server-name aurigraph.test &&
  echo "ok   TLS with the wrong CA fails: $(head -c 220 run.err)"
run 3 "unreachable" --target "$TLS" --ca ca.pem --server-name wrong.test &&
  echo "ok   TLS under a name the certificate lacks fails"
run 2 "--ca $WORK/absent.pem: cannot read" --target "$TLS" --ca "$WORK/absent.pem" &&
  echo "ok   an unreadable CA file is named"
run 0 "" --target "$TLS" --ca ca.pem --server-name aurigraph.test --gzip &&
  echo "ok   gzip-compressed requests over TLS"

start_server MTLS mtls --tls-cert server.pem --tls-key server.key --tls-client-ca ca.pem
run 3 "unreachable" --target "$MTLS" --ca ca.pem --server-name aurigraph.test &&
  echo "ok   mutual TLS: a client without a certificate is refused"
run 0 "" --target "$MTLS" --ca ca.pem --server-name aurigraph.test --cert client.pem --key client.key &&
  echo "ok   mutual TLS: a client with a certificate from the CA is served"
run 2 "mutual TLS needs both a client certificate and its key" --target "$MTLS" --ca ca.pem \
  --cert client.pem && echo "ok   a certificate without its key is named"

# The loadgen's own wires over TLS. The peer counts its raw sockets' bytes
# (records, handshakes and all) for the connections that carried a request or
# an upgrade: the loadgen's wire bytes must be the same.
command -v node >/dev/null || { echo "FAIL node not installed (scripts/setup installs it)"; exit 1; }
start_peer() {  # NAME, tls_peer.js arguments...: sets $NAME and ${NAME}_STATS to its addresses
  local name=$1
  shift
  node "$NODE_DIR/tls_peer.js" "$@" >"$name.out" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do grep -q "^stats on " "$name.out" && break; sleep 0.1; done
  printf -v "$name" '%s' "$(awk '/^listening on /{print $3}' "$name.out")"
  printf -v "${name}_STATS" '%s' "$(awk '/^stats on /{print $3}' "$name.out")"
  [[ -n ${!name} ]] || { echo "FAIL the Node TLS peer did not start:"; cat "$name.out"; exit 1; }
}
wires() {  # target, channel (a YAML mapping): HTTP requests and WebSocket streams
  cat >wires.yaml <<EOF
name: tls-wires
target: $1
duration: 2s
connections: 2
workers: 2
load: {model: open, rate: 100}
max_generator_lag: 60s  # counts and bytes are checked here, not timing
channel: $2
operations:
  - name: submit
    http: {path: /v1/submit}
    request: {id: "tx-\${seq}"}
  - name: submit_close  # answered with "connection: close": a connection (and handshake) each
    http: {path: "/v1/submit?close"}
    request: {id: "c-\${seq}"}
  - name: bidi
    websocket: {path: /bidi}
    request: {id: "m-\${seq}"}
    stream: {streams: 2, send_rate: 50, match: {request: id, response: id}, status_field: code}
EOF
}
peer_stats() {  # stats address, output file: the peer's counts once every connection has closed
  for _ in $(seq 200); do
    curl -sf "http://$1/" >"$2" && python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["open"] != 0)' "$2" &&
      return 0
    sleep 0.05
  done
  echo "FAIL the peer still had connections open 10 s after the run:"
  cat "$2"
  failed=$((failed + 1))
  return 1
}
run_wires() {  # expected exit, stderr fragment
  "$LOADGEN" run wires.yaml --out "$WORK/wires" --no-progress >wires.out 2>wires.err
  local rc=$?
  if [[ $rc -ne $1 ]] || { [[ -n $2 ]] && ! grep -q -- "$2" wires.err; }; then
    echo "FAIL exit $rc (want $1, stderr with '$2'):"
    cat wires.err wires.out
    failed=$((failed + 1))
    return 1
  fi
}

start_peer PEER server.pem server.key
wires "$PEER" "{ca: ca.pem, server_name: aurigraph.test}"
if run_wires 0 "" && peer_stats "$PEER_STATS" peer-stats.json; then
  python3 - "$WORK/wires/result.json" peer-stats.json <<'PY' || failed=$((failed + 1))
import json, sys
r = json.load(open(sys.argv[1])); peer = json.load(open(sys.argv[2]))
ops = {o["name"]: o for o in r["operations"]}
submit, closing, bidi = ops["submit"], ops["submit_close"], ops["bidi"]
stream = bidi["stream"]
problems = []
def check(what, ok, shown):
    print(("ok   " if ok else "FAIL ") + f"{what}: {shown}")
    if not ok: problems.append(what)
check("HTTPS: every request answered 201, as many as the peer answered",
      all(o["status_codes"] == {"OK": o["requests"]} and o["wire"]["by_status"] == {"201": o["requests"]} for o in (submit, closing))
      and submit["requests"] + closing["requests"] == peer["requests"],
      f"{submit['status_codes']} and {closing['status_codes']}, peer {peer['requests']}")
check("WebSocket over TLS: both streams closed OK, every message answered and matched",
      bidi["status_codes"] == {"OK": 2} and stream["messages_sent"] == peer["messages"] == stream["messages_received"]
      and stream["unmatched_replies"] == 0 and peer["upgrades"] == 2,
      f"{bidi['status_codes']}, sent {stream['messages_sent']}, peer {peer['messages']}, received {stream['messages_received']}")
check("every connection negotiated ALPN http/1.1 and sent the server name",
      peer["alpn"] == {"http/1.1": peer["connections"]} and peer["servernames"] == {"aurigraph.test": peer["connections"]},
      f"{peer['connections']} connections, {peer['versions']}, {peer['alpn']}, {peer['servernames']}")
# Each connection offers the last session the server issued (the first ones
# the probe's), so all but the first few resume, however many were closed.
check("connections resume the session the server issued before",
      peer["resumed"] >= peer["connections"] - 4 and peer["connections"] > closing["requests"],
      f"{peer['resumed']} of {peer['connections']} resumed")
sent = sum(o["wire"]["request_bytes"] for o in (submit, closing, bidi))
check("bytes written: the loadgen's wire count is the peer's raw sockets' count", sent == peer["read"],
      f"{sent} and {peer['read']}")
read = sum(o["wire"]["response_bytes"] for o in (submit, closing, bidi))
# The peer may write a close_notify (24 bytes) after the loadgen's last read.
check("bytes read: the peer's raw count, less at most a close_notify per connection",
      0 <= peer["written"] - read <= 64 * peer["connections"], f"{read} and {peer['written']}")
sys.exit(1 if problems else 0)
PY
fi
wires "$PEER" "{ca: ca.pem}"
run_wires 0 "" && echo "ok   a certificate for 127.0.0.1 verifies against the target's address"
wires "$PEER" "{ca: other-ca.pem, server_name: aurigraph.test}"
run_wires 3 "TLS handshake failed: certificate verify failed (unable to get local issuer certificate)" &&
  echo "ok   HTTP over TLS with the wrong CA: $(head -c 200 wires.err)"
wires "localhost:${PEER##*:}" "{ca: ca.pem}"
run_wires 3 "certificate verify failed (hostname mismatch)" &&
  echo "ok   a certificate without the target's name: $(head -c 200 wires.err)"
wires "$PEER" "{ca: ca.pem, server_name: aurigraph.test, cert: client.pem, key: server.key}"
run_wires 2 "--key server.key: not the key of --cert client.pem" &&
  echo "ok   a key that is not the certificate's is named"

start_peer MPEER server.pem server.key ca.pem
wires "$MPEER" "{ca: ca.pem, server_name: aurigraph.test}"
run_wires 3 "TLS handshake failed: tlsv13 alert certificate required" &&
  echo "ok   mutual TLS over HTTP: a client without a certificate is refused: $(head -c 200 wires.err)"
wires "$MPEER" "{ca: ca.pem, server_name: aurigraph.test, cert: client.pem, key: client.key}"
if run_wires 0 "" && peer_stats "$MPEER_STATS" mpeer-stats.json; then
  subjects=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["client_subjects"])' mpeer-stats.json)
  if [[ $subjects == "{'client': "* ]]; then
    echo "ok   mutual TLS over HTTP and WebSocket: every connection showed the client's certificate $subjects"
  else
    echo "FAIL the peer saw client certificates $subjects"
    failed=$((failed + 1))
  fi
fi

[[ $failed -eq 0 ]]
