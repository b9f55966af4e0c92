// A stand-in for ws-gateway that the dashboard cannot tell apart from the real one: it serves
// ws-gateway/web/ and fakes the gateway's HTTP routes and Socket.IO events (docs/DESIGN.md, "HTTP
// on the gateway" and "WebSocket events") with the same JSON shapes: protobuf JSON, int64 as strings,
// unset timestamps left out. Runs are simulated: starting -> orders (pages) -> ads -> ltv ->
// completed, after which the store's cohort table is recomputed.
//
// The run queue: with queueMs > 0 every run first waits that long as `queued` (a QUEUED progress
// event with queuePosition / estimatedWaitSeconds, a status with `queued`); a test drives the queue
// by hand instead with queueRun / moveQueuedRun / startQueuedRun. recordSkip counts a skipped fire.
//
// CLI:     node mock-gateway.mjs [--port 8080] [--host 127.0.0.1] [--step-ms 400] [--cron-seconds 60]
//                                [--queue-ms 0] [--token SECRET]
// Module:  const gw = await startMockGateway({port: 0, stepMs: 100}); gw.url; await gw.close();
//
// Demo stores: `buycosari` (never synced: no cohorts until the first run), `northwind-outdoors`
// (history and cohorts), `failing-store` (every run fails in the ads stage). The simulation state
// lives apart from the server (createMockState), so a test can stop the server mid-run and start a
// new one on the same port with the same state: the run goes on, as it would when a real gateway
// restarts while the scheduler keeps running.

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { Server } from 'socket.io';

const here = path.dirname(fileURLToPath(import.meta.url));
export const kDefaultWebRoot = path.resolve(here, '../../ws-gateway/web');

const kStoreIdPattern = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const kContentTypes = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  json: 'application/json',
  map: 'application/json',
  svg: 'image/svg+xml',
  png: 'image/png',
  ico: 'image/x-icon',
  txt: 'text/plain; charset=utf-8',
};

// Deterministic pseudo-random numbers so the demo data looks the same on every start.
function seededRandom(seedText) {
  let seed = 2166136261;
  for (const ch of seedText) seed = Math.imul(seed ^ ch.charCodeAt(0), 16777619) >>> 0;
  return () => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const iso = (ms) => new Date(ms).toISOString();
const round2 = (x) => Math.round(x * 100) / 100;

// Cohort table of `months` cohorts ending with the current month (protobuf JSON shape).
export function makeCohorts(storeId, months, version) {
  const rand = seededRandom(`${storeId}:${version}`);
  const now = new Date();
  const cohorts = [];
  for (let age = months - 1; age >= 0; --age) {
    const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - age, 1));
    const month = `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
    const customers = Math.round(70 + rand() * 160 + (months - age) * 6);
    const cac = round2(28 + rand() * 34);
    const adSpend = round2(customers * cac);
    const base = 0.24 + rand() * 0.14;
    const aov = 48 + rand() * 30;
    let cumulative = 0;
    const cells = [];
    for (let k = 0; k <= age; ++k) {
      const retention = k === 0 ? 1 : Math.min(1, base * Math.pow(k, -0.42) * (0.9 + rand() * 0.2));
      const active = Math.max(0, Math.round(customers * retention));
      const orders = Math.round(active * (1.05 + rand() * 0.3));
      const net = round2(orders * aov * (0.9 + rand() * 0.06));
      cumulative += net;
      const perCustomer = round2(cumulative / customers);
      cells.push({
        monthOffset: k,
        activeCustomers: String(active),
        orders: String(orders),
        netRevenue: net,
        cumulativeRevenuePerCustomer: perCustomer,
        retention: Math.round((active / customers) * 10000) / 10000,
        ltvToCac: round2(perCustomer / cac),
      });
    }
    cohorts.push({ cohortMonth: month, customers: String(customers), adSpend, cac, cells });
  }
  return cohorts;
}

const zeroCounts = () => ({
  ordersFetched: '0', ordersWritten: '0', adsFetched: '0', adsWritten: '0', cohortRows: '0',
  pages: '0',
});

// The simulated scheduler: stores, runs and the timers that advance them. `emit(room, event,
// data)` is set by whichever server is currently attached (a no-op while none is).
export function createMockState({ stepMs = 400, cronSeconds = 0, queueMs = 0 } = {}) {
  const now = Date.now();
  const state = {
    stepMs,
    cronSeconds,
    queueMs,
    emit: () => {},
    connections: new Map(),  // storeId -> number of sockets that selected it
    stores: new Map(),
    runSeq: 0,
    timers: new Set(),
  };
  const addStore = (store, extra) => {
    state.stores.set(store.storeId, {
      store,
      cohorts: [],
      computedAt: undefined,
      cohortVersion: 0,
      runs: [],
      current: undefined,  // the Run in flight
      queued: undefined,   // the Run waiting in the run queue
      queuePosition: 0,
      estimatedWaitSeconds: 0,
      lastSuccessTime: undefined,
      lastSyncTime: undefined,
      lastError: '',
      skippedFires: 0,
      lastSkipTime: undefined,
      lastSkipReason: '',
      ...extra,
    });
  };
  addStore({ storeId: 'buycosari', displayName: 'Buy Cosari', schedule: '*/5 * * * *',
             timezone: 'Europe/London', enabled: true });
  addStore({ storeId: 'northwind-outdoors', displayName: 'Northwind Outdoors',
             schedule: '0 * * * *', timezone: 'America/New_York', enabled: true });
  addStore({ storeId: 'failing-store', displayName: 'Failing Store (demo)', schedule: '',
             timezone: 'UTC', enabled: false });
  // Northwind has history: two earlier runs and a cohort table.
  const nw = state.stores.get('northwind-outdoors');
  nw.cohorts = makeCohorts('northwind-outdoors', 10, 0);
  nw.computedAt = iso(now - 47 * 60_000);
  nw.lastSuccessTime = nw.computedAt;
  nw.lastSyncTime = nw.computedAt;
  nw.skippedFires = 2;
  nw.lastSkipTime = iso(now - 12 * 60_000);
  nw.lastSkipReason = 'fresh';
  nw.runs = [
    { runId: 'run_4f1c0a9e2b7d6c3a1e0f9b8d', storeId: 'northwind-outdoors', trigger: 'cron',
      status: 'completed', stage: 'completed', startedAt: iso(now - 47 * 60_000 - 9000),
      finishedAt: iso(now - 47 * 60_000), queuedAt: iso(now - 47 * 60_000 - 9200), attempt: 1,
      counts: { ordersFetched: '412', ordersWritten: '388', adsFetched: '56', adsWritten: '56',
                cohortRows: '55', pages: '3' }, error: '', owner: 'mock' },
    { runId: 'run_9a8b7c6d5e4f3a2b1c0d9e8f', storeId: 'northwind-outdoors', trigger: 'cron',
      status: 'failed', stage: 'ads', startedAt: iso(now - 107 * 60_000 - 4000),
      finishedAt: iso(now - 107 * 60_000), queuedAt: iso(now - 107 * 60_000 - 4100), attempt: 1,
      counts: { ordersFetched: '120', ordersWritten: '120', adsFetched: '0', adsWritten: '0',
                cohortRows: '0', pages: '1' },
      error: 'Ads API answered 503 three times; will retry at the next fire', owner: 'mock' },
  ];
  return state;
}

function nextFireTime(state, entry) {
  if (!entry.store.enabled || !entry.store.schedule) return undefined;
  const now = Date.now();
  if (state.cronSeconds > 0) {
    const period = state.cronSeconds * 1000;
    return iso(Math.ceil((now + 1) / period) * period);
  }
  // Display only: the next minute that is a multiple of 5 (the mock fires nothing by itself).
  const period = 5 * 60_000;
  return iso(Math.ceil((now + 1) / period) * period);
}

export function statusOf(state, storeId) {
  const entry = state.stores.get(storeId);
  // Members in the gateway's order (field numbers); unset timestamps and messages left out.
  const status = {
    isSyncing: Boolean(entry.current),
    activeConnections: state.connections.get(storeId) ?? 0,
    hasCronJob: Boolean(entry.store.enabled && entry.store.schedule),
    schedule: entry.store.schedule,
    timezone: entry.store.timezone,
    lastError: entry.lastError,
    enabled: entry.store.enabled,
    queued: Boolean(entry.queued),
    queuePosition: entry.queued ? entry.queuePosition : 0,
    estimatedWaitSeconds: String(entry.queued ? entry.estimatedWaitSeconds : 0),
    skippedFires: String(entry.skippedFires),
    lastSkipReason: entry.lastSkipReason,
  };
  const next = nextFireTime(state, entry);
  if (next) status.nextFireTime = next;
  if (entry.lastSyncTime) status.lastSyncTime = entry.lastSyncTime;
  if (entry.lastSuccessTime) status.lastSuccessTime = entry.lastSuccessTime;
  if (entry.current) status.currentRun = { ...entry.current, counts: { ...entry.current.counts } };
  const last = entry.runs.find((r) => r.status !== 'running' && r.status !== 'queued');
  if (last) status.lastRun = last;
  if (entry.queued) status.queuedRun = { ...entry.queued };
  if (entry.lastSkipTime) status.lastSkipTime = entry.lastSkipTime;
  return status;
}

function broadcastStatus(state, storeId) {
  state.emit(`store:${storeId}`, 'syncStatus', { storeId, ...statusOf(state, storeId) });
}

function later(state, ms, fn) {
  const t = setTimeout(() => {
    state.timers.delete(t);
    fn();
  }, ms);
  state.timers.add(t);
}

// A new Run row at the head of the store's history (members in the gateway's order; no startedAt
// while queued).
function addRun(state, entry, trigger, status) {
  state.runSeq += 1;
  const at = iso(Date.now());
  const run = { runId: `run_${crypto.randomBytes(12).toString('hex')}`, storeId: entry.store.storeId,
                trigger, status, stage: status === 'queued' ? 'queued' : 'starting' };
  if (status !== 'queued') run.startedAt = at;
  Object.assign(run, { counts: zeroCounts(), error: '', owner: 'mock', queuedAt: at, attempt: 1 });
  entry.runs.unshift(run);
  if (entry.runs.length > 50) entry.runs.length = 50;
  return run;
}

// Starts a run unless one is queued or in flight: {runId, started} (started = a new run, as
// TriggerSync answers). With state.queueMs > 0 the run first waits that long in the queue.
export function startRun(state, storeId, trigger) {
  const entry = state.stores.get(storeId);
  const pending = entry.current ?? entry.queued;
  if (pending) return { runId: pending.runId, started: false };
  if (state.queueMs > 0) {
    const queued = queueRun(state, storeId, trigger,
                            { position: 1, waitSeconds: Math.round(state.queueMs / 1000) });
    later(state, state.queueMs, () => startQueuedRun(state, storeId));
    return queued;
  }
  const run = addRun(state, entry, trigger, 'running');
  execute(state, entry, run);
  return { runId: run.runId, started: true };
}

// Queues a run that waits until startQueuedRun (nothing starts it by itself): a QUEUED event and a
// status with the queue fields. {runId, started} like startRun.
export function queueRun(state, storeId, trigger, { position = 1, waitSeconds = 0 } = {}) {
  const entry = state.stores.get(storeId);
  const pending = entry.current ?? entry.queued;
  if (pending) return { runId: pending.runId, started: false };
  entry.queued = addRun(state, entry, trigger, 'queued');
  moveQueuedRun(state, storeId, { position, waitSeconds });
  return { runId: entry.queued.runId, started: true };
}

// The store's queued run stands elsewhere in the queue (runs ahead of it started, or a trigger
// moved it ahead): a new QUEUED event and status, as the scheduler sends them.
export function moveQueuedRun(state, storeId, { position, waitSeconds }) {
  const entry = state.stores.get(storeId);
  const run = entry.queued;
  if (!run) return;
  entry.queuePosition = position;
  entry.estimatedWaitSeconds = waitSeconds;
  state.emit(`store:${storeId}`, 'autoSyncProgress', {
    storeId, runId: run.runId, stage: 'queued',
    message: `Waiting for a worker slot (#${position} in the queue)`, progress: 0, error: '',
    time: iso(Date.now()), trigger: run.trigger, queuePosition: position,
    estimatedWaitSeconds: String(waitSeconds),
  });
  broadcastStatus(state, storeId);
}

// A worker slot takes the store's queued run: STARTING and the other stages follow. False when
// there is none (or a run is still in flight).
export function startQueuedRun(state, storeId) {
  const entry = state.stores.get(storeId);
  const run = entry.queued;
  if (!run || entry.current) return false;
  entry.queued = undefined;
  entry.queuePosition = 0;
  entry.estimatedWaitSeconds = 0;
  Object.assign(run, { status: 'running', stage: 'starting', startedAt: iso(Date.now()) });
  execute(state, entry, run);
  return true;
}

// A scheduled fire the scheduler skipped (it counts them on the status instead of as runs).
export function recordSkip(state, storeId, reason = 'fresh') {
  const entry = state.stores.get(storeId);
  entry.skippedFires += 1;
  entry.lastSkipTime = iso(Date.now());
  entry.lastSkipReason = reason;
  broadcastStatus(state, storeId);
}

// Runs `run` through its stages on the state's timers.
function execute(state, entry, run) {
  const { storeId, runId, trigger } = run;
  entry.current = run;

  const fails = storeId === 'failing-store';
  const pages = 5;
  const perPage = 250;
  const steps = [];
  const counts = { ordersFetched: 0, ordersWritten: 0, adsFetched: 0, adsWritten: 0,
                   cohortRows: 0, pages: 0 };
  const fmt = (n) => n.toLocaleString('en-US');
  steps.push(() => ['starting', 0, `Starting ${trigger} sync of ${storeId}`]);
  for (let page = 1; page <= pages; ++page) {
    steps.push(() => {
      counts.pages += 1;
      counts.ordersFetched += perPage;
      counts.ordersWritten += page === pages ? perPage - 37 : perPage;
      return ['orders', Math.round((60 * page) / pages),
              `Fetched ${fmt(counts.ordersFetched)} orders (page ${page})`];
    });
  }
  steps.push(() => {
    counts.pages += 1;
    counts.adsFetched += 62;
    counts.adsWritten += 62;
    return ['ads', 70, `Fetched ${counts.adsFetched} ad insight rows (last 28 days)`];
  });
  if (fails) {
    steps.push(() => ['failed', 70, 'Ads API answered 503 three times',
                      'Ads API answered 503 three times; orders are saved, ads will be retried at the next run']);
  } else {
    steps.push(() => {
      counts.adsFetched += 58;
      counts.adsWritten += 58;
      return ['ads', 80, `Fetched ${counts.adsFetched} ad insight rows (last 28 days)`];
    });
    steps.push(() => ['ltv', 90, 'Recomputing LTV cohorts']);
    steps.push(() => {
      entry.cohortVersion += 1;
      entry.cohorts = makeCohorts(storeId, 12, entry.cohortVersion);
      entry.computedAt = iso(Date.now());
      counts.cohortRows = entry.cohorts.reduce((n, c) => n + c.cells.length, 0);
      return ['completed', 100,
              `Sync completed: ${fmt(counts.ordersWritten)} orders, ${counts.adsWritten} ad rows, ` +
              `${counts.cohortRows} cohort rows`];
    });
  }

  let index = 0;
  const tick = () => {
    const [stage, progress, message, error = ''] = steps[index]();
    index += 1;
    const countsJson = Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, String(v)]));
    run.stage = stage;
    run.counts = countsJson;
    const terminal = stage === 'completed' || stage === 'failed';
    if (terminal) {
      run.status = stage;
      run.finishedAt = iso(Date.now());
      run.error = error;
      entry.current = undefined;
      entry.lastSyncTime = run.finishedAt;
      if (stage === 'completed') {
        entry.lastSuccessTime = run.finishedAt;
        entry.lastError = '';
      } else {
        entry.lastError = error;
      }
    }
    state.emit(`store:${storeId}`, 'autoSyncProgress', {
      storeId, runId, stage, message, progress, counts: countsJson, error, time: iso(Date.now()),
      trigger,
    });
    if (terminal || index === 1) broadcastStatus(state, storeId);
    if (!terminal) later(state, state.stepMs, tick);
  };
  later(state, Math.min(50, state.stepMs), tick);
  broadcastStatus(state, storeId);
}

function sendJson(res, status, body, extraHeaders = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store',
                          ...extraHeaders });
  res.end(text);
}

function serveStatic(res, webRoot, pathname) {
  let rel = pathname.slice(1);
  if (rel === '' || rel.endsWith('/')) rel += 'index.html';
  if (rel.split('/').some((s) => s === '' || s.startsWith('.')) || /[\\%\x00-\x1f]/.test(rel)) {
    return sendJson(res, 404, { success: false, error: 'not found' });
  }
  const file = path.join(webRoot, rel);
  fs.readFile(file, (err, data) => {
    if (err) return sendJson(res, 404, { success: false, error: `no file ${pathname}` });
    const ext = rel.slice(rel.lastIndexOf('.') + 1);
    res.writeHead(200, { 'Content-Type': kContentTypes[ext] ?? 'application/octet-stream',
                         'Cache-Control': 'no-cache' });
    res.end(data);
  });
}

// Starts an HTTP + Socket.IO server. Options: port (0 = any free one), host, webRoot, token
// (required from clients when set), state (shared simulation; a new one when absent), stepMs,
// cronSeconds, log (function or null). Resolves to {url, port, state, io, close()}.
export async function startMockGateway(options = {}) {
  const {
    port = 0, host = '127.0.0.1', webRoot = kDefaultWebRoot, token = '',
    log = null,
  } = options;
  const state = options.state ?? createMockState(options);
  const authorized = (candidate) => !token || candidate === token;
  const bearer = (req, url) => {
    const header = req.headers.authorization ?? '';
    if (header.startsWith('Bearer ')) return header.slice(7);
    return url.searchParams.get('token') ?? '';
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    const p = url.pathname;
    log?.(`${req.method} ${p}`);
    if (p === '/health') {
      return sendJson(res, 200, { status: 'ok', scheduler: 'SERVING', auth: token ? 'jwt' : 'dev',
                                  devMode: !token, timestamp: iso(Date.now()) });
    }
    if (!p.startsWith('/api/')) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        return sendJson(res, 405, { success: false, error: `use GET ${p}` });
      }
      return serveStatic(res, webRoot, p);
    }
    if (!authorized(bearer(req, url))) {
      return sendJson(res, 401, { success: false, error: 'missing or invalid token' },
                      { 'WWW-Authenticate': 'Bearer' });
    }
    let m;
    const storeOr404 = (id) => {
      if (!kStoreIdPattern.test(id)) {
        sendJson(res, 400, { success: false, error: `invalid store id "${id.slice(0, 64)}"` });
        return null;
      }
      const entry = state.stores.get(id);
      if (!entry) sendJson(res, 404, { success: false, error: `unknown store ${id}` });
      return entry ?? null;
    };
    const timestamp = iso(Date.now());
    if (req.method === 'GET' && p === '/api/stores') {
      return sendJson(res, 200, { success: true, stores: [...state.stores.values()].map((e) => ({
        ...e.store, stalenessSeconds: '3600', jitterSeconds: '0',
        credentialsRef: 'env:STORE_TOKEN', pauseNote: '' })), nextPageToken: '', timestamp });
    }
    if (req.method === 'GET' && (m = p.match(/^\/api\/sync\/status\/([^/]+)$/))) {
      if (!storeOr404(m[1])) return undefined;
      return sendJson(res, 200, { success: true, storeId: m[1], status: statusOf(state, m[1]),
                                  timestamp });
    }
    if (req.method === 'POST' && (m = p.match(/^\/api\/test\/trigger-sync\/([^/]+)$/))) {
      if (!storeOr404(m[1])) return undefined;
      const r = startRun(state, m[1], 'api');
      if (!r.started) {
        return sendJson(res, 409, { success: false,
                                    error: `A sync is already running for store: ${m[1]}`,
                                    runId: r.runId, started: false, timestamp });
      }
      return sendJson(res, 200, { success: true,
                                  message: `Manual sync triggered for store: ${m[1]}`,
                                  runId: r.runId, started: true, timestamp });
    }
    if (req.method === 'GET' && (m = p.match(/^\/api\/stores\/([^/]+)\/ltv$/))) {
      const entry = storeOr404(m[1]);
      if (!entry) return undefined;
      const body = { success: true, storeId: m[1], currency: 'USD', cohorts: entry.cohorts };
      if (entry.computedAt) body.computedAt = entry.computedAt;
      body.timestamp = timestamp;
      return sendJson(res, 200, body);
    }
    if (req.method === 'GET' && (m = p.match(/^\/api\/stores\/([^/]+)\/runs$/))) {
      const entry = storeOr404(m[1]);
      if (!entry) return undefined;
      const size = Number(url.searchParams.get('pageSize') || 20);
      return sendJson(res, 200, { success: true, runs: entry.runs.slice(0, size),
                                  nextPageToken: '', storeId: m[1], timestamp });
    }
    return sendJson(res, 404, { success: false, error: `no route for ${req.method} ${p}` });
  });

  const io = new Server(server, { serveClient: false });
  io.use((socket, next) => {
    if (authorized(socket.handshake.auth?.token ?? '')) return next();
    return next(new Error('unauthorized: missing or invalid token'));
  });
  io.on('connection', (socket) => {
    log?.(`socket ${socket.id} connected`);
    let selected = '';
    const protocolError = (message) => socket.emit('error', { message });
    const setSelected = (storeId) => {
      if (selected) {
        socket.leave(`store:${selected}`);
        state.connections.set(selected, (state.connections.get(selected) ?? 1) - 1);
        broadcastStatus(state, selected);
      }
      selected = storeId;
      if (selected) {
        socket.join(`store:${selected}`);
        state.connections.set(selected, (state.connections.get(selected) ?? 0) + 1);
        broadcastStatus(state, selected);
      }
    };
    socket.on('selectStore', (storeId) => {
      if (typeof storeId !== 'string' || !kStoreIdPattern.test(storeId)) {
        return protocolError('selectStore: expected a store id string');
      }
      if (!state.stores.has(storeId)) return protocolError(`selectStore: unknown store ${storeId}`);
      return setSelected(storeId);
    });
    socket.on('triggerManualSync', (...args) => {
      const ack = typeof args[args.length - 1] === 'function' ? args.pop() : () => {};
      const storeId = typeof args[0] === 'string' ? args[0] : selected;
      if (!storeId || !kStoreIdPattern.test(storeId)) {
        return ack({ success: false, error: 'triggerManualSync: no store given or selected' });
      }
      if (!state.stores.has(storeId)) {
        return ack({ success: false, error: `unknown store ${storeId}` });
      }
      const r = startRun(state, storeId, 'manual');
      return ack({ success: r.started, storeId, runId: r.runId, started: r.started,
                   message: r.started ? `Manual sync triggered for store: ${storeId}`
                                      : `A sync is already running for store: ${storeId}` });
    });
    socket.on('disconnect', () => setSelected(''));
  });
  state.emit = (room, event, data) => io.to(room).emit(event, data);

  let cron;
  if (state.cronSeconds > 0) {
    cron = setInterval(() => {
      for (const [id, entry] of state.stores) {
        if (!entry.store.enabled || !entry.store.schedule) continue;
        // A fire while a run is queued or in flight is counted as a skip, as the scheduler does.
        if (entry.current || entry.queued) recordSkip(state, id, entry.queued ? 'queued' : 'overlap');
        else startRun(state, id, 'cron');
      }
    }, state.cronSeconds * 1000);
  }

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const actual = server.address().port;
  return {
    url: `http://${host}:${actual}/`,
    port: actual,
    state,
    io,
    // Stops this server (the simulation's timers go on unless stopRuns). graceful: first end
    // every Socket.IO session with a DISCONNECT packet, as a server shutting down cleanly would.
    async close({ stopRuns = false, graceful = false } = {}) {
      if (cron) clearInterval(cron);
      state.emit = () => {};
      if (stopRuns) {
        for (const t of state.timers) clearTimeout(t);
        state.timers.clear();
      }
      if (graceful) io.disconnectSockets(true);
      // Otherwise like a gateway process going away: transports close under the clients (no Socket.IO
      // DISCONNECT packet, which would tell socket.io-client not to reconnect).
      await new Promise((resolve) => {
        io.close(() => resolve());
        server.closeAllConnections?.();
      });
    },
  };
}

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; ++i) {
    const [key, inline] = argv[i].replace(/^--/, '').split('=', 2);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`--${key} needs a value`);
    out[key.replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = value;
  }
  return out;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = parseArgs(process.argv.slice(2));
  const gw = await startMockGateway({
    port: Number(args.port ?? 8080),
    host: args.host ?? '127.0.0.1',
    stepMs: Number(args.stepMs ?? 400),
    cronSeconds: Number(args.cronSeconds ?? 0),
    queueMs: Number(args.queueMs ?? 0),
    token: args.token ?? '',
    webRoot: args.webRoot ?? kDefaultWebRoot,
    log: args.verbose ? (line) => console.log(line) : null,
  });
  console.log(`mock gateway listening on ${gw.url}`);
  const stop = async () => {
    await gw.close({ stopRuns: true });
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
