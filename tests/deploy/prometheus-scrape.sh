#!/usr/bin/env bash
# Runs inside tests/e2e/run-with-system.sh (a real system on loopback ports): lints each
# service's real /metrics with `promtool check metrics`, then starts a real Prometheus server
# scraping all three every second, triggers a sync through the gateway, and checks that
# Prometheus sees every target up and the run just made.
#   tests/e2e/run-with-system.sh tests/deploy/prometheus-scrape.sh
set -euo pipefail
: "${AUTOSYNC_E2E_SCHEDULER_METRICS:?run me through tests/e2e/run-with-system.sh}"
TMP=$(mktemp -d /tmp/autosync-prom.XXXXXX)
PROM_PID=""
cleanup() {
  if [[ -n $PROM_PID ]]; then kill "$PROM_PID" 2>/dev/null || true; wait "$PROM_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "prometheus-scrape: $*" >&2; exit 1; }

declare -A TARGETS=(
  [scheduler-service]=$AUTOSYNC_E2E_SCHEDULER_METRICS
  [sync-worker]=$AUTOSYNC_E2E_WORKER_METRICS
  [ws-gateway]=$AUTOSYNC_E2E_GATEWAY_METRICS
)
# The lint must bite: a counter without the _total suffix is a finding.
if printf '# HELP bad_requests Requests.\n# TYPE bad_requests counter\nbad_requests 1\n' |
    promtool check metrics >/dev/null 2>&1; then
  fail "promtool check metrics accepted a counter without _total; the lint would not catch ours"
fi
for job in "${!TARGETS[@]}"; do
  curl -fsS "http://${TARGETS[$job]}/metrics" >"$TMP/$job.txt"
  if ! promtool check metrics <"$TMP/$job.txt" >"$TMP/$job.lint" 2>&1; then
    cat "$TMP/$job.lint" >&2
    fail "promtool check metrics found problems in $job's /metrics"
  fi
  echo "ok   promtool check metrics: $job"
done

PROM_PORT=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
{
  echo "global: {scrape_interval: 1s, evaluation_interval: 1s}"
  echo "scrape_configs:"
  for job in "${!TARGETS[@]}"; do
    echo "  - job_name: $job"
    echo "    static_configs: [{targets: ['${TARGETS[$job]}']}]"
  done
} >"$TMP/prometheus.yml"
prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/data" \
  --web.listen-address="127.0.0.1:$PROM_PORT" >"$TMP/prometheus.log" 2>&1 &
PROM_PID=$!
PROM="http://127.0.0.1:$PROM_PORT"
deadline=$((SECONDS + 60))
until curl -fsS -o /dev/null "$PROM/-/ready" 2>/dev/null; do
  ((SECONDS < deadline)) || { cat "$TMP/prometheus.log" >&2; fail "Prometheus did not become ready"; }
  sleep 0.2
done

query() {  # query PROMQL: prints the first sample's value, or nothing
  curl -fsS --get "$PROM/api/v1/query" --data-urlencode "query=$1" |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s).data.result;if(r.length)console.log(r[0].value[1])})'
}
wait_for() {  # wait_for PROMQL EXPECTED_MIN: until the value is >= EXPECTED_MIN (bounded)
  local deadline=$((SECONDS + 60)) value=""
  while ((SECONDS < deadline)); do
    value=$(query "$1" || true)
    if [[ -n $value ]] && node -e "process.exit(Number('$value') >= $2 ? 0 : 1)"; then
      echo "ok   $1 = $value"; return 0
    fi
    sleep 0.5
  done
  fail "$1 never reached $2 (last: ${value:-no data})"
}

wait_for 'sum(up{job=~"scheduler-service|sync-worker|ws-gateway"})' 3
before=$(query 'sum(autosync_scheduler_runs_total{result="completed"})' || true)
before=${before:-0}
response=$(curl -fsS -X POST "${AUTOSYNC_E2E_URL}api/test/trigger-sync/acme")
run_id=$(node -e 'console.log(JSON.parse(process.argv[1]).runId)' "$response")
echo "triggered $run_id"
wait_for "sum(autosync_scheduler_runs_total{result=\"completed\"})" "$((${before%.*} + 1))"
wait_for 'sum(autosync_worker_runs_total{result="completed"})' 1
wait_for 'sum(autosync_worker_records_written_total{kind="cohorts"})' 1
echo "prometheus-scrape: ok"
