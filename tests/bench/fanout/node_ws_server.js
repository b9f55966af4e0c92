// The plain-WebSocket anchor of the fan-out benchmark: a stock `ws` 8 server doing what the
// gateway's /ws endpoint and POST /bench/broadcast do. Clients send
// `{"event":"selectStore","data":"<store>"}` (no answer, as on the gateway); the broadcast sends
// `{"event":<name>,"data":{storeId, runId, seq, sentAtUs, pad}}` to every client of the store,
// the frame's text built once per event (`sentAtUs` on CLOCK_MONOTONIC, as steady_clock).
//   node node_ws_server.js PORT
// ws comes from tests/bench/node (installed by tests/bench/run).
'use strict';
const http = require('http');
const path = require('path');
const { WebSocketServer } = require(require.resolve('ws', { paths: [path.join(__dirname, '../node')] }));

const port = Number(process.argv[2] || 8082);
const nowUs = () => Number(process.hrtime.bigint() / 1000n);
const rooms = new Map();  // store -> Set of sockets

const server = http.createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/bench/broadcast') {
    res.writeHead(404).end();
    return;
  }
  let body = '';
  req.on('data', (chunk) => { body += chunk; });
  req.on('end', async () => {
    const b = JSON.parse(body);
    const event = b.event || 'autoSyncProgress';
    const count = b.count || 1;
    const pad = 'x'.repeat(b.payloadBytes || 0);
    const room = rooms.get(b.store) || new Set();
    const startUs = nowUs();
    for (let seq = 0; seq < count; seq++) {
      if (seq > 0 && b.intervalMs) await new Promise((r) => setTimeout(r, b.intervalMs));
      const frame = Buffer.from(JSON.stringify({ event, data: { storeId: b.store,
        runId: b.runId || 'bench', seq, sentAtUs: nowUs(), pad } }));
      for (const ws of room) ws.send(frame, { binary: false });
    }
    const endUs = nowUs();
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ emitted: count, recipients: room.size, startUs, endUs }));
  });
});

const wss = new WebSocketServer({ server, path: '/ws' });
wss.on('connection', (ws) => {
  let store = null;
  ws.on('message', (data) => {
    let m;
    try { m = JSON.parse(data.toString()); } catch { return; }
    if (m.event !== 'selectStore') return;
    const id = typeof m.data === 'string' ? m.data : m.data && m.data.storeId;
    if (typeof id !== 'string') return;
    if (store !== null) rooms.get(store)?.delete(ws);
    store = id;
    if (!rooms.has(store)) rooms.set(store, new Set());
    rooms.get(store).add(ws);
  });
  ws.on('close', () => { if (store !== null) rooms.get(store)?.delete(ws); });
});
server.listen(port, '127.0.0.1', () => console.log(`listening ${port}`));
