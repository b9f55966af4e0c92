#!/usr/bin/env bash
# Runs the dashboard e2e suite (dashboard.spec.mjs, then stores.spec.mjs) against the real system,
# started as deploy/local/up does: a throw-away PostgreSQL cluster, store-sim (live mode, demo
# stores), sync-worker and scheduler-service on free loopback ports; the suite itself starts
# ws-gateway (so it can kill and restart it mid-run). Everything stops on exit; logs and
# screenshots land in tests/e2e/artifacts/.
# store-sim also serves a store no registered store reads ($E2E_SIM_STORE, whose data breaks every
# data rule once: store-sim ":invalid"): stores.spec.mjs creates
# a store through the dashboard that syncs from it (AUTOSYNC_E2E_SIM_BASE/_STORE/_CREDENTIALS_REF).
#
#   tests/e2e/run-with-system.sh            binaries from $AUTOSYNC_BIN_DIR (default build/release/bin)
#   tests/e2e/run-with-system.sh CMD ARGS…  start the gateway too and run CMD instead of the suite
#                                           (AUTOSYNC_E2E_URL is set for it), e.g. to look around
# Needs: node + npm, /usr/bin/chromium, PostgreSQL 15 server binaries, curl.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=${AUTOSYNC_BIN_DIR:-$ROOT/build/release/bin}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
ART=$HERE/artifacts
LOGS=$ART/system

for b in store-sim scheduler-service sync-worker ws-gateway; do
  [[ -x $BIN/$b ]] || { echo "run-with-system: $BIN/$b missing (build it, or set AUTOSYNC_BIN_DIR)" >&2; exit 2; }
done
cd "$HERE"
[[ -d node_modules/playwright-core ]] || npm ci --no-audit --no-fund
mkdir -p "$LOGS"
rm -f "$LOGS"/*.log "$ART/ws-gateway.log"

TMP=$(mktemp -d /tmp/autosync-e2e.XXXXXX)
as_pg() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[[ $(id -u) == 0 ]] && chown postgres "$TMP"

PIDS=()
cleanup() {
  local rc=$?
  trap - INT TERM EXIT
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  as_pg "$PGBIN/pg_ctl" -D "$TMP/pg" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup INT TERM EXIT

# Eight free loopback ports, chosen by the kernel.
read -r PG_PORT SIM_PORT WORKER_PORT WORKER_METRICS_PORT SCHEDULER_PORT SCHEDULER_METRICS_PORT GATEWAY_PORT GATEWAY_METRICS_PORT < <(
  node -e '
    const net = require("net");
    const servers = Array.from({ length: 8 }, () => net.createServer());
    Promise.all(servers.map((s) => new Promise((r) => s.listen(0, "127.0.0.1", () => r(s.address().port)))))
      .then((ports) => { console.log(ports.join(" ")); servers.forEach((s) => s.close()); });')

wait_http() {  # wait_http URL SECONDS: until it answers, bounded
  local deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null "$1" 2>/dev/null; do
    if ((SECONDS > deadline)); then echo "run-with-system: $1 did not answer; see $LOGS" >&2; exit 1; fi
    sleep 0.2
  done
}
start() {  # start NAME ARGS...
  local name=$1; shift
  "$BIN/$name" "$@" >"$LOGS/$name.log" 2>&1 &
  PIDS+=($!)
}

as_pg "$PGBIN/initdb" -D "$TMP/pg" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$TMP/pg" -l "$TMP/pg.log" -w \
  -o "-p $PG_PORT -k $TMP -c listen_addresses=127.0.0.1" start >/dev/null
as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres autosync
DB_URL="postgresql://postgres@127.0.0.1:$PG_PORT/autosync"

export SIM_TOKEN=sim-token
E2E_SIM_STORE=e2e-flow
start store-sim --listen="127.0.0.1:$SIM_PORT" --live \
  --stores="buycosari:20000,acme:5000,northwind:2000,$E2E_SIM_STORE:3000:invalid" \
  --leak_per_second=20 --bucket_size=400
wait_http "http://127.0.0.1:$SIM_PORT/_sim/health" 60
start scheduler-service --database_url="$DB_URL" --insecure_grpc --listen="127.0.0.1:$SCHEDULER_PORT" \
  --metrics_listen="127.0.0.1:$SCHEDULER_METRICS_PORT" --worker_target="127.0.0.1:$WORKER_PORT"
wait_http "http://127.0.0.1:$SCHEDULER_METRICS_PORT/metrics" 60
start sync-worker --database_url="$DB_URL" --insecure_grpc --listen="127.0.0.1:$WORKER_PORT" \
  --metrics_listen="127.0.0.1:$WORKER_METRICS_PORT"
wait_http "http://127.0.0.1:$WORKER_METRICS_PORT/metrics" 60

# The demo stores of deploy/local/up, but scheduled once a year (orders and ads): the tests press
# "Sync now" themselves and a scheduled run in between would only make them wait.
for store in buycosari acme northwind; do
  as_pg "$PGBIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d autosync -v ON_ERROR_STOP=1 \
    -v store="$store" -v base="http://127.0.0.1:$SIM_PORT" <<'SQL'
INSERT INTO stores (store_id, display_name, schedule, ads_schedule, timezone, staleness_seconds,
                    orders_api_base, ads_api_base, ad_account_id, credentials_ref)
VALUES (:'store', initcap(:'store'), '0 0 1 1 *', '0 0 1 1 *', 'America/New_York', 50,
        :'base' || '/shops/' || :'store', :'base', :'store', 'env:SIM_TOKEN')
ON CONFLICT (store_id) DO UPDATE SET orders_api_base = excluded.orders_api_base,
  ads_api_base = excluded.ads_api_base, updated_at = now();
SQL
done

export AUTOSYNC_E2E_URL="http://127.0.0.1:$GATEWAY_PORT/"
export AUTOSYNC_E2E_SIM_URL="http://127.0.0.1:$SIM_PORT"
# For the store stores.spec.mjs creates through the dashboard: where its APIs are, which sim store
# it reads (orders at <base>/shops/<store>, ad account <store>) and the worker's token variable.
export AUTOSYNC_E2E_SIM_BASE="http://127.0.0.1:$SIM_PORT"
export AUTOSYNC_E2E_SIM_STORE="$E2E_SIM_STORE"
# Its data breaks every data rule once (store-sim ":invalid"): 9 orders and 4 ad rows a day are
# kept in quarantine, and the dashboard must show them.
export AUTOSYNC_E2E_SIM_INVALID=1
export AUTOSYNC_E2E_SIM_CREDENTIALS_REF="env:SIM_TOKEN"
AUTOSYNC_E2E_GATEWAY_ARGV=$(node -e 'console.log(JSON.stringify(process.argv.slice(1)))' \
  "$BIN/ws-gateway" --insecure_grpc "--listen=127.0.0.1:$GATEWAY_PORT" "--metrics_listen=127.0.0.1:$GATEWAY_METRICS_PORT" "--scheduler_target=127.0.0.1:$SCHEDULER_PORT" \
  "--web_root=$ROOT/ws-gateway/web")
export AUTOSYNC_E2E_GATEWAY_ARGV
export AUTOSYNC_E2E_SCHEDULER_TARGET="127.0.0.1:$SCHEDULER_PORT"
# For checks that scrape the services (tests/deploy/prometheus-scrape.sh).
export AUTOSYNC_E2E_SCHEDULER_METRICS="127.0.0.1:$SCHEDULER_METRICS_PORT"
export AUTOSYNC_E2E_WORKER_METRICS="127.0.0.1:$WORKER_METRICS_PORT"
export AUTOSYNC_E2E_WORKER_TARGET="127.0.0.1:$WORKER_PORT"
export AUTOSYNC_E2E_GATEWAY="127.0.0.1:$GATEWAY_PORT"
export AUTOSYNC_E2E_GATEWAY_METRICS="127.0.0.1:$GATEWAY_METRICS_PORT"
if (($# > 0)); then
  start ws-gateway --insecure_grpc "--listen=127.0.0.1:$GATEWAY_PORT" "--metrics_listen=127.0.0.1:$GATEWAY_METRICS_PORT" "--scheduler_target=127.0.0.1:$SCHEDULER_PORT" \
    "--web_root=$ROOT/ws-gateway/web"
  wait_http "${AUTOSYNC_E2E_URL}health" 60
  echo "run-with-system: dashboard at $AUTOSYNC_E2E_URL"
  "$@"
else
  # One file after the other: each starts (and stops) the gateway on the same port.
  rc=0
  node --test dashboard.spec.mjs || rc=1
  node --test stores.spec.mjs || rc=1
  exit "$rc"
fi
