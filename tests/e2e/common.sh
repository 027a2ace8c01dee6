# Sourced by the e2e scripts: a scratch directory ($WORK) and the processes
# they start (append their pids to PIDS), both cleaned up on exit.
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
