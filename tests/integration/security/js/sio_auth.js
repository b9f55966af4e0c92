// The stock socket.io-client against a ws-gateway that requires JWTs: carries the token one way
// (CONNECT auth payload, ?token= query, or Authorization header), tries to watch and trigger a
// store the token does not grant, then watches and triggers its own store. Prints one JSON line
// with what it saw; exit 0 when the scenario's expectations hold.
//   node sio_auth.js --url=http://127.0.0.1:8080 --token=JWT --via=auth|query|header
//        [--own=storea] [--foreign=storeb] [--scenario=isolation|refused] [--websocket-only]
// socket.io-client comes from tests/integration/gateway/js/node_modules (SIO_NODE_MODULES
// overrides the folder).
'use strict';
const path = require('path');

const modules = process.env.SIO_NODE_MODULES ||
    path.resolve(__dirname, '../../gateway/js/node_modules');
const { io } = require(path.join(modules, 'socket.io-client'));

const args = Object.fromEntries(process.argv.slice(2).map((a) => {
  const [k, ...v] = a.replace(/^--/, '').split('=');
  return [k, v.length ? v.join('=') : true];
}));
const scenario = args.scenario || 'isolation';
const own = args.own || 'storea';
const foreign = args.foreign || 'storeb';
const timeoutMs = Number(args['timeout-ms'] || 30000);

const options = { reconnection: false };
if (args['websocket-only']) options.transports = ['websocket'];
const token = args.token || '';
if (token) {
  if (args.via === 'query') {
    options.query = { token };
  } else if (args.via === 'header') {
    options.extraHeaders = { Authorization: 'Bearer ' + token };
  } else {
    options.auth = { token };
  }
}
const socket = io(args.url, options);

const seen = { connectError: null, foreignAcks: [], ownSelectAck: null, ownTriggerAck: null,
               stages: [], foreignEvents: 0, errors: [] };
let finished = false;
function finish(ok, why) {
  if (finished) return;
  finished = true;
  console.log(JSON.stringify({ ok, why, ...seen }));
  socket.close();
  process.exit(ok ? 0 : 1);
}
setTimeout(() => finish(false, 'timed out'), timeoutMs);

function aboutForeign(data) {
  return JSON.stringify(data === undefined ? null : data).includes(foreign);
}

socket.on('connect_error', (err) => {
  seen.connectError = err.message;
  finish(scenario === 'refused', 'connect_error');
});
socket.on('error', (e) => { seen.errors.push(e); });
socket.on('disconnect', (reason) => finish(false, 'disconnected: ' + reason));
for (const name of ['syncStatus', 'autoSyncProgress']) {
  socket.on(name, (data) => { if (aboutForeign(data)) seen.foreignEvents += 1; });
}

// emit with an ack, as a promise.
function call(event, arg) {
  return new Promise((resolve) => socket.emit(event, arg, resolve));
}

socket.on('connect', async () => {
  if (scenario === 'refused') return finish(false, 'connected although it should be refused');
  seen.foreignAcks.push(await call('selectStore', foreign));
  seen.foreignAcks.push(await call('selectStore', { storeId: foreign }));
  seen.foreignAcks.push(await call('triggerManualSync', foreign));
  seen.foreignAcks.push(await call('triggerManualSync', { storeId: foreign }));
  // Own store: its status, a run of it to the end.
  const status = new Promise((resolve) => socket.once('syncStatus', resolve));
  seen.ownSelectAck = await call('selectStore', own);
  const first = await status;
  if (first.storeId !== own) return finish(false, 'first status is not of the own store');
  socket.on('autoSyncProgress', (p) => {
    if (p.storeId !== own) return;
    seen.stages.push(p.stage);
    if (p.stage === 'completed' || p.stage === 'failed') {
      // One more round trip so anything queued behind the run's last event arrives first.
      call('selectStore', own).then(() => finish(seen.foreignEvents === 0, 'run received'));
    }
  });
  seen.ownTriggerAck = await call('triggerManualSync', own);
  if (!seen.ownTriggerAck || !seen.ownTriggerAck.success) finish(false, 'own trigger refused');
});
