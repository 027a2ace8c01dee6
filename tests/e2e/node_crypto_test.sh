#!/usr/bin/env bash
# CryptoService against peers that are not ours: a Node @grpc/grpc-js client
# whose signatures are verified by Node's own crypto against the public keys the
# server hands out (crypto_client.js), then the bundled crypto-keys scenario,
# shortened, through the loadgen without a failed call and every signature it made
# counted by the server's metrics, which carry no key ids.
#   node_crypto_test.sh LOADGEN REFSERVER PROTO_DIR NODE_DIR SCENARIO_DIR
set -u
LOADGEN=$1
REFSERVER=$2
PROTO_DIR=$3
NODE_DIR=$4
SCENARIO_DIR=$5
source "$(dirname "$0")/common.sh"

need_node_modules "$NODE_DIR"
start_server ADDR server --metrics-listen 127.0.0.1:0 --crypto-max-keys 2000
[[ -n $ADDR ]] || { echo "FAIL the reference server did not start"; exit 1; }
METRICS=$(awk '/^metrics on /{print $3}' "$WORK/server.out")

run_node_checks crypto_client.js "$ADDR"

run_scenario_without_errors crypto-keys.yaml "$ADDR" --set duration=4s --set warmup=1s --set load.rate=400
curl -s "$METRICS" >"$WORK/metrics.txt"
PYTHONPATH="$(dirname "$0")" python3 - "$WORK/run/result.json" "$WORK/metrics.txt" <<'PY'
import re, sys
from service_checks import metric, operations, verdict
ops = operations(sys.argv[1])
metrics = open(sys.argv[2]).read()
problems = [f"{name}: nothing succeeded" for name in
            ("sign_ed25519", "sign_p256", "verify_ed25519", "derive", "rotate") if ops[name]["ok"] == 0]
signed = metric(metrics, r"aurigraph_refserver_crypto_signatures_total")
# The Node client signed 5 times; the warm-up's signatures are not in the measured counts.
measured = ops["sign_ed25519"]["ok"] + ops["sign_p256"]["ok"] + 5
if signed is None or signed < measured:
    problems.append(f"signatures counted {signed}, at least {measured} made")
invalid = metric(metrics, r'aurigraph_refserver_crypto_verifications_total\{result="invalid"\}')
if invalid is None or invalid < ops["verify_ed25519"]["ok"]:
    problems.append(f"invalid verifications counted {invalid}, {ops['verify_ed25519']['ok']} made")
if re.search(r"^aurigraph_refserver_crypto\w*\{[^}]*key", metrics, re.M):
    problems.append("a crypto metric has a key label")
verdict(problems, f"crypto-keys: {sum(op['ok'] for op in ops.values())} calls measured, "
        f"{int(signed)} signatures counted by the server")
PY
