#!/usr/bin/env bash
# Fan-out benchmark: the ws-gateway (--bench_endpoints) versus a stock Socket.IO 4 server doing
# the same broadcast, N clients x M events, on this machine. Not a test; prints a Markdown table.
#   tests/bench/fanout/run.sh BUILD_DIR [CLIENTS] [EVENTS] [PAYLOAD_BYTES] [INTERVAL_MS]
# INTERVAL_MS 0 = every event at once (throughput, latency = queueing of the whole burst);
# > 0 paces the events (latency under a steady rate).
# BUILD_DIR holds bin/ws-gateway (a release build is what the figures mean); the client is
# compiled into BUILD_DIR/fanout_bench if missing. Needs node and `npm ci` in
# tests/integration/gateway/js.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:?usage: run.sh BUILD_DIR [CLIENTS] [EVENTS] [PAYLOAD_BYTES] [INTERVAL_MS]}"
clients="${2:-1000}"
events="${3:-100}"
payload="${4:-200}"
interval="${5:-0}"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
bench="$build/fanout_bench"
if [[ ! -x "$bench" ]]; then
  g++ -O2 -std=c++20 -o "$bench" "$here/fanout_bench.cc" -pthread
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 100); do (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

echo "$clients clients x $events events, ${payload} B pad, interval ${interval} ms, $(nproc) cores"
echo "| server | clients | events | payload B | delivered | delivered/s | server CPU µs/msg | p50 ms | p99 ms | RSS KiB/conn |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"

port=$(free_port)
"$build/bin/ws-gateway" --listen="127.0.0.1:$port" --bench_endpoints --scheduler_target=127.0.0.1:1 \
  --send_queue_max=100000 --log_level=warn 2>/dev/null &
gw=$!
trap 'kill $gw 2>/dev/null || true' EXIT
wait_port "$port"
"$bench" --port="$port" --server_pid=$gw --clients="$clients" --events="$events" \
  --payload="$payload" --interval_ms="$interval" --label=ws-gateway || true
kill $gw; wait $gw 2>/dev/null || true

port=$(free_port)
node "$here/node_server.js" "$port" >/dev/null &
nd=$!
trap 'kill $nd 2>/dev/null || true' EXIT
wait_port "$port"
"$bench" --port="$port" --server_pid=$nd --clients="$clients" --events="$events" \
  --payload="$payload" --interval_ms="$interval" --label="socket.io $(node -p "require(require.resolve('socket.io/package.json',{paths:['$here/../../integration/gateway/js']})).version") (node $(node --version))" || true
kill $nd; wait $nd 2>/dev/null || true
