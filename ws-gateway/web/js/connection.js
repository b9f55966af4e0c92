// The live connection: the Socket.IO client (the stock bundle in vendor/, path /socket.io/), its
// reconnects (also after the gateway ended the session, which socket.io-client does not retry),
// the connection indicator and the test panel's connection facts, and the client commands
// (selectStore, triggerManualSync). What the events mean is the caller's: connectSocket(on).
import { el } from './elements.js';
import { fmtInt, str } from './format.js';
import { setFeedback, showBanner } from './notices.js';
import { state, token } from './state.js';

let socket = null;
let handlers = null;  // connectSocket's `on`, kept for a reconnect that has to start from scratch

const kReasons = {
  'io server disconnect': 'the gateway ended the session',
  'io client disconnect': 'disconnected on request',
  'ping timeout': 'no heartbeat from the gateway',
  'transport close': 'the connection was closed (gateway restarting?)',
  'transport error': 'network error',
  'parse error': 'the gateway sent something unreadable',
};

function setConn(connState, reason = '') {
  state.conn.state = connState;
  state.conn.reason = reason;
  renderConnection();
}

let serverDisconnectTimer = 0;
let serverDisconnectDelayMs = 1000;

export function renderConnection() {
  const { conn } = state;
  el.conn.dataset.state = conn.state;
  const labels = {
    connecting: 'Connecting…', connected: 'Connected', disconnected: 'Disconnected',
    error: 'Not connected',
    reconnecting: conn.attempt > 0 ? `Reconnecting (attempt ${conn.attempt})…` : 'Reconnecting…',
  };
  el.connLabel.textContent = labels[conn.state] ?? conn.state;
  el.connReason.textContent = conn.state === 'connected' ? '' : conn.reason;
  el.conn.title = conn.reason || labels[conn.state] || '';
  renderConnInfo();
}

export function renderConnInfo() {
  const set = (key, value) => { el.info.querySelector(`[data-info="${key}"]`).textContent = value; };
  set('id', socket?.connected ? socket.id : '—');
  set('transport', socket?.connected ? str(socket.io?.engine?.transport?.name) || '—' : '—');
  set('url', `${window.location.origin}/socket.io/`);
  set('auth', token ? 'Bearer token set' : 'No token (dev mode)');
  set('events', fmtInt(state.events));
}

// Connects, with `on` handling what arrives: progress(data) (autoSyncProgress), status(data) (a
// syncStatus of the store shown), triggerResult(data) (while a trigger is pending), connected()
// (after each (re)connect, once the store shown is selected again) and disconnected().
export function connectSocket(on) {
  handlers = on;
  if (typeof window.io !== 'function') {
    setConn('error', 'socket.io-client did not load (vendor/socket.io.min.js)');
    showBanner('error', 'The live connection library did not load; status and progress will not update live.');
    return;
  }
  // Default client options (path /socket.io/, polling then websocket upgrade). `auth` is a
  // function so a token saved later is sent on the next (re)connect.
  socket = window.io({ auth: (cb) => cb(token ? { token } : {}) });
  socket.on('connect', () => {
    state.conn.attempt = 0;
    serverDisconnectDelayMs = 1000;
    setConn('connected');
    if (state.storeId) {
      socket.emit('selectStore', state.storeId);
      on.connected();  // catch up on whatever happened while we were away
    }
    socket.io.engine?.once('upgrade', renderConnInfo);
  });
  socket.on('disconnect', (reason) => {
    const text = kReasons[reason] ?? reason;
    if (reason === 'io server disconnect') {
      // socket.io-client does not retry after the server ends the session (e.g. a gateway
      // shutting down cleanly); a dashboard should come back by itself, with a backoff.
      setConn('reconnecting', text);
      clearTimeout(serverDisconnectTimer);
      serverDisconnectTimer = setTimeout(() => socket.connect(), serverDisconnectDelayMs);
      serverDisconnectDelayMs = Math.min(serverDisconnectDelayMs * 2, 30000);
    } else {
      setConn(socket.active ? 'reconnecting' : 'disconnected', text);
    }
    on.disconnected();
  });
  socket.on('connect_error', (err) => {
    const message = str(err?.message) || 'connection refused';
    if (socket.active) setConn('reconnecting', message);
    else {
      // Refused by the gateway (e.g. a bad token): socket.io will not retry by itself.
      setConn('error', message);
      showBanner('error', `The gateway refused the live connection: ${message}`,
        { label: 'Enter token', run: () => el.tokenInput.focus() });
    }
  });
  socket.io.on('reconnect_attempt', (attempt) => {
    state.conn.attempt = attempt;
    setConn('reconnecting', state.conn.reason);
  });
  socket.io.on('reconnect_failed', () => setConn('disconnected', 'gave up reconnecting'));
  socket.on('autoSyncProgress', on.progress);
  socket.on('syncStatus', (data) => {
    state.events += 1;
    renderConnInfo();
    if (!data || typeof data !== 'object') return;
    if (str(data.storeId) && str(data.storeId) !== state.storeId) return;
    on.status(data);
  });
  socket.on('triggerResult', (data) => {
    if (state.triggerPending) on.triggerResult(data);
  });
  socket.on('error', (data) => {
    const message = str(data?.message) || str(data);
    if (message) setFeedback('error', `Gateway: ${message}`);
  });
}

// The test panel's "Reconnect" and a new token: a fresh session (or a first one, when the client
// library had not loaded before).
export function reconnectSocket() {
  if (!socket) return connectSocket(handlers);
  setConn('connecting', 'reconnecting on request');
  clearTimeout(serverDisconnectTimer);
  socket.disconnect();
  socket.connect();
  return undefined;
}

// Tells the gateway which store's events this page wants (nothing while disconnected: the
// connect handler sends it).
export function sendSelectStore(storeId) {
  if (socket?.connected) socket.emit('selectStore', storeId);
}

// Asks for a manual sync over the socket; `done(err, res)` gets the acknowledgement, or an error
// after `timeoutMs`. False (and nothing sent) while the socket is down.
export function sendTrigger(storeId, timeoutMs, done) {
  if (!socket?.connected) return false;
  socket.timeout(timeoutMs).emit('triggerManualSync', storeId, done);
  return true;
}
