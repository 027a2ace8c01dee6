#!/usr/bin/env bash
# The Kubernetes manifests without a cluster: rendered by kubectl kustomize
# (base and the 20-worker overlay), every object validated against the
# Kubernetes schemas (kubernetes-models) and checked for consistency
# (tests/e2e/kubernetes/check.mjs); an overlay that changes the worker count
# in one place only is refused; then a job simulation: the coordinator and the
# Indexed Job's workers started as processes with exactly the arguments the
# rendered pods have (JOB_COMPLETION_INDEX=k, paths and the Service's address
# mapped to this machine), against a reference server. Last, the image's
# runtime packages cover every library the programs load.
set -u
LOADGEN=$1
REFSERVER=$2
SOURCE=$3
source "$(dirname "$0")/common.sh"
passed=0
failed=0
ok() { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
CHECK="node $SOURCE/tests/e2e/kubernetes/check.mjs"
DEPLOY=$SOURCE/deploy/kubernetes

# render DIR OUT: what check.mjs reads: kubectl kustomize's rendering of DIR
# written to OUT, or where kubectl is not installed DIR itself (check.mjs renders it).
render() {
  if command -v kubectl >/dev/null; then
    kubectl kustomize "$1" >"$2" 2>"$WORK/kustomize.err" && echo "$2"
  else
    echo "$1"
  fi
}
command -v kubectl >/dev/null && echo "rendering with $(kubectl version --client 2>/dev/null | grep -i kustomize)" ||
  echo "no kubectl: rendering with check.mjs"
for dir in base overlays/20-workers; do
  name=${dir//\//-}
  if rendered=$(render "$DEPLOY/$dir" "$WORK/$name.yaml") &&
    $CHECK "$rendered" >"$WORK/$name.json" 2>"$WORK/check.err"; then
    ok "$dir renders, validates against the Kubernetes schemas and is consistent"
  else
    fail "$dir: $(cat "$WORK/kustomize.err" "$WORK/check.err")"
  fi
  # Where kubectl is there, check.mjs's own rendering (used where it is not) agrees with it.
  if command -v kubectl >/dev/null; then
    $CHECK "$DEPLOY/$dir" >"$WORK/$name.own.json" 2>&1 && cmp -s "$WORK/$name.json" "$WORK/$name.own.json" &&
      ok "$dir: check.mjs renders it as kubectl kustomize does" || fail "$dir: check.mjs renders it otherwise"
  fi
done
python3 -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["workers"] != 20)' "$WORK/overlays-20-workers.json" &&
  ok "the 20-worker overlay waits for 20 workers and runs 20 at once" || fail "20-worker overlay"

# An overlay that changes the worker count in one place only, or lets a worker
# retry (kustomize takes relative paths only: the overlays sit beside a copy).
cp -r "$DEPLOY" "$WORK/deploy"
mkdir -p "$WORK/deploy/overlays/broken" "$WORK/deploy/overlays/retrying"
cat >"$WORK/deploy/overlays/broken/kustomization.yaml" <<YAML
resources: [../20-workers]
patches:
  - target: {kind: Job, name: loadbench-workers}
    patch: |-
      - {op: replace, path: /spec/parallelism, value: 19}
YAML
cat >"$WORK/deploy/overlays/retrying/kustomization.yaml" <<YAML
resources: [../../base]
patches:
  - target: {kind: Job, name: loadbench-workers}
    patch: |-
      - {op: replace, path: /spec/backoffLimitPerIndex, value: 2}
      - {op: replace, path: /spec/completions, value: "4"}
YAML
$CHECK "$(render "$WORK/deploy/overlays/broken" "$WORK/broken.yaml")" >/dev/null 2>"$WORK/broken.err"
[[ $? == 1 ]] && grep -q "parallelism (19) is not the 20 workers" "$WORK/broken.err" &&
  ok "a worker count changed in one place only is refused" || fail "broken overlay: $(cat "$WORK/broken.err")"
$CHECK "$(render "$WORK/deploy/overlays/retrying" "$WORK/retrying.yaml")" >/dev/null 2>"$WORK/retrying.err"
grep -q "completions must be integer" "$WORK/retrying.err" && grep -q "a worker may be retried" "$WORK/retrying.err" &&
  ok "a schema violation and a retried worker are named" || fail "retrying overlay: $(cat "$WORK/retrying.err")"

# The manifests' own scenario parses (the coordinator gets as far as its barrier).
"$LOADGEN" coordinate "$DEPLOY/base/scenario.yaml" --workers 1 --listen 127.0.0.1:0 \
  --barrier-timeout 1s --out "$WORK/parse" >/dev/null 2>&1
[[ $? == 5 ]] && ok "the manifests' scenario parses" || fail "the manifests' scenario does not parse"

# Job simulation: the base's pods as processes.
start_server TARGET server
[[ -n $TARGET ]] || { echo "FAIL reference server did not start"; exit 1; }
mkdir -p "$WORK/scenario" "$WORK/results"
cat >"$WORK/scenario/scenario.yaml" <<YAML
name: simulated
target: $TARGET
duration: 2s
# Four processes and a coordinator wake at once on 2 cores: the first sends are late.
warmup: 500ms
workers: 1
load: {model: open, rate: 400}
operations:
  - name: health
    rpc: aurigraph.approval.v1.ApprovalService/CheckHealth
gates: ["p99 < 1s"]
YAML
python3 - "$WORK/base.json" "$WORK" >"$WORK/commands" <<'PY'
import json, shlex, sys
pods, work = json.load(open(sys.argv[1])), sys.argv[2]
def local(args):
    out = []
    for a in args:
        a = a.replace("/scenario/", f"{work}/scenario/").replace("/results/", f"{work}/results/")
        a = a.replace("/work/", f"{work}/pod/").replace("0.0.0.0:7070", "127.0.0.1:0")
        out.append(a)
    return out
print(pods["workers"])
print(shlex.join(local(pods["coordinator"])))
print(shlex.join(local(pods["worker"])))
PY
{
  read -r N
  read -r COORDINATOR_ARGS
  read -r WORKER_ARGS
} <"$WORK/commands"
eval "coordinator_args=($COORDINATOR_ARGS)"
eval "worker_args=($WORKER_ARGS)"
# simulate: one run of the job (status 0: every pod exited 0 and the merged
# result passed); its verdict depends on timing, so it runs under until_quiet.
simulate() {
  rm -rf "$WORK/results/run" "$WORK"/pod-*
  "$LOADGEN" "${coordinator_args[@]}" >"$WORK/coordinator.out" 2>&1 &
  local coordinator=$!
  PIDS+=($coordinator)
  for _ in $(seq 50); do grep -q "listening on" "$WORK/coordinator.out" && break; sleep 0.1; done
  local address worker_pids=() k args pid
  address=$(awk '/listening on/{print $4}' "$WORK/coordinator.out")
  for ((k = 0; k < N; k++)); do
    args=("${worker_args[@]/loadbench-coordinator:7070/$address}")
    args=("${args[@]/$WORK\/pod\/run/$WORK/pod-$k/run}")
    JOB_COMPLETION_INDEX=$k "$LOADGEN" "${args[@]}" >"$WORK/worker-$k.out" 2>&1 &
    worker_pids+=($!)
    PIDS+=($!)
  done
  codes=""
  for pid in "${worker_pids[@]}"; do
    wait "$pid"
    codes+="$?"
  done
  wait "$coordinator"
  code=$?
  python3 - "$WORK/results/run/result.json" "$N" <<'PY' && [[ $code == 0 && $codes == "0000" ]]
import json, sys
r, n = json.load(open(sys.argv[1])), int(sys.argv[2])
assert r["verdict"] == "pass" and r["complete"], (r["verdict"], r["generator"]["verdict"], r.get("complete"))
assert r["generator"]["sent"] == 800, r["generator"]["sent"]
assert sorted(w["index"] for w in r["workers"]) == list(range(n)), r["workers"]
assert all(w["sent"] == 200 for w in r["workers"]), r["workers"]
PY
}
until_quiet "job simulation" simulate
case $? in
  0) ok "job simulation: $N workers (exit codes $codes) and the coordinator (exit $code) ran the split run, 800 sent" ;;
  "$NOT_JUDGED") ;;
  *) fail "job simulation: coordinator exit $code, workers $codes: $(tail -3 "$WORK/coordinator.out")" ;;
esac

# The image installs every package the programs' libraries come from (or one that depends on it).
runtime=$(sed -n '/^FROM debian:bookworm-slim/,$p' "$SOURCE/deploy/container/Containerfile" |
  sed -n '/apt-get install/,/rm -rf/p' | tr ' \\' '\n\n' | grep -E '^(lib|ca-)' | sort -u)
closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
  --no-replaces --no-enhances $runtime 2>/dev/null | grep -v '^ ' | sed 's/:.*//' | sort -u)
missing=""
for lib in $(ldd "$LOADGEN" "$REFSERVER" | awk '/=>/{print $3}' | sort -u); do
  package=$(dpkg -S "$lib" 2>/dev/null || dpkg -S "/usr$lib" 2>/dev/null || dpkg -S "${lib#/usr}" 2>/dev/null)
  package=${package%%:*}
  [[ -z $package ]] || grep -qx "$package" <<<"$closure" || missing+=" $package($lib)"
done
[[ -n $runtime && -z $missing ]] && ok "the image's runtime packages provide every library the programs load" ||
  fail "the image lacks:$missing"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
