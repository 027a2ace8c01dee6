#!/usr/bin/env bash
# TLS and mutual TLS against the reference server, with certificates made here
# by openssl: a run with the right CA and server name works; a wrong CA fails
# with a clear line; a server that requires client certificates refuses a
# client without one and serves one with one; gzip requests are served.
set -uo pipefail
LOADGEN=$1
REFSERVER=$2
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
make_cert server ca "DNS:aurigraph.test"
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

[[ $failed -eq 0 ]]
