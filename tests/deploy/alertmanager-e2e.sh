#!/usr/bin/env bash
# Runs inside tests/e2e/run-with-system.sh (a real system on loopback ports): one alert, end to
# end, from a store that really is stale to a person's webhook.
#   - a local webhook receiver (node) appends every POST it gets to a file;
#   - a real Alertmanager (Debian's) runs deploy/alertmanager/alertmanager.yml with only the
#     receivers' URLs pointed at that webhook and the group timings shortened;
#   - a real Prometheus scrapes the system every second with deploy/prometheus/autosync-rules.yml,
#     whose `for:` durations are shortened (the expressions are the real ones), and sends its
#     alerts to that Alertmanager;
#   - a store is created through the gateway's HTTP API with the smallest staleness threshold
#     (1 s) and APIs on a closed loopback port, so its syncs cannot succeed; one is triggered.
# Then, each wait bounded: Prometheus fires AutosyncStoreDataStale for that store (and for
# buycosari, never synced, but never for acme, synced before Prometheus starts), Alertmanager's /api/v2/alerts holds it for the warning receiver, and
# the webhook got the warning receiver's POST for that store's group. Every process it starts
# stops on exit.
#   AUTOSYNC_SCHEDULE_REFRESH_SECONDS=2 tests/e2e/run-with-system.sh tests/deploy/alertmanager-e2e.sh
# (The scheduler exports a new store's freshness gauges on its next schedule refresh, every 60 s
# by default; deploy/check shortens that through the flag's environment variable.)
set -euo pipefail
: "${AUTOSYNC_E2E_SCHEDULER_METRICS:?run me through tests/e2e/run-with-system.sh}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
STORE=${ALERT_E2E_STORE:-alert-e2e}
FRESH_STORE=acme   # a demo store of run-with-system; synced below, so it must not alert
TMP=$(mktemp -d /tmp/autosync-alerts.XXXXXX)
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
START=$SECONDS
fail() {
  echo "alertmanager-e2e: $*" >&2
  local log
  for log in "$TMP"/*.log; do
    [[ -f $log ]] || continue
    echo "--- last lines of $(basename "$log")" >&2; tail -n 15 "$log" >&2
  done
  exit 1
}
poll() {  # poll SECONDS DESCRIPTION COMMAND...: until COMMAND succeeds, at most SECONDS
  local limit=$1 what=$2; shift 2
  local deadline=$((SECONDS + limit))
  until "$@"; do
    ((SECONDS < deadline)) || fail "$what: not within ${limit}s"
    sleep 0.5
  done
  echo "ok   $what (t=$((SECONDS - START))s)"
}
json_ok() {  # json_ok JS_EXPRESSION: stdin parses as JSON `d` and the expression is truthy
  # shellcheck disable=SC2016  # a JavaScript template literal, not a shell expansion
  node -e '
    let s = "";
    process.stdin.on("data", (c) => (s += c)).on("end", () => {
      let d;
      try { d = JSON.parse(s); } catch { process.exit(1); }
      process.exit(new Function("d", `return (${process.argv[1]});`)(d) ? 0 : 1);
    });' "$1"
}
free_ports() {  # free_ports N: N free loopback ports, chosen by the kernel
  node -e '
    const net = require("net");
    const servers = Array.from({ length: Number(process.argv[1]) }, () => net.createServer());
    Promise.all(servers.map((s) => new Promise((r) => s.listen(0, "127.0.0.1", () => r(s.address().port)))))
      .then((ports) => { console.log(ports.join(" ")); servers.forEach((s) => s.close()); });' "$1"
}
# CLOSED_PORT stays closed: the new store's APIs point there, so every sync of it fails.
read -r AM_PORT PROM_PORT HOOK_PORT CLOSED_PORT < <(free_ports 4)

api() {  # api METHOD PATH [BODY]: the gateway's HTTP API (dev mode: no token)
  local args=(-sS -X "$1" -H 'Content-Type: application/json' -w '\n%{http_code}')
  if (($# > 2)); then args+=(-d "$3"); fi
  local out; out=$(curl "${args[@]}" "${AUTOSYNC_E2E_URL}$2") || return 1
  echo "${out%$'\n'*}"
  [[ ${out##*$'\n'} == 2* ]]
}
refresh=${AUTOSYNC_SCHEDULE_REFRESH_SECONDS:-60}

# ---- acme syncs first, before Prometheus runs: it was never synced, so until its success is
# exported it is (rightly) stale; from then on it is fresh for 2 x 50 s and must never alert.
api POST "api/test/trigger-sync/$FRESH_STORE" >/dev/null || fail "could not trigger a sync of $FRESH_STORE"
synced() {  # synced STORE: the scheduler exports a last success for STORE
  curl -fsS "http://$AUTOSYNC_E2E_SCHEDULER_METRICS/metrics" 2>/dev/null |
    awk -v want="autosync_scheduler_store_last_success_timestamp_seconds{store=\"$1\"}" \
      '$1 == want && $2 + 0 > 0 { found = 1 } END { exit !found }'
}
poll $((60 + refresh)) "$FRESH_STORE synced and the scheduler exports its last success" synced "$FRESH_STORE"

# ---- the webhook receiver: one JSON line {path, body} per request
HOOK_FILE=$TMP/webhook.jsonl
node -e '
  const http = require("http"), fs = require("fs");
  const [file, port] = process.argv.slice(1);
  http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c)).on("end", () => {
      fs.appendFileSync(file, JSON.stringify({ method: req.method, path: req.url, body }) + "\n");
      res.end("ok\n");
    });
  }).listen(Number(port), "127.0.0.1");' "$HOOK_FILE" "$HOOK_PORT" >"$TMP/webhook.log" 2>&1 &
PIDS+=($!)
HOOK="http://127.0.0.1:$HOOK_PORT"

# ---- Alertmanager: the real routes, receivers, grouping and inhibitions; only the webhook URLs
# and the group timings differ (a 1 min group_wait has no place in CI).
sed -e "s#http://alert-webhook\.invalid/#$HOOK/#" \
  -e 's/^\( *group_wait:\).*/\1 1s/' -e 's/^\( *group_interval:\).*/\1 2s/' \
  "$ROOT/deploy/alertmanager/alertmanager.yml" >"$TMP/alertmanager.yml"
if grep -q 'alert-webhook\.invalid' "$TMP/alertmanager.yml" || ! grep -q "$HOOK/autosync/warning" "$TMP/alertmanager.yml"; then
  fail "could not point the receivers of deploy/alertmanager/alertmanager.yml at the local webhook"
fi
prometheus-alertmanager --config.file="$TMP/alertmanager.yml" --storage.path="$TMP/am-data" \
  --web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= \
  >"$TMP/alertmanager.log" 2>&1 &
PIDS+=($!)
AM="http://127.0.0.1:$AM_PORT"

# ---- Prometheus: the real rules with `for:` shortened to 2s (waiting 10 minutes is not an option
# in CI; the expressions, labels and annotations are the real ones, which the diff below proves).
sed -E 's/^( *for:) .*/\1 2s/' "$ROOT/deploy/prometheus/autosync-rules.yml" >"$TMP/autosync-rules.yml"
if ! diff <(grep -v '^ *for:' "$ROOT/deploy/prometheus/autosync-rules.yml") \
    <(grep -v '^ *for:' "$TMP/autosync-rules.yml") >/dev/null ||
    grep -E '^ *for:' "$TMP/autosync-rules.yml" | grep -vq 'for: 2s$' ||
    ! grep -q 'for: 2s' "$TMP/autosync-rules.yml"; then
  fail "shortening the for: durations changed more than the for: lines"
fi
{
  echo "global: {scrape_interval: 1s, evaluation_interval: 1s}"
  echo "rule_files: [autosync-rules.yml]"
  echo "alerting: {alertmanagers: [{static_configs: [{targets: ['127.0.0.1:$AM_PORT']}]}]}"
  echo "scrape_configs:"
  echo "  - {job_name: scheduler-service, static_configs: [{targets: ['$AUTOSYNC_E2E_SCHEDULER_METRICS']}]}"
  echo "  - {job_name: sync-worker, static_configs: [{targets: ['$AUTOSYNC_E2E_WORKER_METRICS']}]}"
  echo "  - {job_name: ws-gateway, static_configs: [{targets: ['$AUTOSYNC_E2E_GATEWAY_METRICS']}]}"
} >"$TMP/prometheus.yml"
promtool check config "$TMP/prometheus.yml" >/dev/null || fail "the generated prometheus.yml is invalid"
prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/prom-data" \
  --web.listen-address="127.0.0.1:$PROM_PORT" >"$TMP/prometheus.log" 2>&1 &
PIDS+=($!)
PROM="http://127.0.0.1:$PROM_PORT"

up() { curl -fsS -o /dev/null "$1" 2>/dev/null; }
poll 30 "webhook receiver answers" up "$HOOK/ready"
poll 60 "Alertmanager ready" up "$AM/-/ready"
poll 60 "Prometheus ready" up "$PROM/-/ready"
: >"$HOOK_FILE"   # the readiness probe above is not a notification

prom_has() {  # prom_has PROMQL: the query returns at least one series
  curl -fsS --get "$PROM/api/v1/query" --data-urlencode "query=$1" 2>/dev/null |
    json_ok 'd.status === "success" && d.data.result.length > 0'
}
poll 60 "Prometheus sees all three targets up" \
  prom_has 'sum(up{job=~"scheduler-service|sync-worker|ws-gateway"}) == 3'
poll 30 "Prometheus discovered the Alertmanager" \
  bash -c "curl -fsS '$PROM/api/v1/alertmanagers' | grep -q '127.0.0.1:$AM_PORT'"

# ---- a store that synced (must stay quiet) and one whose syncs cannot succeed (must alert)
body=$(printf '{"storeId":"%s","displayName":"Alert e2e","enabled":true,
  "schedules":{"orders":"0 0 1 1 *","ads":"0 0 1 1 *"},"timezone":"UTC",
  "stalenessSeconds":{"orders":1,"ads":1},"ordersApi":"rest",
  "ordersApiBase":"http://127.0.0.1:%s/shops/%s","adsApiBase":"http://127.0.0.1:%s",
  "adAccountId":"%s","credentialsRef":"env:SIM_TOKEN"}' "$STORE" "$CLOSED_PORT" "$STORE" "$CLOSED_PORT" "$STORE")
api POST api/stores "$body" >"$TMP/created.json" || fail "could not create store $STORE: $(cat "$TMP/created.json")"
echo "created store $STORE (staleness 1 s, APIs on closed port $CLOSED_PORT)"
api POST "api/test/trigger-sync/$STORE" >/dev/null || fail "could not trigger a sync of $STORE"

poll $((60 + refresh)) "the scheduler exports $STORE's threshold (1 s)" \
  prom_has "autosync_scheduler_store_staleness_threshold_seconds{store=\"$STORE\"} == 1"
poll 60 "Prometheus fires AutosyncStoreDataStale for $STORE" \
  prom_has "ALERTS{alertname=\"AutosyncStoreDataStale\",alertstate=\"firing\",store=\"$STORE\",severity=\"warning\"}"
# A store that never synced counts as stale too (buycosari: never synced, threshold 50 s).
poll 30 "Prometheus fires AutosyncStoreDataStale for buycosari (never synced)" \
  prom_has 'ALERTS{alertname="AutosyncStoreDataStale",alertstate="firing",store="buycosari"}'
if prom_has "count_over_time(ALERTS{alertname=\"AutosyncStoreDataStale\",store=\"$FRESH_STORE\"}[10m])"; then
  fail "AutosyncStoreDataStale was pending or firing for $FRESH_STORE, which synced before Prometheus started"
fi
echo "ok   AutosyncStoreDataStale never pending or firing for $FRESH_STORE (synced)"

am_has() {  # am_has STORE: Alertmanager holds an active stale alert of STORE for the warning receiver
  curl -fsS --get "$AM/api/v2/alerts" --data-urlencode 'filter=alertname="AutosyncStoreDataStale"' \
    --data-urlencode "filter=store=\"$1\"" 2>/dev/null |
    json_ok 'd.length > 0 && d.every((a) => a.status.state === "active" &&
      a.receivers.map((r) => r.name).join() === "autosync-warning")'
}
poll 60 "Alertmanager's /api/v2/alerts holds $STORE's alert for autosync-warning" am_has "$STORE"

hook_got() {  # hook_got STORE: a firing POST of the warning receiver for STORE's group arrived
  [[ -s $HOOK_FILE ]] || return 1
  node -e '
    const fs = require("fs");
    const [file, store] = process.argv.slice(1);
    const got = fs.readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l)).some((r) => {
      if (r.method !== "POST" || r.path !== "/autosync/warning") return false;
      const b = JSON.parse(r.body);
      return b.receiver === "autosync-warning" && b.status === "firing" &&
        b.groupLabels.alertname === "AutosyncStoreDataStale" && b.groupLabels.store === store &&
        b.alerts.some((a) => a.labels.alertname === "AutosyncStoreDataStale" && a.labels.store === store &&
                             a.status === "firing" && a.annotations.summary) &&
        b.alerts.every((a) => a.labels.store === store);  // grouped per store
    });
    process.exit(got ? 0 : 1);' "$HOOK_FILE" "$1"
}
poll 60 "the webhook got autosync-warning's POST for $STORE" hook_got "$STORE"
if hook_got "$FRESH_STORE"; then fail "the webhook got a stale-data notification for $FRESH_STORE"; fi

# The alert is about a store whose syncs really fail, not one that merely never ran.
run_failed() {  # the store has a failed run and no completed one
  curl -fsS "${AUTOSYNC_E2E_URL}api/stores/$STORE/runs" 2>/dev/null |
    json_ok 'd.runs.some((r) => r.status === "failed") && !d.runs.some((r) => r.status === "completed")'
}
poll 60 "$STORE's triggered run failed (and none completed)" run_failed
echo "alertmanager-e2e: ok ($((SECONDS - START))s)"
