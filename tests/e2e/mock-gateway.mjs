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
// Store management (docs/STORES-HTTP.md): the store resource with `version`, create / edit
// (409 on a stale version or an existing id) / delete, pause / resume, resync, backfill, the
// schedule preview (mock-cron.mjs) and GET /api/me. Validation follows
// scheduler-service/store_validation.cc closely enough to answer 400 + `field` with the same kind
// of words. Roles: without tokens every caller is an admin (dev mode); `token` is a token without a
// role claim (operator); `tokens` maps more tokens to a role ({"t": "viewer"} or {"t": {role,
// subject, stores}}). A role too low answers 403 and changes nothing.
//
// CLI:     node mock-gateway.mjs [--port 8080] [--host 127.0.0.1] [--step-ms 400] [--cron-seconds 60]
//                                [--queue-ms 0] [--token SECRET] [--viewer-token T] [--admin-token T]
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
import { CronError, checkZone, formatLocal, kMaxCronLength, nextFires, parseFiringCron } from './mock-cron.mjs';

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
      store: makeStore(store, now),
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
  state.addStore = addStore;
  addStore({ storeId: 'buycosari', displayName: 'Buy Cosari',
             schedules: { orders: '*/5 * * * *', ads: '0 */6 * * *' }, timezone: 'Europe/London' });
  addStore({ storeId: 'northwind-outdoors', displayName: 'Northwind Outdoors',
             schedules: { orders: '0 * * * *', ads: '0 */6 * * *' }, timezone: 'America/New_York' });
  addStore({ storeId: 'failing-store', displayName: 'Failing Store (demo)', timezone: 'UTC',
             enabled: false, pauseNote: 'demo: every run fails in the ads stage' });
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

// A store resource (docs/STORES-HTTP.md) with the defaults filled in.
export function makeStore(fields, now = Date.now()) {
  return {
    storeId: fields.storeId,
    displayName: fields.displayName ?? '',
    schedules: { orders: fields.schedules?.orders || kDefaultSchedules.orders,
                 ads: fields.schedules?.ads || kDefaultSchedules.ads },
    timezone: fields.timezone ?? '',
    enabled: fields.enabled ?? true,
    pauseNote: fields.pauseNote ?? '',
    stalenessSeconds: { orders: fields.stalenessSeconds?.orders || 3600,
                        ads: fields.stalenessSeconds?.ads || 3600 },
    jitterSeconds: fields.jitterSeconds ?? 0,
    ordersApi: fields.ordersApi || 'graphql',
    ordersApiBase: fields.ordersApiBase ?? 'http://127.0.0.1:8090',
    ordersApiVersion: fields.ordersApiVersion || '2026-10',
    adsApiBase: fields.adsApiBase ?? 'http://127.0.0.1:8090',
    adsApiVersion: fields.adsApiVersion || 'v24.0',
    adAccountId: fields.adAccountId ?? fields.storeId,
    credentialsRef: fields.credentialsRef ?? 'env:STORE_TOKEN',
    notifyWebhookUrl: fields.notifyWebhookUrl ?? '',
    notifySecretRef: fields.notifySecretRef ?? '',
    version: fields.version ?? 1,
    createdAt: fields.createdAt ?? iso(now),
    updatedAt: fields.updatedAt ?? iso(now),
  };
}
const kDefaultSchedules = { orders: '0 * * * *', ads: '0 */6 * * *' };

// The next fire of the store's `type` schedule; undefined while paused. With --cron-seconds the
// mock fires every store that often, and says so.
function nextTypeFire(state, entry, type) {
  if (!entry.store.enabled) return undefined;
  const now = Date.now();
  if (state.cronSeconds > 0) {
    const period = state.cronSeconds * 1000;
    return Math.ceil((now + 1) / period) * period;
  }
  try {
    const fires = nextFires(parseFiringCron(entry.store.schedules[type]), entry.store.timezone, now, 1);
    return fires[0];
  } catch {
    return undefined;
  }
}

export function statusOf(state, storeId) {
  const entry = state.stores.get(storeId);
  // Members in the gateway's order (field numbers); unset timestamps and messages left out.
  const nextOrders = nextTypeFire(state, entry, 'orders');
  const nextAds = nextTypeFire(state, entry, 'ads');
  const status = {
    isSyncing: Boolean(entry.current),
    activeConnections: state.connections.get(storeId) ?? 0,
    hasCronJob: Boolean(entry.store.enabled && (nextOrders || nextAds)),
    schedule: entry.store.schedules.orders,
    timezone: entry.store.timezone,
    lastError: entry.lastError,
    enabled: entry.store.enabled,
    queued: Boolean(entry.queued),
    queuePosition: entry.queued ? entry.queuePosition : 0,
    estimatedWaitSeconds: String(entry.queued ? entry.estimatedWaitSeconds : 0),
    skippedFires: String(entry.skippedFires),
    lastSkipReason: entry.lastSkipReason,
  };
  const next = Math.min(nextOrders ?? Infinity, nextAds ?? Infinity);
  if (Number.isFinite(next)) status.nextFireTime = iso(next);
  if (entry.lastSyncTime) status.lastSyncTime = entry.lastSyncTime;
  if (entry.lastSuccessTime) status.lastSuccessTime = entry.lastSuccessTime;
  if (entry.current) status.currentRun = { ...entry.current, counts: { ...entry.current.counts } };
  const last = entry.runs.find((r) => r.status !== 'running' && r.status !== 'queued');
  if (last) status.lastRun = last;
  if (entry.queued) status.queuedRun = { ...entry.queued };
  if (entry.lastSkipTime) status.lastSkipTime = entry.lastSkipTime;
  status.adsSchedule = entry.store.schedules.ads;
  if (nextOrders) status.nextOrdersFireTime = iso(nextOrders);
  if (nextAds) status.nextAdsFireTime = iso(nextAds);
  return status;
}

function broadcastStatus(state, storeId) {
  if (!state.stores.has(storeId)) return;  // deleted (a run of it may still be finishing)
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
function addRun(state, entry, trigger, status, options = {}) {
  state.runSeq += 1;
  const at = iso(Date.now());
  const run = { runId: `run_${crypto.randomBytes(12).toString('hex')}`, storeId: entry.store.storeId,
                trigger, status, stage: status === 'queued' ? 'queued' : 'starting' };
  if (status !== 'queued') run.startedAt = at;
  Object.assign(run, { counts: zeroCounts(), error: '', owner: 'mock', queuedAt: at,
                       dataTypes: options.dataTypes ?? ['orders', 'ads'] });
  if (options.force) run.force = true;
  if (options.backfillFrom) Object.assign(run, { backfillFrom: options.backfillFrom, backfillTo: options.backfillTo });
  run.attempt = 1;
  entry.runs.unshift(run);
  if (entry.runs.length > 50) entry.runs.length = 50;
  return run;
}

// Starts a run unless one is queued or in flight: {runId, started} (started = a new run, as
// TriggerSync answers). With state.queueMs > 0 the run first waits that long in the queue.
// `options`: force (a full re-sync), dataTypes, backfillFrom / backfillTo (Run's members).
export function startRun(state, storeId, trigger, options = {}) {
  const entry = state.stores.get(storeId);
  const pending = entry.current ?? entry.queued;
  if (pending) return { runId: pending.runId, started: false };
  if (state.queueMs > 0) {
    const queued = queueRun(state, storeId, trigger,
                            { position: 1, waitSeconds: Math.round(state.queueMs / 1000), ...options });
    later(state, state.queueMs, () => startQueuedRun(state, storeId));
    return queued;
  }
  const run = addRun(state, entry, trigger, 'running', options);
  execute(state, entry, run);
  return { runId: run.runId, started: true };
}

// Queues a run that waits until startQueuedRun (nothing starts it by itself): a QUEUED event and a
// status with the queue fields. {runId, started} like startRun.
export function queueRun(state, storeId, trigger, { position = 1, waitSeconds = 0, ...options } = {}) {
  const entry = state.stores.get(storeId);
  const pending = entry.current ?? entry.queued;
  if (pending) return { runId: pending.runId, started: false };
  entry.queued = addRun(state, entry, trigger, 'queued', options);
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
  const ads = !run.dataTypes || run.dataTypes.includes('ads');
  if (ads) {
    steps.push(() => {
      counts.pages += 1;
      counts.adsFetched += 62;
      counts.adsWritten += 62;
      return ['ads', 70, `Fetched ${counts.adsFetched} ad insight rows (last 28 days)`];
    });
  }
  if (fails) {
    steps.push(() => ['failed', 70, 'Ads API answered 503 three times',
                      'Ads API answered 503 three times; orders are saved, ads will be retried at the next run']);
  } else {
    if (ads) {
      steps.push(() => {
        counts.adsFetched += 58;
        counts.adsWritten += 58;
        return ['ads', 80, `Fetched ${counts.adsFetched} ad insight rows (last 28 days)`];
      });
    }
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

// ---------------------------------------------------------------------------------------------
// Store resource validation: the gateway's JSON checks (types, unknown and secret-looking
// members) and the scheduler's value rules (scheduler-service/store_validation.cc), with the
// JSON path of the member to blame.

const kRoleRank = { viewer: 0, operator: 1, admin: 2 };
const kMaxBodyBytes = 64 * 1024;
const kMaxJitterSeconds = 3600;
const kMaxBackfillDays = 3660;
const kStoreMembers = {
  storeId: 'string', displayName: 'string', schedules: 'object', timezone: 'string',
  enabled: 'boolean', pauseNote: 'string', stalenessSeconds: 'object', jitterSeconds: 'integer',
  ordersApi: 'string', ordersApiBase: 'string', ordersApiVersion: 'string', adsApiBase: 'string',
  adsApiVersion: 'string', adAccountId: 'string', credentialsRef: 'string', version: 'integer',
  createdAt: 'string', updatedAt: 'string', notifyWebhookUrl: 'string', notifySecretRef: 'string',
};
const kSecretMember = /token|secret(?!ref)|password|passwd|api_?key|private_?key|credential(?!sref)|authorization/i;

class BadInput extends Error {
  constructor(field, message, status = 400) {
    super(field ? `${field}: ${message}` : message);
    this.field = field;
    this.status = status;
  }
}

function checkType(path, value, type) {
  const ok = type === 'integer' ? Number.isInteger(value)
    : type === 'object' ? value !== null && typeof value === 'object' && !Array.isArray(value)
      : typeof value === type;
  if (!ok) throw new BadInput(path, `must be ${type === 'integer' ? 'a whole number' : `a ${type === 'object' ? 'JSON object' : type}`}`);
}

// Members, types and secrets of a store body (the gateway's part).
function checkStoreJson(body) {
  for (const [key, value] of Object.entries(body)) {
    if (kSecretMember.test(key)) {
      throw new BadInput(key, 'looks like a secret; a store holds only credentialsRef (env:NAME or file:/path), never the token');
    }
    const type = kStoreMembers[key];
    if (!type) throw new BadInput(key, 'is not a member of a store');
    checkType(key, value, type);
    if (key === 'schedules' || key === 'stalenessSeconds') {
      for (const [sub, v] of Object.entries(value)) {
        if (sub !== 'orders' && sub !== 'ads') throw new BadInput(`${key}.${sub}`, 'is not a data type (orders, ads)');
        if (kSecretMember.test(sub)) throw new BadInput(`${key}.${sub}`, 'looks like a secret');
        checkType(`${key}.${sub}`, v, key === 'schedules' ? 'string' : 'integer');
      }
    }
  }
}

function checkText(field, value, max) {
  if (Buffer.byteLength(value) > max) throw new BadInput(field, `is longer than ${max} bytes`);
  if (/[\x00-\x1f\x7f]/.test(value)) throw new BadInput(field, 'contains control characters');
}
function checkApiBase(field, url, secretField = 'credentialsRef') {
  if (!url) return;
  if (url.length > 512) throw new BadInput(field, 'is longer than 512 bytes');
  if (/[\x00-\x20\x7f]/.test(url)) throw new BadInput(field, 'contains whitespace or control characters');
  const m = /^https?:\/\/([^/]*)/.exec(url);
  if (!m) throw new BadInput(field, `"${url.slice(0, 64)}" must start with http:// or https://`);
  if (m[1].includes('@')) throw new BadInput(field, `must not contain user credentials; use ${secretField}`);
  if (!m[1] || m[1].startsWith(':')) throw new BadInput(field, `"${url.slice(0, 64)}" has no host`);
  if (/[?#]/.test(url)) throw new BadInput(field, `"${url.slice(0, 64)}" must not have a query or fragment`);
}
function checkToken(field, value) {
  if (value.length > 32) throw new BadInput(field, 'is longer than 32 bytes');
  if (!/^[A-Za-z0-9._-]*$/.test(value)) throw new BadInput(field, `"${value}" may only contain A-Z, a-z, 0-9, '.', '-', '_'`);
}
// The notification webhook: as an API base, but http:// only to this machine.
function checkWebhookUrl(url) {
  checkApiBase('notifyWebhookUrl', url, 'notifySecretRef');
  if (!url || url.startsWith('https://')) return;
  const host = /^http:\/\/(\[[^\]]*\]|[^/:]*)/.exec(url)[1].toLowerCase();
  if (!['127.0.0.1', '[::1]', 'localhost'].includes(host)) {
    throw new BadInput('notifyWebhookUrl', `"${url.slice(0, 64)}" must use https:// (http:// only to 127.0.0.1, [::1] or localhost)`);
  }
}
// Never echoes the value: it may be the secret itself, pasted by mistake.
function checkCredentialsRef(ref, field = 'credentialsRef') {
  if (!ref) return;
  if (ref.length > 512) throw new BadInput(field, 'is longer than 512 bytes');
  if (ref.startsWith('env:')) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(ref.slice(4))) {
      throw new BadInput(field, "env:NAME needs a variable name of A-Z, a-z, 0-9 and '_'");
    }
    return;
  }
  if (ref.startsWith('file:')) {
    const file = ref.slice(5);
    if (!file.startsWith('/')) throw new BadInput(field, 'file: needs an absolute path (file:/path)');
    if (/[\x00-\x1f\x7f]/.test(file)) throw new BadInput(field, 'the file path contains control characters');
    if (file.includes('/../') || file.endsWith('/..')) throw new BadInput(field, 'the file path must not contain ".."');
    return;
  }
  throw new BadInput(field, 'must be a reference to the secret, env:NAME or file:/path, never the secret itself');
}
function checkSchedule(field, expr) {
  if (expr.length > kMaxCronLength) throw new BadInput(field, `is longer than ${kMaxCronLength} bytes`);
  try {
    return parseFiringCron(expr).expression;
  } catch (err) {
    if (err instanceof CronError) throw new BadInput(field, err.message);
    throw err;
  }
}
function checkTimezone(field, tz) {
  try {
    checkZone(tz);
  } catch (err) {
    if (err instanceof CronError) throw new BadInput(field, err.message);
    throw err;
  }
}

// The store a create (current undefined) or an edit of `current` makes of `body` (already
// checkStoreJson'ed); read-only members are ignored.
export function normalizeStore(body, current) {
  const storeId = body.storeId ?? current?.storeId ?? '';
  if (!current) {
    if (!storeId) throw new BadInput('storeId', 'is required');
    if (!kStoreIdPattern.test(storeId)) {
      throw new BadInput('storeId', `"${storeId.slice(0, 64)}" must match ^[a-z0-9][a-z0-9_-]{0,62}$`);
    }
  } else if (storeId !== current.storeId) {
    throw new BadInput('storeId', `is fixed after create (this is ${current.storeId})`);
  }
  checkText('displayName', body.displayName ?? '', 200);
  const schedules = {};
  for (const type of ['orders', 'ads']) {
    const given = (body.schedules?.[type] ?? '').trim();
    schedules[type] = given ? checkSchedule(`schedules.${type}`, given) : kDefaultSchedules[type];
  }
  const timezone = body.timezone ?? '';
  checkTimezone('timezone', timezone);
  const staleness = {};
  for (const type of ['orders', 'ads']) {
    const v = body.stalenessSeconds?.[type] ?? 0;
    if (v < 0) throw new BadInput(`stalenessSeconds.${type}`, 'must not be negative');
    if (v > 365 * 86400) throw new BadInput(`stalenessSeconds.${type}`, 'must be at most one year (31536000)');
    staleness[type] = v || 3600;
  }
  const jitter = body.jitterSeconds ?? 0;
  if (jitter < 0 || jitter > kMaxJitterSeconds) throw new BadInput('jitterSeconds', `must be between 0 and ${kMaxJitterSeconds}`);
  const ordersApi = body.ordersApi || 'graphql';
  if (ordersApi !== 'rest' && ordersApi !== 'graphql') {
    throw new BadInput('ordersApi', `"${ordersApi.slice(0, 64)}" must be "rest" or "graphql"`);
  }
  checkApiBase('ordersApiBase', body.ordersApiBase ?? '');
  checkApiBase('adsApiBase', body.adsApiBase ?? '');
  const ordersApiVersion = body.ordersApiVersion || '2026-10';
  checkToken('ordersApiVersion', ordersApiVersion);
  const adsApiVersion = body.adsApiVersion || 'v24.0';
  checkToken('adsApiVersion', adsApiVersion);
  let account = body.adAccountId ?? '';
  if (account.startsWith('act_')) account = account.slice(4);
  if (account.length > 64) throw new BadInput('adAccountId', 'is longer than 64 characters');
  if (!/^[A-Za-z0-9_-]*$/.test(account)) {
    throw new BadInput('adAccountId', `"${account.slice(0, 64)}" may only contain A-Z, a-z, 0-9, '_', '-' (an optional act_ prefix is dropped)`);
  }
  checkCredentialsRef(body.credentialsRef ?? '');
  checkWebhookUrl(body.notifyWebhookUrl ?? '');
  checkCredentialsRef(body.notifySecretRef ?? '', 'notifySecretRef');
  if (body.notifyWebhookUrl && !body.notifySecretRef) {
    throw new BadInput('notifySecretRef', 'is required with notify_webhook_url (env:NAME or file:/path of the HMAC key)');
  }
  const pauseNote = body.pauseNote ?? '';
  checkText('pauseNote', pauseNote, 500);
  const now = iso(Date.now());
  return {
    storeId, displayName: body.displayName ?? '', schedules, timezone,
    // A body replaces the whole store: absent members take their defaults, `enabled` too (true),
    // as the gateway's ParseStoreBody does. An edit must send the pause state it read.
    enabled: body.enabled ?? true, pauseNote,
    stalenessSeconds: staleness, jitterSeconds: jitter,
    ordersApi, ordersApiBase: body.ordersApiBase ?? '', ordersApiVersion,
    adsApiBase: body.adsApiBase ?? '', adsApiVersion,
    adAccountId: account, credentialsRef: body.credentialsRef ?? '',
    notifyWebhookUrl: body.notifyWebhookUrl ?? '', notifySecretRef: body.notifySecretRef ?? '',
    version: current ? current.version + 1 : 1,
    createdAt: current ? current.createdAt : now, updatedAt: now,
  };
}

// "YYYY-MM-DD" that is a real day -> its UTC midnight in ms; BadInput otherwise.
function parseDay(field, value) {
  if (typeof value !== 'string') throw new BadInput(field, 'is required (YYYY-MM-DD)');
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const ms = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  if (!m || Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== value) {
    throw new BadInput(field, `"${String(value).slice(0, 32)}" is not a date (YYYY-MM-DD)`);
  }
  return ms;
}

// Reads a JSON object body (none = `empty`). 413 over 64 KiB, 400 when it is not an object.
async function readJson(req, empty) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > kMaxBodyBytes) throw new BadInput('', `the body is larger than ${kMaxBodyBytes} bytes`, 413);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text.trim()) {
    if (empty === undefined) throw new BadInput('', 'a JSON object body is required');
    return empty;
  }
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new BadInput('', 'the body is not JSON');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new BadInput('', 'the body is not a JSON object');
  return body;
}

function onlyMembers(body, allowed) {
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key)) throw new BadInput(key, 'is not expected here');
  }
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
    port = 0, host = '127.0.0.1', webRoot = kDefaultWebRoot, token = '', tokens = {},
    log = null,
  } = options;
  const state = options.state ?? createMockState(options);
  // token -> {role, subject, stores}; none at all = dev mode, where every caller is an admin.
  const identities = new Map();
  if (token) identities.set(token, { role: 'operator', subject: 'token', stores: [] });
  for (const [t, v] of Object.entries(tokens)) {
    identities.set(t, typeof v === 'string' ? { role: v, subject: `${v}-token`, stores: [] }
      : { role: v.role ?? 'operator', subject: v.subject ?? '', stores: v.stores ?? [] });
  }
  const devMode = identities.size === 0;
  const identify = (candidate) => (devMode ? { role: 'admin', subject: 'dev', stores: [] }
    : identities.get(candidate) ?? null);
  const bearer = (req, url) => {
    const header = req.headers.authorization ?? '';
    if (header.startsWith('Bearer ')) return header.slice(7);
    return url.searchParams.get('token') ?? '';
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (err instanceof BadInput) {
        const body = { success: false, error: err.message };
        if (err.field) body.field = err.field;
        return sendJson(res, err.status, body);
      }
      log?.(`error: ${err.stack}`);
      return sendJson(res, 500, { success: false, error: 'internal error' });
    });
  });
  async function handle(req, res) {
    const url = new URL(req.url, 'http://localhost');
    const p = url.pathname;
    log?.(`${req.method} ${p}`);
    if (p === '/health') {
      return sendJson(res, 200, { status: 'ok', scheduler: 'SERVING', auth: devMode ? 'dev' : 'jwt',
                                  devMode, timestamp: iso(Date.now()) });
    }
    if (!p.startsWith('/api/')) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        return sendJson(res, 405, { success: false, error: `use GET ${p}` });
      }
      return serveStatic(res, webRoot, p);
    }
    const who = identify(bearer(req, url));
    if (!who) {
      return sendJson(res, 401, { success: false, error: 'missing or invalid token' },
                      { 'WWW-Authenticate': 'Bearer' });
    }
    // False (and a 403 sent) when the caller's role is below `role`.
    const allowed = (role) => {
      if ((kRoleRank[who.role] ?? -1) >= kRoleRank[role]) return true;
      sendJson(res, 403, { success: false, error: `this needs the ${role} role; your token's role is ${who.role}` });
      return false;
    };
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
    if (req.method === 'GET' && p === '/api/me') {
      return sendJson(res, 200, { success: true, role: who.role, subject: who.subject, stores: who.stores });
    }
    if (req.method === 'GET' && p === '/api/stores') {
      // Pages in insertion order; the page token is the index to go on from.
      const all = [...state.stores.values()].map((e) => e.store);
      const size = Math.min(1000, Math.max(1, Number(url.searchParams.get('pageSize')) || 100));
      const from = Number(url.searchParams.get('pageToken') || 0) || 0;
      const next = from + size < all.length ? String(from + size) : '';
      return sendJson(res, 200, { success: true, stores: all.slice(from, from + size),
                                  nextPageToken: next, timestamp });
    }
    if (req.method === 'POST' && p === '/api/stores') {
      if (!allowed('admin')) return undefined;
      const body = await readJson(req);
      checkStoreJson(body);
      const existing = state.stores.get(body.storeId ?? '');
      if (existing) {
        return sendJson(res, 409, { success: false, error: `store ${body.storeId} already exists`,
                                    field: 'storeId', store: existing.store });
      }
      const store = normalizeStore(body, undefined);
      state.addStore(store);
      return sendJson(res, 201, { success: true, store, timestamp });
    }
    if (req.method === 'POST' && p === '/api/schedules/preview') {
      const body = await readJson(req);
      onlyMembers(body, ['schedule', 'timezone', 'count']);
      if (body.schedule !== undefined) checkType('schedule', body.schedule, 'string');
      if (body.timezone !== undefined) checkType('timezone', body.timezone, 'string');
      if (body.count !== undefined) checkType('count', body.count, 'integer');
      const expr = checkSchedule('schedule', body.schedule ?? '');
      checkTimezone('timezone', body.timezone ?? '');
      const count = body.count || 5;
      if (count < 1 || count > 100) throw new BadInput('count', 'must be between 1 and 100');
      const from = Date.now();
      const tz = body.timezone || 'UTC';
      const fires = nextFires(parseFiringCron(expr), tz, from, count)
        .map((ms) => ({ utc: iso(ms), local: formatLocal(tz, ms) }));
      if (fires.length < count) throw new BadInput('schedule', 'does not fire within 50 years of from');
      return sendJson(res, 200, { success: true, fires, timestamp });
    }
    if ((m = p.match(/^\/api\/stores\/([^/]+)$/))) {
      const id = m[1];
      if (req.method === 'GET') {
        const entry = storeOr404(id);
        if (!entry) return undefined;
        return sendJson(res, 200, { success: true, store: entry.store, timestamp });
      }
      if (req.method === 'PUT' || req.method === 'DELETE') {
        if (!allowed('admin')) return undefined;
        const entry = storeOr404(id);
        if (!entry) return undefined;
        if (req.method === 'DELETE') {
          state.stores.delete(id);
          return sendJson(res, 200, { success: true, storeId: id, timestamp });
        }
        const body = await readJson(req);
        checkStoreJson(body);
        if (body.version === undefined) throw new BadInput('version', 'is required: the version this edit replaces');
        if (body.version !== entry.store.version) {
          return sendJson(res, 409, {
            success: false, store: entry.store,
            error: `store ${id} was changed by someone else: it is at version ${entry.store.version}, this edit replaces version ${body.version}`,
          });
        }
        entry.store = normalizeStore(body, entry.store);
        broadcastStatus(state, id);
        return sendJson(res, 200, { success: true, store: entry.store, timestamp });
      }
    }
    if (req.method === 'POST' && (m = p.match(/^\/api\/stores\/([^/]+)\/(pause|resume|resync|backfill)$/))) {
      const [, id, action] = m;
      if (!allowed(action === 'backfill' ? 'admin' : 'operator')) return undefined;
      const entry = storeOr404(id);
      if (!entry) return undefined;
      if (action === 'pause' || action === 'resume') {
        const body = await readJson(req, {});
        onlyMembers(body, action === 'pause' ? ['note'] : []);
        const note = body.note ?? '';
        checkType('note', note, 'string');
        checkText('note', note, 500);
        const paused = action === 'pause';
        entry.store = { ...entry.store, enabled: !paused, pauseNote: paused ? note : '',
                        version: entry.store.version + 1, updatedAt: iso(Date.now()) };
        broadcastStatus(state, id);
        return sendJson(res, 200, { success: true, store: entry.store, timestamp });
      }
      let options = { force: true };
      if (action === 'resync') {
        onlyMembers(await readJson(req, {}), []);
      } else {
        const body = await readJson(req);
        onlyMembers(body, ['from', 'to']);
        const from = parseDay('from', body.from);
        const to = parseDay('to', body.to);
        if (from > to) throw new BadInput('from', `${body.from} is after to (${body.to})`);
        if ((to - from) / 86400000 + 1 > kMaxBackfillDays) throw new BadInput('to', `a backfill covers at most ${kMaxBackfillDays} days`);
        options = { dataTypes: ['orders'], backfillFrom: body.from, backfillTo: body.to };
      }
      const r = startRun(state, id, 'api', options);
      if (!r.started) {
        return sendJson(res, 409, { success: false, runId: r.runId, started: false,
                                    error: `a run of store ${id} is already queued or running (${r.runId})` });
      }
      return sendJson(res, 200, { success: true, runId: r.runId, started: true, timestamp });
    }
    if (req.method === 'GET' && (m = p.match(/^\/api\/sync\/status\/([^/]+)$/))) {
      if (!storeOr404(m[1])) return undefined;
      return sendJson(res, 200, { success: true, storeId: m[1], status: statusOf(state, m[1]),
                                  timestamp });
    }
    if (req.method === 'POST' && (m = p.match(/^\/api\/test\/trigger-sync\/([^/]+)$/))) {
      if (!allowed('operator')) return undefined;
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
    if (req.method === 'GET' && (m = p.match(/^\/api\/stores\/([^/]+)\/quarantine$/))) {
      const entry = storeOr404(m[1]);
      if (!entry) return undefined;
      return sendJson(res, 200, { success: true, records: [], total: '0', byRule: {},
                                  nextPageToken: '', storeId: m[1], timestamp });
    }
    return sendJson(res, 404, { success: false, error: `no route for ${req.method} ${p}` });
  }

  const io = new Server(server, { serveClient: false });
  io.use((socket, next) => {
    const who = identify(socket.handshake.auth?.token ?? '');
    if (!who) return next(new Error('unauthorized: missing or invalid token'));
    socket.data.role = who.role;
    return next();
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
      if (kRoleRank[socket.data.role] < kRoleRank.operator) {
        return ack({ success: false, storeId, error: `this needs the operator role; your token's role is ${socket.data.role}` });
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
        if (!entry.store.enabled) continue;
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
    tokens: Object.fromEntries([[args.viewerToken, 'viewer'], [args.adminToken, 'admin']].filter(([t]) => t)),
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
