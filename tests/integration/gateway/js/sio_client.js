// Drives the ws-gateway with the stock socket.io-client 4.x, as a dashboard would. Exits 0 when
// the scenario's expectations hold, 1 otherwise, printing one JSON line with what it saw.
//   node sio_client.js --url=http://127.0.0.1:8080 --store=buycosari [--websocket-only]
//        [--token=JWT] [--scenario=run|refused|heartbeat|emit] [--hold-ms=N] [--timeout-ms=N]
//        [--event=NAME]   (emit: sends NAME with the store once connected and prints the ack)
'use strict';
const { io } = require('socket.io-client');

const args = Object.fromEntries(process.argv.slice(2).map((a) => {
  const [k, ...v] = a.replace(/^--/, '').split('=');
  return [k, v.length ? v.join('=') : true];
}));
const url = args.url;
const store = args.store || 'buycosari';
const scenario = args.scenario || 'run';
const holdMs = Number(args['hold-ms'] || 0);
const timeoutMs = Number(args['timeout-ms'] || 15000);

const options = {};  // the defaults: polling first, then upgrade to websocket
if (args['websocket-only']) options.transports = ['websocket'];
if (args.token) options.auth = { token: args.token };
const socket = io(url, options);

const seen = { stages: [], statuses: 0, ack: null, selectAck: null, transport: null,
               connectError: null, disconnects: [], upgraded: false };
let finished = false;
function finish(ok, why) {
  if (finished) return;
  finished = true;
  seen.transport = socket.io.engine ? socket.io.engine.transport.name : null;
  console.log(JSON.stringify({ ok, why, ...seen }));
  socket.close();
  process.exit(ok ? 0 : 1);
}
setTimeout(() => finish(false, 'timed out'), timeoutMs);

socket.io.on('open', () => {
  socket.io.engine.on('upgrade', () => { seen.upgraded = true; });
});
socket.on('connect_error', (err) => {
  seen.connectError = err.message;
  if (scenario === 'refused') finish(true, 'refused as expected');
});
socket.on('disconnect', (reason) => {
  seen.disconnects.push(reason);
  if (scenario !== 'refused') finish(false, 'disconnected: ' + reason);
});
socket.on('error', (e) => { seen.lastError = e; });

socket.on('connect', () => {
  if (scenario === 'refused') return finish(false, 'connected although it should be refused');
  if (scenario === 'emit') {
    return socket.emit(args.event, store, (ack) => { seen.ack = ack; finish(true, 'acked'); });
  }
  socket.emit('selectStore', store, (ack) => { seen.selectAck = ack; });
});

let triggered = false;
socket.on('syncStatus', (status) => {
  if (scenario === 'emit') return;
  seen.statuses += 1;
  if (status.storeId !== store) return finish(false, 'status of another store');
  if (!triggered) {
    triggered = true;
    setTimeout(() => {
      if (scenario === 'heartbeat') return finish(true, 'stayed connected');
      socket.emit('triggerManualSync', store, (ack) => { seen.ack = ack; check(); });
    }, holdMs);
  } else {
    check();
  }
});
socket.on('autoSyncProgress', (p) => {
  if (scenario === 'emit') return;
  if (p.storeId !== store) return finish(false, 'progress of another store');
  seen.stages.push(p.stage);
  seen.runId = p.runId;
  check();
});

function check() {
  const want = ['starting', 'orders', 'ads', 'ltv', 'completed'];
  if (seen.stages.length > want.length) return finish(false, 'too many progress events');
  const done = JSON.stringify(seen.stages) === JSON.stringify(want);
  // The completed run is followed by a fresh status (statuses: the first one and that one).
  if (done && seen.ack && seen.statuses >= 2) {
    if (!seen.ack.success || seen.ack.runId !== seen.runId) return finish(false, 'bad ack');
    if (!args['websocket-only'] && !seen.upgraded) return finish(false, 'never upgraded');
    finish(true, 'run received');
  }
}
