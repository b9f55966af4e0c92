// End-to-end latency client of tests/bench/run (row 6): the stock socket.io-client, as the
// dashboard uses it, connected to the ws-gateway of a whole system. Selects STORE, then RUNS
// times: triggers a manual sync and, for every `autoSyncProgress` event of that run, takes the
// receipt time (wall clock, sub-millisecond) minus the event's `time` (set by the sync-worker
// when it emitted the message; by the scheduler for the events it makes itself) on the same
// machine's clock. Waits IDLE_MS between runs so each run starts on an idle system. Prints one
// JSON line; exits non-zero if a run did not complete within TIMEOUT_MS.
//   node latency_client.js --url=http://127.0.0.1:8080 --store=e2e [--runs=5] [--idle-ms=500]
//        [--timeout-ms=120000]
'use strict';
const path = require('path');
const { performance } = require('perf_hooks');
const { io } = require(require.resolve('socket.io-client', { paths: [path.join(__dirname, '../node')] }));

const args = Object.fromEntries(process.argv.slice(2).map((a) => {
  const [k, ...v] = a.replace(/^--/, '').split('=');
  return [k, v.length ? v.join('=') : 'true'];
}));
const store = args.store || 'e2e';
const runs = Number(args.runs || 5);
const idleMs = Number(args['idle-ms'] || 500);
const timeoutMs = Number(args['timeout-ms'] || 120000);

const wallMs = () => performance.timeOrigin + performance.now();
// RFC 3339 with up to 9 fraction digits -> milliseconds since the epoch, keeping the fraction.
function parseTimeMs(text) {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(text || '');
  if (!m) return NaN;
  return Date.parse(m[1] + 'Z') + (m[2] ? Number('0.' + m[2]) * 1000 : 0);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function fail(why, extra) {
  console.log(JSON.stringify({ ok: false, why, ...extra }));
  process.exit(1);
}
setTimeout(() => fail('timed out'), timeoutMs).unref();

const socket = io(args.url, { transports: ['websocket'] });
const samples = [];      // ms, every event of every run
const byStage = {};      // stage -> [ms]
let current = null;      // { runId, resolve, events }
let early = [];          // events that arrived before the trigger's ack named the run

function onEvent(p, receivedMs) {
  const ms = receivedMs - parseTimeMs(p.time);
  if (!Number.isFinite(ms)) return;
  samples.push(ms);
  (byStage[p.stage] = byStage[p.stage] || []).push(ms);
  current.events += 1;
  if (p.stage === 'completed' || p.stage === 'failed') current.resolve(p.stage);
}
socket.on('autoSyncProgress', (p) => {
  const receivedMs = wallMs();
  if (!current) return;
  if (current.runId === null) { early.push([p, receivedMs]); return; }
  if (p.runId === current.runId) onEvent(p, receivedMs);
});
socket.on('connect_error', (e) => fail('connect_error: ' + e.message));
socket.on('disconnect', (reason) => { if (current) fail('disconnected: ' + reason); });

async function trigger() {
  // A run still being finished by the scheduler answers "in flight": retry, bounded.
  for (let attempt = 0; attempt < 50; attempt++) {
    const ack = await new Promise((r) => socket.emit('triggerManualSync', store, r));
    if (ack && ack.success && ack.started !== false) return ack.runId;
    await sleep(100);
  }
  fail('trigger refused 50 times');
}

socket.on('connect', async () => {
  const selected = await new Promise((r) => socket.emit('selectStore', store, r));
  if (!selected || selected.success === false) fail('selectStore refused', { selected });
  let stages = 0;
  for (let run = 0; run < runs; run++) {
    await sleep(idleMs);
    const done = new Promise((resolve) => { current = { runId: null, resolve, events: 0 }; early = []; });
    current.runId = await trigger();
    for (const [p, t] of early) if (p.runId === current.runId) onEvent(p, t);
    const outcome = await done;
    stages += current.events;
    if (outcome !== 'completed') fail('run ' + current.runId + ' ' + outcome);
    current = null;
  }
  const pct = (xs, p) => { const s = xs.slice().sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
  const stageP99 = Object.fromEntries(Object.entries(byStage).map(([k, v]) => [k, +pct(v, 0.99).toFixed(2)]));
  console.log(JSON.stringify({ ok: true, client: 'socket.io-client ' + require(require.resolve('socket.io-client/package.json', { paths: [path.join(__dirname, '../node')] })).version + ' (websocket)',
    runs, events: stages, p50Ms: +pct(samples, 0.5).toFixed(3), p90Ms: +pct(samples, 0.9).toFixed(3),
    p99Ms: +pct(samples, 0.99).toFixed(3), maxMs: +pct(samples, 1).toFixed(3), stageP99 }));
  socket.close();
  process.exit(0);
});
