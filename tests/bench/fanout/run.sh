#!/usr/bin/env bash
# Fan-out benchmark: the ws-gateway (--bench_endpoints) versus a stock Socket.IO 4 server (for
# Socket.IO clients) and a stock `ws` server (for plain-WebSocket /ws clients) doing the same
# broadcast, N clients x M events, on this machine; plain WS also against fanout_floor_server, the
# least work any server can do (one send() per client per event), if BUILD_DIR has it. Not a
# test; prints a Markdown table.
# tests/bench/run runs this comparison at the issue's sizes as part of the whole suite.
#   tests/bench/fanout/run.sh BUILD_DIR [CLIENTS] [EVENTS] [PAYLOAD_BYTES] [INTERVAL_MS]
# INTERVAL_MS 0 = every event at once (throughput, latency = queueing of the whole burst);
# > 0 paces the events (latency under a steady rate).
# BUILD_DIR holds bin/ws-gateway and bin/fanout_bench (a release build is what the figures mean);
# the client is compiled into BUILD_DIR/fanout_bench if missing. Needs node and `npm ci` in
# tests/bench/node.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:?usage: run.sh BUILD_DIR [CLIENTS] [EVENTS] [PAYLOAD_BYTES] [INTERVAL_MS]}"
clients="${2:-1000}"
events="${3:-100}"
payload="${4:-200}"
interval="${5:-0}"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
bench="$build/bin/fanout_bench"
[[ -x "$bench" ]] || bench="$build/fanout_bench"
if [[ ! -x "$bench" ]]; then
  g++ -O2 -std=c++20 -o "$bench" "$here/fanout_bench.cc" -pthread
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 100); do (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

echo "$clients clients x $events events, ${payload} B pad, interval ${interval} ms, $(nproc) cores"
echo "| server | protocol | clients | events | payload B | interval ms | delivered | lost | delivered/s | server CPU µs/msg | p50 ms | p99 ms | RSS KiB/idle conn | client CPU µs/msg |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"

# measure PROTOCOL LABEL PORT SERVER-COMMAND...: starts the server (listening on PORT), runs the
# client against it, stops it.
measure() {
  local protocol=$1 label=$2 port=$3 pid
  shift 3
  "$@" >/dev/null 2>&1 &
  pid=$!
  wait_port "$port"
  "$bench" --port="$port" --server_pid=$pid --protocol="$protocol" --clients="$clients" \
    --events="$events" --payload="$payload" --interval_ms="$interval" --label="$label" || true
  kill $pid; wait $pid 2>/dev/null || true
}
gateway() {  # gateway PROTOCOL
  local port
  port=$(free_port)
  measure "$1" ws-gateway "$port" "$build/bin/ws-gateway" --insecure_grpc --listen="127.0.0.1:$port" \
    --metrics_listen=127.0.0.1:0 \
    --bench_endpoints --scheduler_target=127.0.0.1:1 --send_queue_max=100000 --log_level=warn
}
anchor() {  # anchor SCRIPT PROTOCOL LABEL
  local port
  port=$(free_port)
  measure "$2" "$3" "$port" node "$here/$1" "$port"
}
version() { node -p "require(require.resolve('$1/package.json',{paths:['$here/../node']})).version"; }
gateway sio
anchor node_server.js sio "socket.io $(version socket.io) (node $(node --version))"
gateway ws
anchor node_ws_server.js ws "ws $(version ws) (node $(node --version))"
if [[ -x "$build/bin/fanout_floor_server" ]]; then
  for threads in 1 2; do
    port=$(free_port)
    measure ws "bare send() floor, $threads thread(s)" "$port" \
      "$build/bin/fanout_floor_server" --port="$port" --threads="$threads"
  done
fi
