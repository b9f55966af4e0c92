#!/usr/bin/env bash
# Offline checks of the Alertmanager configuration with Debian's amtool:
#   - `amtool check-config` on it, and on a copy with the commented-out email and Slack
#     receivers (and smtp globals) uncommented, so the examples stay valid;
#   - `amtool config routes test` cases: critical alerts go to autosync-critical, warnings (with
#     or without a store) to autosync-warning, an alert without a known severity to
#     autosync-unclassified;
#   - every alert of the rules file routes to the receiver of its severity (so a rule with a
#     new severity, or a route that stops matching, fails here).
#   tests/deploy/alertmanager-routes.sh [CONFIG [RULES]]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CONFIG=${1:-$ROOT/deploy/alertmanager/alertmanager.yml}
RULES=${2:-$ROOT/deploy/prometheus/autosync-rules.yml}
TMP=$(mktemp -d /tmp/autosync-amroutes.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

failures=0
check() {  # check DESCRIPTION COMMAND...: runs the command quietly, reports
  local what=$1; shift
  if "$@" >"$TMP/out" 2>&1; then echo "ok   $what"
  else echo "FAIL $what"; sed 's/^/     /' "$TMP/out"; failures=$((failures + 1)); fi
}
routes_to() {  # routes_to RECEIVER LABEL=VALUE...: the labels route to exactly RECEIVER
  local receiver=$1; shift
  check "$* -> $receiver" amtool config routes test --config.file="$CONFIG" \
    --verify.receivers="$receiver" "$@"
}

check "amtool check-config $(basename "$CONFIG")" amtool check-config "$CONFIG"
sed -e 's/^  # smtp_/  smtp_/' -e 's/^    # \(email_configs\|slack_configs\):/    \1:/' \
  -e 's/^    #   /      /' "$CONFIG" >"$TMP/uncommented.yml"
if ! grep -q '^    slack_configs:' "$TMP/uncommented.yml" || ! grep -q '^    email_configs:' "$TMP/uncommented.yml"; then
  echo "FAIL no commented-out email_configs / slack_configs example found"; failures=$((failures + 1))
fi
check "amtool check-config with the email and Slack examples uncommented" \
  amtool check-config "$TMP/uncommented.yml"

routes_to autosync-critical alertname=AutosyncNoSchedulerReplica severity=critical job=scheduler-service
routes_to autosync-critical alertname=AutosyncWorkerUnavailable severity=critical
routes_to autosync-warning alertname=AutosyncStoreDataStale severity=warning store=acme
routes_to autosync-warning alertname=AutosyncStoreDataStale severity=warning store=buycosari
routes_to autosync-warning alertname=AutosyncQueueBehindStaleness severity=warning
routes_to autosync-unclassified alertname=AutosyncSomethingNew
routes_to autosync-unclassified alertname=AutosyncSomethingNew severity=info store=acme

# Every rule's (alert, severity), read from the rules file with js-yaml (tests/deploy's npm ci).
pairs=$(cd "$ROOT/tests/deploy" && node -e '
  const y = require("js-yaml"), fs = require("fs");
  for (const g of y.load(fs.readFileSync(process.argv[1], "utf8")).groups)
    for (const r of g.rules) if (r.alert) console.log(r.alert, (r.labels || {}).severity || "none");
' "$RULES")
[[ -n $pairs ]] || { echo "FAIL no alerts found in $RULES"; exit 1; }
while read -r alert severity; do
  case $severity in
    critical | warning) routes_to "autosync-$severity" "alertname=$alert" "severity=$severity" ;;
    *) echo "FAIL $alert has severity '$severity'; the routes know critical and warning"
       failures=$((failures + 1)) ;;
  esac
done <<<"$pairs"

if ((failures > 0)); then echo "alertmanager-routes: $failures failed"; exit 1; fi
echo "alertmanager-routes: ok"
