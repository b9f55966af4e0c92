// The reference for the fan-out benchmark: a stock Socket.IO 4 server doing what the gateway's
// POST /bench/broadcast does (same request and answer, same event data, `sentAtUs` on the same
// monotonic clock), with clients joining a store's room via `selectStore`.
//   node node_server.js PORT
// socket.io comes from tests/bench/node (4.8, installed by tests/bench/run), else from
// tests/integration/gateway/js (npm ci there).
'use strict';
const http = require('http');
const path = require('path');
const { Server } = require(require.resolve('socket.io', {
  paths: [path.join(__dirname, '../node'), path.join(__dirname, '../../integration/gateway/js')],
}));

const port = Number(process.argv[2] || 8081);
const nowUs = () => Number(process.hrtime.bigint() / 1000n);  // CLOCK_MONOTONIC, as steady_clock

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
    const recipients = io.sockets.adapter.rooms.get(b.store)?.size || 0;
    const startUs = nowUs();
    for (let seq = 0; seq < count; seq++) {
      if (seq > 0 && b.intervalMs) await new Promise((r) => setTimeout(r, b.intervalMs));
      io.to(b.store).emit(event, { storeId: b.store, runId: b.runId || 'bench', seq,
                                   sentAtUs: nowUs(), pad });
    }
    const endUs = nowUs();
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ emitted: count, recipients, startUs, endUs }));
  });
});
const io = new Server(server);
io.on('connection', (socket) => {
  socket.on('selectStore', (store, ack) => {
    for (const room of socket.rooms) if (room !== socket.id) socket.leave(room);
    socket.join(store);
    if (typeof ack === 'function') ack({ success: true, storeId: store });
  });
});
server.listen(port, '127.0.0.1', () => console.log(`listening ${port}`));
