// The autosync dashboard: store picker, connection and sync status, live progress of a run, run
// history and the LTV cohort heatmap. Plain ES module, no build step. It talks to the gateway it
// was served from: Socket.IO at /socket.io/ (the stock socket.io-client bundle in vendor/) and the
// JSON routes under /api/ (docs/DESIGN.md, "HTTP on the gateway"). Payloads are protobuf JSON:
// int64 fields arrive as strings, unset timestamps and messages are missing, so every read is
// defensive.
// A run first waits in the scheduler's run queue: a `queued` progress event (queuePosition,
// estimatedWaitSeconds) and a status with `queued` say so, and STARTING follows when a worker
// slot takes it; until then the page says "Queued (#3, about 2 min)", not "Syncing".
//
// Auth: a token from `?token=` (moved to localStorage and dropped from the address bar) or
// localStorage, or typed into the test panel; sent as Socket.IO `auth: {token}` and as
// `Authorization: Bearer` on fetches. `?store=` preselects a store; the last choice is remembered.
//
// Store management (the Stores tab, also reached as `#stores`; routes and JSON in
// docs/STORES-HTTP.md): the store list with each store's state (schedules, next fire per data type
// and last success from GET /api/sync/status/:id, a few stores at a time), a form to add or edit a
// store (a cron field per data type whose next five fires are previewed live by POST
// /api/schedules/preview as you type, a time-zone picker, the gateway's 400 shown next to the
// field it names, a 409 on an edit offering the current values), pause / resume, "Re-sync
// everything", backfill of a date range and delete. The store JSON uses plain numbers; the status
// and run routes still send protobuf JSON. GET /api/me names the caller's role; what the role
// cannot do is not offered (viewer: read only; operator: also Sync now, pause, resume, re-sync;
// admin: also add, edit, backfill, delete). The gateway enforces it anyway; a gateway without
// /api/me gets every control and decides itself.
//
// Stable data-testid attributes (for tests/e2e; keep them when restyling):
//   store-picker               <select> of stores (value = store id)
//   connection-state           data-state = connecting | connected | reconnecting | disconnected | error
//   connection-label           "Connected", "Reconnecting (attempt 3)…", …
//   connection-reason          why it is not connected (socket.io's reason / error message)
//   banner                     page-level problem (no token, gateway unreachable, …); hidden when none
//   sync-status                data-state = unknown | idle | queued | syncing; data-enabled = true |
//                              false; text "Idle", "Syncing" or "Queued (#3, about 2 min)"
//   status-next-fire, status-last-success, status-schedule, status-active-connections,
//   status-skipped-fires, status-last-error   the status facts (times carry <time datetime>)
//   sync-button                "Sync now" (disabled while a run is queued, in flight or being
//                              requested, and for a viewer; test-trigger-http likewise)
//   sync-feedback              the answer to the last trigger (data-kind = info | ok | error)
//   progress-card              the live progress panel
//   progress-run               which run is shown ("Run run_… · manual") ; data-run-id
//   progress-bar               role=progressbar; data-stage = idle | queued | starting | orders |
//                              ads | ltv | completed | failed | skipped | cancelled;
//                              data-percent = 0..100; data-run-id; data-live = true while the run
//                              executes (false while it waits in the queue: the bar stands still)
//   progress-stage, progress-percent   the text above the bar
//   stage-list                 <ol> of stages; its items stage-starting, stage-orders, stage-ads,
//                              stage-ltv have data-state = pending | active | done | failed | skipped
//   progress-counts            counts; each <dd> has data-count = ordersFetched | ordersWritten |
//                              adsFetched | adsWritten | cohortRows | pages
//   progress-log               the server's messages, newest first (<li data-stage>)
//   progress-announcer         polite live region: stage changes and outcomes
//   metric-toggle              radio group; metric-ltv, metric-retention are its labels
//   ltv-kpis                   summary figures above the table
//   ltv-computed-at            when the cohorts were computed
//   cohort-table               data-state = loading | ready | empty | error; data-metric = ltv |
//                              retention; data-version = how many times cohorts were loaded;
//                              data-computed-at = the server's computedAt
//   cohort-row                 one per cohort; data-cohort = "2024-01"
//   cohort-cell                one per (cohort, month offset) with data; data-cohort,
//                              data-offset, data-value (raw value of the shown metric)
//   cohort-empty               shown when the store has no cohorts yet
//   run-list                   <table> of runs; data-count; rows run-item with data-run-id,
//                              data-status = queued | running | completed | failed | skipped |
//                              cancelled; data-attempt
//   run-empty, runs-refresh
//   run-warnings               on a run-item that kept records out: data-orders, data-ads
//   quarantine-card            records kept out for breaking a data rule (GET …/quarantine)
//   quarantine-list            <table>; data-count = rows shown, data-total = the store's total;
//                              rows quarantine-item with data-kind = order | ad, data-key,
//                              data-rule; each has quarantine-raw (<details>, the raw JSON)
//   quarantine-summary, quarantine-empty, quarantine-refresh
//   test-panel, test-trigger-http, test-fetch-status, test-reconnect, test-output,
//   test-connection-info (its <dd data-info = id | transport | url | auth | events>),
//   token-form, token-input
//   view-tabs                  role=tablist; view-tab-dashboard, view-tab-stores its tabs
//                              (aria-selected); dashboard-view, stores-view their panels
// The Stores tab (built the first time it opens):
//   role-badge                 data-role = viewer | operator | admin, or "" (not known)
//   store-add, stores-refresh  "Add store" (admins only), reload the list and the statuses
//   stores-feedback            the answer to the last list-level action (data-kind = info | ok |
//                              error; data-run-id when it queued a run, e.g. a first sync)
//   store-list                 <table>; data-state = loading | ready | error; data-count
//   store-list-empty           shown when there is no store (or the list failed)
//   store-row                  one <tbody> per store: data-store-id, data-enabled = true | false,
//                              data-version, data-sync = unknown | idle | queued | syncing
//     store-state              data-state = active | paused; store-pause-note (the note)
//     store-schedule-orders, store-schedule-ads   data-schedule = the cron expression
//     store-next-orders, store-next-ads   data-state = scheduled (a <time datetime>) | paused |
//                              none | unknown
//     store-timezone, store-last-success (data-state = unknown | never | ok), store-last-error
//     store-open (show it on the dashboard), store-edit, store-pause, store-resume,
//     store-resync, store-backfill, store-delete   the row's actions; each is present only when
//                              the role allows it
//     store-panel              the open confirmation, data-panel = pause | resync | backfill |
//                              delete; in it store-pause-note-input, store-backfill-from,
//                              store-backfill-to (<input type=date>), store-panel-confirm,
//                              store-panel-cancel, store-panel-error
//     store-feedback           the answer to the row's last action (data-kind; data-run-id)
//   store-form-card, store-form   the add/edit form: data-mode = create | edit, data-store-id,
//                              data-version (what a save replaces); store-form-title
//   store-input                each field, data-field = its JSON path: storeId, displayName,
//                              timezone (<select>), schedules.orders, schedules.ads,
//                              stalenessSeconds.orders, stalenessSeconds.ads, jitterSeconds,
//                              ordersApiBase, ordersApiVersion, adsApiBase, adsApiVersion,
//                              ordersApi (<select>: "" service default, graphql, rest),
//                              adAccountId, credentialsRef, notifyWebhookUrl, notifySecretRef
//   store-field-error          data-field as above: the gateway's 400 for that field, or a local
//                              check (the input then has aria-invalid=true)
//   schedule-preview           data-type = orders | ads; data-state = idle | pending | ready |
//                              error; data-schedule, data-timezone = what the shown fires are for;
//                              preview-fire items (data-utc, data-local), preview-error
//   store-sync-after-create    checkbox (create only): queue the first sync right after creating
//   store-save, store-cancel, store-form-feedback (data-kind)
//   store-conflict             shown on a 409: someone else saved first; store-conflict-reload
//                              loads their version into the form

const kStages = ['starting', 'orders', 'ads', 'ltv'];
const kTerminal = new Set(['completed', 'failed', 'skipped']);
// Run.status values of runs that ended (a queued run can be cancelled before it starts).
const kEnded = new Set([...kTerminal, 'cancelled']);
// Where a stage starts on the 0-100 scale (orders 0-60, ads 60-80, ltv 80-100), used when a run
// is joined from a status snapshot rather than from its progress events.
const kStageBase = { starting: 0, orders: 2, ads: 60, ltv: 80, completed: 100 };
const kStageLabel = {
  idle: 'Idle', queued: 'Queued', starting: 'Starting', orders: 'Fetching orders',
  ads: 'Fetching ad spend', ltv: 'Computing LTV cohorts', completed: 'Completed', failed: 'Failed',
  skipped: 'Skipped (data is fresh)', cancelled: 'Cancelled',
};
// SyncStatus.lastSkipReason words the scheduler uses; anything else is shown as it is.
const kSkipReason = {
  fresh: 'the data was fresh', overlap: 'a run was in flight', running: 'a run was in flight',
  queued: 'a run was already queued',
};
const kTriggerLabel = { manual: 'Manual', cron: 'Scheduled', api: 'API', '': '—' };
const kStorageToken = 'autosync.token';
const kStorageStore = 'autosync.store';
const kRunsPageSize = 10;
const kMaxLogLines = 60;
const kFetchTimeoutMs = 10000;
const kAckTimeoutMs = 10000;
// The store list: statuses fetched this many at a time, and everything reloaded this often while
// the Stores tab is open.
const kStatusConcurrency = 4;
const kStoresRefreshMs = 30000;
const kPreviewDebounceMs = 300;
const kPreviewCount = 5;
// What a store gets when a schedule is left empty (docs/STORES-HTTP.md).
const kDefaultSchedules = { orders: '0 * * * *', ads: '0 */6 * * *' };

// ---------------------------------------------------------------------------------------------
// Small helpers

const byTestId = (id, root = document) => root.querySelector(`[data-testid="${id}"]`);

// Builds an element: h('td', {class: 'x', dataset: {a: 1}}, 'text', child).
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'class') el.className = value;
    else if (key === 'style') el.setAttribute('style', value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

// int64 arrives as a string, doubles as numbers, absent as undefined: all become finite numbers.
function num(value) {
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) ? n : 0;
}
const str = (value) => (typeof value === 'string' ? value : value == null ? '' : String(value));
// RFC3339 -> Date; absent, malformed and the zero timestamp (epoch) -> null.
function time(value) {
  if (!value || typeof value !== 'string') return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) || d.getTime() <= 0 ? null : d;
}
const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));

const storage = {
  get(key) {
    try { return window.localStorage.getItem(key) ?? ''; } catch { return ''; }
  },
  set(key, value) {
    try {
      if (value) window.localStorage.setItem(key, value);
      else window.localStorage.removeItem(key);
    } catch { /* private mode: remember nothing */ }
  },
};

const intFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const ratioFormat = new Intl.NumberFormat(undefined, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const percentFormat = new Intl.NumberFormat(undefined, { style: 'percent', maximumFractionDigits: 0 });
const percentFormat1 = new Intl.NumberFormat(undefined, { style: 'percent', maximumFractionDigits: 1 });
const relFormat = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const absFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const clockFormat = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });
const moneyFormats = new Map();

const fmtInt = (v) => intFormat.format(num(v));
function money(value, currency, digits = 2) {
  const key = `${currency}:${digits}`;
  if (!moneyFormats.has(key)) {
    let f;
    try {
      f = new Intl.NumberFormat(undefined, { style: 'currency', currency: currency || 'USD',
        minimumFractionDigits: digits, maximumFractionDigits: digits });
    } catch {
      f = new Intl.NumberFormat(undefined, { style: 'currency', currency: 'USD',
        minimumFractionDigits: digits, maximumFractionDigits: digits });
    }
    moneyFormats.set(key, f);
  }
  return moneyFormats.get(key).format(num(value));
}

function relTime(date, now = Date.now()) {
  const seconds = Math.round((date.getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 5) return date.getTime() - now > 1000 ? 'in a moment' : 'just now';
  if (abs < 60) return relFormat.format(seconds, 'second');
  if (abs < 3600) return relFormat.format(Math.round(seconds / 60), 'minute');
  if (abs < 86400) return relFormat.format(Math.round(seconds / 3600), 'hour');
  return relFormat.format(Math.round(seconds / 86400), 'day');
}

function timeEl(date) {
  return h('time', { datetime: date.toISOString(), title: absFormat.format(date), dataset: { rel: '' } },
    relTime(date));
}

// Seconds of expected wait -> "under a minute", "about 4 min", "about 2 h".
function waitEstimate(seconds) {
  const s = Math.max(0, num(seconds));
  if (s < 60) return 'under a minute';
  const minutes = Math.round(s / 60);
  if (minutes < 60) return `about ${minutes} min`;
  return `about ${Math.round(s / 3600)} h`;
}

// "Queued (#3, about 2 min)"; just "Queued" until the scheduler has said where the run stands,
// and no estimate while it has none (-1: no worker slots or no run measured yet).
function queuedLabel(queue) {
  if (!queue) return 'Queued';
  const position = Math.trunc(num(queue.position));
  const parts = [];
  if (position > 0) parts.push(`#${position}`);
  if (num(queue.waitSeconds) >= 0) parts.push(waitEstimate(queue.waitSeconds));
  return parts.length > 0 ? `Queued (${parts.join(', ')})` : 'Queued';
}

function duration(ms) {
  if (!(ms >= 0)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

// "*/5 * * * *" -> "Every 5 minutes"; other expressions are shown as they are.
function describeSchedule(expr) {
  const e = str(expr).trim();
  const named = { '@hourly': 'Hourly', '@daily': 'Daily at midnight', '@midnight': 'Daily at midnight',
    '@weekly': 'Weekly', '@monthly': 'Monthly', '@yearly': 'Yearly', '@annually': 'Yearly' };
  if (named[e]) return named[e];
  const f = e.split(/\s+/);
  if (f.length !== 5) return e;
  const rest = f.slice(2).every((x) => x === '*');
  if (f[1] === '*' && rest) {
    if (f[0] === '*') return 'Every minute';
    let m = f[0].match(/^\*\/(\d+)$/);
    if (m) return `Every ${m[1]} minutes`;
    m = f[0].match(/^(\d+)$/);
    if (m) return m[1] === '0' ? 'Hourly' : `Hourly at :${m[1].padStart(2, '0')}`;
  }
  const everyHours = f[1].match(/^\*\/(\d+)$/);
  if (rest && /^\d+$/.test(f[0]) && everyHours) {
    return `Every ${everyHours[1]} hours${f[0] === '0' ? '' : ` at :${f[0].padStart(2, '0')}`}`;
  }
  if (rest && /^\d+$/.test(f[0]) && /^\d+$/.test(f[1])) {
    return `Daily at ${f[1].padStart(2, '0')}:${f[0].padStart(2, '0')}`;
  }
  return e;
}

// ---------------------------------------------------------------------------------------------
// State

const params = new URLSearchParams(window.location.search);
let token = params.get('token') ?? storage.get(kStorageToken);
if (params.has('token')) {
  // Keep the token out of the address bar, history and screenshots.
  storage.set(kStorageToken, token);
  params.delete('token');
  const query = params.toString();
  window.history.replaceState(null, '', `${window.location.pathname}${query ? `?${query}` : ''}${window.location.hash}`);
}

const state = {
  stores: [],
  storeId: '',
  status: null,
  conn: { state: 'connecting', reason: '', attempt: 0 },
  run: emptyRun(),
  ltv: null,
  ltvState: 'loading',
  ltvVersion: 0,
  metric: 'ltv',
  runs: [],
  triggerPending: false,
  events: 0,
  // GET /api/me; role "" = not known (an older gateway): every control is offered.
  me: { loaded: false, role: '', subject: '', stores: [] },
  view: 'dashboard',
};
let socket = null;
let storesLoaded = false;  // the first store list arrived (it decides the first selection)

// `queue` is {position, waitSeconds} while the run waits in the run queue (stage "queued").
function emptyRun() {
  return { runId: '', storeId: '', stage: 'idle', progress: 0, counts: {}, messages: [], error: '',
    trigger: '', live: false, source: '', workStage: '', startedAt: null, queue: null };
}

// ---------------------------------------------------------------------------------------------
// HTTP

class ApiError extends Error {
  constructor(message, status, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

// `body` (an object) is sent as JSON.
async function api(path, { method = 'GET', body } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = { method, headers, cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), kFetchTimeoutMs);
  let res;
  try {
    res = await fetch(path, { ...init, signal: controller.signal });
  } catch (err) {
    throw new ApiError(err.name === 'AbortError' ? 'the gateway did not answer in time'
      : 'the gateway cannot be reached', 0, null);
  } finally {
    clearTimeout(timer);
  }
  let answer = null;
  try { answer = await res.json(); } catch { /* not JSON */ }
  if (!res.ok || !answer || answer.success === false) {
    const message = str(answer?.error) || `HTTP ${res.status}`;
    throw new ApiError(message, res.status, answer);
  }
  return answer;
}

const storePath = (id) => encodeURIComponent(id);

// ---------------------------------------------------------------------------------------------
// Rendering: connection, banner, status

const el = {
  dashboardView: byTestId('dashboard-view'),
  storesView: byTestId('stores-view'),
  picker: byTestId('store-picker'),
  conn: byTestId('connection-state'),
  connLabel: byTestId('connection-label'),
  connReason: byTestId('connection-reason'),
  banner: byTestId('banner'),
  syncStatus: byTestId('sync-status'),
  nextFire: byTestId('status-next-fire'),
  lastSuccess: byTestId('status-last-success'),
  schedule: byTestId('status-schedule'),
  active: byTestId('status-active-connections'),
  skipped: byTestId('status-skipped-fires'),
  lastError: byTestId('status-last-error'),
  syncButton: byTestId('sync-button'),
  feedback: byTestId('sync-feedback'),
  progressRun: byTestId('progress-run'),
  progressBar: byTestId('progress-bar'),
  progressStage: byTestId('progress-stage'),
  progressPercent: byTestId('progress-percent'),
  stageList: byTestId('stage-list'),
  counts: byTestId('progress-counts'),
  log: byTestId('progress-log'),
  announcer: byTestId('progress-announcer'),
  kpis: byTestId('ltv-kpis'),
  computedAt: byTestId('ltv-computed-at'),
  cohortTable: byTestId('cohort-table'),
  cohortCaption: byTestId('cohort-caption'),
  cohortEmpty: byTestId('cohort-empty'),
  legend: byTestId('cohort-legend'),
  runList: byTestId('run-list'),
  runEmpty: byTestId('run-empty'),
  quarantineList: byTestId('quarantine-list'),
  quarantineEmpty: byTestId('quarantine-empty'),
  quarantineSummary: byTestId('quarantine-summary'),
  output: byTestId('test-output'),
  testTrigger: byTestId('test-trigger-http'),
  info: byTestId('test-connection-info'),
  tokenInput: byTestId('token-input'),
};

function renderConnection() {
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

function renderConnInfo() {
  const set = (key, value) => { el.info.querySelector(`[data-info="${key}"]`).textContent = value; };
  set('id', socket?.connected ? socket.id : '—');
  set('transport', socket?.connected ? str(socket.io?.engine?.transport?.name) || '—' : '—');
  set('url', `${window.location.origin}/socket.io/`);
  set('auth', token ? 'Bearer token set' : 'No token (dev mode)');
  set('events', fmtInt(state.events));
}

// One page-level message at a time; `action` is an optional {label, run} button; `key` names the
// message so that hideBanner(key) removes it and nothing else.
function showBanner(kind, text, action, key = '') {
  el.banner.replaceChildren(h('span', {}, text));
  if (action) {
    const button = h('button', { type: 'button', class: 'btn btn-small btn-secondary' }, action.label);
    button.addEventListener('click', action.run);
    el.banner.append(button);
  }
  el.banner.dataset.kind = kind;
  el.banner.dataset.key = key;
  el.banner.hidden = false;
}
function hideBanner(key) {
  if (key && el.banner.dataset.key !== key) return;
  el.banner.hidden = true;
  el.banner.replaceChildren();
}

function setFeedback(kind, text) {
  el.feedback.dataset.kind = kind;
  el.feedback.textContent = text;
}

// idle | queued | syncing. The run shown decides while it is in flight (a queued run joined from a
// status is one too); otherwise syncing per the status, unless the run it names already ended here
// (a snapshot taken before the terminal event can arrive after it).
function syncMode() {
  const s = state.status;
  if (state.run.live) return state.run.stage === 'queued' ? 'queued' : 'syncing';
  if (!s?.isSyncing) return 'idle';
  const current = str(s.currentRun?.runId);
  return current && current === state.run.runId && kTerminal.has(state.run.stage) ? 'idle' : 'syncing';
}

// "3 · last 5 min ago: the data was fresh", or "None".
function renderSkips(s) {
  const count = num(s.skippedFires);
  if (count <= 0) {
    el.skipped.replaceChildren(h('span', { class: 'muted' }, 'None'));
    return;
  }
  const reason = str(s.lastSkipReason);
  const when = time(s.lastSkipTime);
  const sub = h('span', { class: 'fact-sub', dataset: { testid: 'status-last-skip' } });
  if (when) sub.append('last ', timeEl(when));
  if (reason) sub.append(`${when ? ': ' : 'last: '}${kSkipReason[reason] ?? reason}`);
  el.skipped.replaceChildren(
    h('span', { title: 'Scheduled fires skipped because the data was fresh or a run was already queued or in flight' },
      `${fmtInt(count)} scheduled ${count === 1 ? 'fire' : 'fires'}`), sub);
}

function renderStatus() {
  const s = state.status;
  const mode = syncMode();
  const syncing = mode !== 'idle';
  el.syncStatus.dataset.state = s ? mode : 'unknown';
  el.syncStatus.dataset.enabled = String(s?.enabled !== false);
  el.syncStatus.textContent = !s ? '—' : mode === 'queued' ? queuedLabel(state.run.queue) : syncing ? 'Syncing' : 'Idle';

  const setTime = (node, date, fallback) => node.replaceChildren(date ? timeEl(date) : fallback);
  if (!s) {
    for (const node of [el.nextFire, el.lastSuccess, el.schedule, el.active, el.skipped, el.lastError]) {
      node.textContent = '—';
    }
  } else {
    const next = time(s.nextFireTime);
    setTime(el.nextFire, next, s.hasCronJob === false ? (s.enabled === false ? 'Paused' : 'Not scheduled') : '—');
    setTime(el.lastSuccess, time(s.lastSuccessTime), 'Never');
    const schedule = str(s.schedule);
    const adsSchedule = str(s.adsSchedule);  // the ads schedule, when the gateway has one per data type
    const tz = str(s.timezone) || 'UTC';
    const both = adsSchedule && adsSchedule !== schedule;
    el.schedule.replaceChildren(schedule
      ? h('span', { title: `${both ? `orders ${schedule}, ads ${adsSchedule}` : schedule} (${tz})` },
        both ? `Orders: ${describeSchedule(schedule)}` : describeSchedule(schedule),
        both ? h('span', { class: 'fact-sub' }, `Ads: ${describeSchedule(adsSchedule)}`) : null,
        h('span', { class: 'fact-sub' }, tz))
      : h('span', { class: 'muted' }, 'Manual only'));
    if (s.enabled === false) el.schedule.append(h('span', { class: 'tag tag-warn' }, 'paused'));
    const watchers = num(s.activeConnections);
    el.active.textContent = `${fmtInt(watchers)} ${watchers === 1 ? 'dashboard' : 'dashboards'}`;
    renderSkips(s);
    const lastError = str(s.lastError);
    el.lastError.replaceChildren(lastError ? h('span', { class: 'error-text' }, lastError)
      : h('span', { class: 'ok-text' }, 'None'));
  }

  const busy = syncing || state.triggerPending;
  const allowed = can('trigger');
  el.syncButton.disabled = !state.storeId || busy || !allowed;
  el.syncButton.title = allowed ? '' : `Your role (${state.me.role}) can only look; starting a sync needs an operator.`;
  el.testTrigger.disabled = !allowed;
  el.syncButton.setAttribute('aria-busy', String(busy));
  el.syncButton.querySelector('.btn-label').textContent =
    state.triggerPending ? 'Starting…' : mode === 'queued' ? 'Queued…' : syncing ? 'Syncing…' : 'Sync now';
}

// ---------------------------------------------------------------------------------------------
// Rendering: live progress

function stageStates(run) {
  const states = Object.fromEntries(kStages.map((s) => [s, 'pending']));
  if (run.stage === 'completed') kStages.forEach((s) => { states[s] = 'done'; });
  else if (run.stage === 'skipped') kStages.forEach((s) => { states[s] = 'skipped'; });
  else {
    const current = run.stage === 'failed' ? run.workStage || 'starting' : run.stage;
    const index = kStages.indexOf(current);
    kStages.forEach((s, i) => {
      if (i < index) states[s] = 'done';
      else if (i === index) states[s] = run.stage === 'failed' ? 'failed' : 'active';
    });
  }
  return states;
}

function stageLabel(run) {
  return run.stage === 'queued' ? queuedLabel(run.queue) : kStageLabel[run.stage] ?? run.stage;
}

function renderProgress() {
  const { run } = state;
  const queued = run.stage === 'queued';
  const percent = Math.round(clamp(run.progress, 0, 100));
  const bar = el.progressBar;
  bar.dataset.stage = run.stage;
  bar.dataset.percent = String(percent);
  bar.dataset.runId = run.runId;
  // A queued run is in flight but nothing moves until a worker slot takes it.
  bar.dataset.live = String(run.live && !queued);
  bar.setAttribute('aria-valuenow', String(percent));
  bar.setAttribute('aria-valuetext', `${stageLabel(run)}, ${percent}%`);
  bar.style.setProperty('--percent', `${percent}%`);
  el.progressStage.textContent = stageLabel(run);
  el.progressPercent.textContent = queued ? '' : `${percent}%`;

  el.progressRun.dataset.runId = run.runId;
  if (!run.runId) el.progressRun.textContent = run.live ? 'Waiting in the run queue' : 'No run yet';
  else {
    const who = kTriggerLabel[run.trigger] ?? run.trigger;
    const prefix = run.live ? (queued ? 'Queued' : 'Running') : run.source === 'last' ? 'Last run' : 'Run';
    el.progressRun.replaceChildren(`${prefix} `, h('code', { title: run.runId }, run.runId.slice(0, 16)),
      who && who !== '—' ? ` · ${who}` : '');
  }

  const states = stageStates(run);
  const c = run.counts;
  const details = {
    starting: run.startedAt ? clockFormat.format(run.startedAt) : '',
    orders: num(c.ordersFetched) ? `${fmtInt(c.ordersFetched)} fetched` : '',
    ads: num(c.adsFetched) ? `${fmtInt(c.adsFetched)} rows` : '',
    ltv: num(c.cohortRows) ? `${fmtInt(c.cohortRows)} rows` : '',
  };
  for (const li of el.stageList.children) {
    const stage = li.dataset.stage;
    li.dataset.state = states[stage];
    li.querySelector('.stage-detail').textContent = details[stage] ?? '';
    if (states[stage] === 'active') li.setAttribute('aria-current', 'step');
    else li.removeAttribute('aria-current');
  }
  el.progressBar.closest('.progress-wrap').dataset.outcome = run.stage;

  for (const dd of el.counts.querySelectorAll('[data-count]')) {
    dd.textContent = fmtInt(c[dd.dataset.count]);
  }

  el.log.replaceChildren(...run.messages.map((m) => h('li', { dataset: { stage: m.stage }, class: m.error ? 'log-error' : '' },
    h('time', { datetime: m.time.toISOString() }, clockFormat.format(m.time)),
    h('span', { class: `log-stage stage-${m.stage}` }, m.stage),
    h('span', { class: 'log-text' }, m.text))));
  if (!run.messages.length) {
    el.log.append(h('li', { class: 'log-empty' }, 'Messages from the server appear here while a sync runs.'));
  }
}

function announce(text) {
  el.announcer.textContent = text;
}

function resetRun(runId, { live, source, trigger = '', storeId = state.storeId } = {}) {
  state.run = { ...emptyRun(), runId, live, source, trigger, storeId };
}

function addMessage(stage, text, error = false, at = new Date()) {
  if (!text) return;
  state.run.messages.unshift({ stage, text, error, time: at });
  if (state.run.messages.length > kMaxLogLines) state.run.messages.length = kMaxLogLines;
}

let lastProgressKey = '';

function onProgress(data) {
  state.events += 1;
  if (!data || typeof data !== 'object') return;
  // The same event twice (a redelivery) changes nothing; do not log it twice either.
  const key = JSON.stringify([data.storeId, data.runId, data.stage, data.progress, data.message, data.counts, data.error,
    data.queuePosition, data.estimatedWaitSeconds]);
  if (key === lastProgressKey) return;
  lastProgressKey = key;
  const storeId = str(data.storeId);
  if (storeId && storeId !== state.storeId) return;  // an event of a store we no longer show
  const runId = str(data.runId);
  const stage = str(data.stage) || state.run.stage;
  // A queued event of a run seen executing (or ended) here is late news: the run left the queue.
  const sameRun = runId && runId === state.run.runId;
  if (stage === 'queued' && sameRun && (state.run.workStage || kTerminal.has(state.run.stage))) return;
  if (runId && runId !== state.run.runId) {
    resetRun(runId, { live: true, source: 'event', trigger: str(data.trigger) });
    scheduleRunsRefresh();
  }
  const run = state.run;
  const previous = run.stage;
  run.live = !kTerminal.has(stage);
  run.trigger = str(data.trigger) || run.trigger;
  run.source = 'event';
  if (kStages.includes(stage)) run.workStage = stage;
  if (stage === 'queued') {
    run.queue = { position: num(data.queuePosition), waitSeconds: num(data.estimatedWaitSeconds) };
  } else {
    run.queue = null;
    if (stage === 'starting' || !run.startedAt) run.startedAt = time(data.time) ?? new Date();
  }
  run.stage = stage;
  run.progress = stage === 'completed' ? 100 : clamp(num(data.progress), 0, 100);
  if (data.counts && typeof data.counts === 'object') run.counts = { ...run.counts, ...data.counts };
  const error = str(data.error);
  run.error = error;
  addMessage(stage, str(data.message) || (error ? '' : stageLabel(run)), false, time(data.time) ?? new Date());
  if (error && error !== str(data.message)) addMessage(stage, error, true, time(data.time) ?? new Date());

  if (stage !== previous || stage === 'queued') {
    if (stage === 'queued') announce(`${queuedLabel(run.queue)}.`);
    else if (stage === 'completed') announce('Sync completed. Cohort table updated.');
    else if (stage === 'failed') announce(`Sync failed: ${error || str(data.message)}`);
    else if (stage === 'skipped') announce('Sync skipped: the data is fresh.');
    else announce(`${kStageLabel[stage] ?? stage}…`);
  }
  if (kTerminal.has(stage)) onRunEnded(stage);
  renderProgress();
  renderStatus();
  renderRuns();
  renderConnInfo();
}

// A run ended (seen live or caught up from a status snapshot): refresh what depends on it.
function onRunEnded(stage) {
  if (state.status) state.status = { ...state.status, isSyncing: false };
  if (stage === 'completed') loadLtv();
  loadRuns();
  loadStatus();
  loadQuarantine();
}

// ---------------------------------------------------------------------------------------------
// Status (HTTP snapshot or `syncStatus` event)

function applyStatus(status) {
  if (!status || typeof status !== 'object') return;
  const before = state.status;
  state.status = status;
  const current = status.currentRun && typeof status.currentRun === 'object' ? status.currentRun : null;
  const last = status.lastRun && typeof status.lastRun === 'object' ? status.lastRun : null;
  const queuedRun = status.queuedRun && typeof status.queuedRun === 'object' ? status.queuedRun : null;
  const run = state.run;

  const ended = current && str(current.runId) === run.runId && kTerminal.has(run.stage);
  // The queued run already started or ended here: the snapshot is older than its events.
  const queuedId = str(queuedRun?.runId);
  const leftQueue = queuedId && queuedId === run.runId && (run.workStage || kTerminal.has(run.stage));
  if (status.isSyncing && current && str(current.runId) && !ended) {
    const stage = str(current.stage) || 'starting';
    if (str(current.runId) !== run.runId) {
      // Opened or reconnected mid-run: join it from the snapshot, events take over from here.
      resetRun(str(current.runId), { live: true, source: 'status', trigger: str(current.trigger) });
      state.run.startedAt = time(current.startedAt);
      addMessage(stage, 'Joined a run in progress');
      scheduleRunsRefresh();
    }
    const r = state.run;
    if (kStages.includes(stage) && kStages.indexOf(stage) >= kStages.indexOf(r.workStage || 'starting')) {
      if (stage !== r.stage && r.source === 'status') announce(`${kStageLabel[stage]}…`);
      r.stage = stage;
      r.workStage = stage;
      r.progress = Math.max(r.progress, kStageBase[stage] ?? 0);
      if (current.counts && typeof current.counts === 'object') r.counts = { ...r.counts, ...current.counts };
    }
    r.live = true;
  } else if (!status.isSyncing && run.live && last && str(last.runId) === run.runId) {
    // The run ended while we were not listening (e.g. during a reconnect).
    finishFromRun(last);
  } else if (!status.isSyncing && status.queued && !leftQueue) {
    // Waiting in the run queue: join the queued run (or update where it stands). The status names
    // the run in `queuedRun`; without it, a queued run shown here is taken to be that run.
    if (!run.live || (queuedId ? queuedId !== run.runId : run.stage !== 'queued')) {
      resetRun(queuedId, { live: true, source: 'status', trigger: str(queuedRun?.trigger) });
      addMessage('queued', 'Waiting in the run queue for a worker slot');
      scheduleRunsRefresh();
    }
    const r = state.run;
    const before = r.stage;
    r.stage = 'queued';
    r.live = true;
    r.queue = { position: num(status.queuePosition), waitSeconds: num(status.estimatedWaitSeconds) };
    if (before !== 'queued') announce(`${queuedLabel(r.queue)}.`);
  } else if (!status.isSyncing && !status.queued && run.live && run.stage === 'queued') {
    // The queued run left the queue without starting here (cancelled, or we missed its events).
    if (last) showLastRun(last);
    else resetRun('', { live: false, source: '' });
    scheduleRunsRefresh();
  } else if (!status.isSyncing && !run.runId && last && str(last.runId)) {
    showLastRun(last);
  }
  // A newer success than the cohorts we show means they changed (a completion we missed).
  const successAfter = time(status.lastSuccessTime);
  const successBefore = time(before?.lastSuccessTime);
  if (successAfter && before && (!successBefore || successAfter > successBefore)) {
    loadLtv();
    scheduleRunsRefresh();
  } else if (before && (Boolean(before.isSyncing) !== Boolean(status.isSyncing)
                        || Boolean(before.queued) !== Boolean(status.queued))) {
    scheduleRunsRefresh();
  }
  renderProgress();
  renderStatus();
}

function runOutcome(run) {
  const status = str(run.status);
  const stage = str(run.stage);
  if (kEnded.has(status)) return status;
  if (kTerminal.has(stage)) return stage;
  return 'completed';
}

function finishFromRun(last) {
  const outcome = runOutcome(last);
  const run = state.run;
  run.live = false;
  run.stage = outcome;
  if (outcome === 'completed') run.progress = 100;
  if (last.counts && typeof last.counts === 'object') run.counts = { ...run.counts, ...last.counts };
  run.error = str(last.error);
  if (outcome === 'failed' && kStages.includes(str(last.stage))) run.workStage = str(last.stage);
  addMessage(outcome, outcome === 'completed' ? 'Run completed' : run.error || `Run ${outcome}`, outcome === 'failed');
  onRunEnded(outcome);
}

function showLastRun(last) {
  resetRun(str(last.runId), { live: false, source: 'last', trigger: str(last.trigger) });
  const run = state.run;
  const outcome = runOutcome(last);
  run.stage = outcome;
  run.workStage = kStages.includes(str(last.stage)) ? str(last.stage) : '';
  run.progress = outcome === 'completed' ? 100 : kStageBase[run.workStage] ?? 0;
  run.counts = last.counts && typeof last.counts === 'object' ? { ...last.counts } : {};
  run.error = str(last.error);
  run.startedAt = time(last.startedAt);
  const finished = time(last.finishedAt);
  if (run.error) addMessage(outcome, run.error, true, finished ?? new Date());
  else addMessage(outcome, `Last run ${outcome}`, false, finished ?? new Date());
}

// ---------------------------------------------------------------------------------------------
// LTV cohort heatmap

function cohortRows(ltv) {
  const cohorts = Array.isArray(ltv?.cohorts) ? ltv.cohorts.filter((c) => c && typeof c === 'object') : [];
  return cohorts
    .map((c) => {
      const cells = (Array.isArray(c.cells) ? c.cells : [])
        .filter((cell) => cell && typeof cell === 'object')
        .map((cell) => ({
          offset: Math.max(0, Math.trunc(num(cell.monthOffset))),
          active: num(cell.activeCustomers),
          orders: num(cell.orders),
          net: num(cell.netRevenue),
          ltv: num(cell.cumulativeRevenuePerCustomer),
          retention: clamp(num(cell.retention), 0, 1),
          ltvToCac: num(cell.ltvToCac),
        }))
        .sort((a, b) => a.offset - b.offset);
      // cacNote: why CAC is unknown although the month has ad spend (a missing exchange rate).
      return { month: str(c.cohortMonth), customers: num(c.customers), adSpend: num(c.adSpend),
        cac: num(c.cac), cacNote: str(c.cacNote), cells };
    })
    .sort((a, b) => a.month.localeCompare(b.month));
}

function monthLabel(month) {
  const m = /^(\d{4})-(\d{2})$/.exec(month);
  if (!m) return month || '—';
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, 1));
  return d.toLocaleDateString(undefined, { month: 'short', year: 'numeric', timeZone: 'UTC' });
}

function ratioClass(r) {
  if (!(r > 0)) return 'ratio-none';
  if (r < 1) return 'ratio-bad';
  if (r < 3) return 'ratio-mid';
  return 'ratio-good';
}

function renderKpis(rows, currency) {
  el.kpis.replaceChildren();
  if (!rows.length) return;
  const customers = rows.reduce((n, r) => n + r.customers, 0);
  // Months whose spend could not be converted into the shop currency stay out of blended CAC.
  const priced = rows.filter((r) => !r.cacNote);
  const pricedCustomers = priced.reduce((n, r) => n + r.customers, 0);
  const spend = priced.reduce((n, r) => n + r.adSpend, 0);
  const unpriced = rows.length - priced.length;
  let m1Active = 0;
  let m1Base = 0;
  for (const r of rows) {
    const m1 = r.cells.find((c) => c.offset === 1);
    if (m1) { m1Active += m1.active; m1Base += r.customers; }
  }
  let best = null;
  for (const r of rows) {
    const last = r.cells[r.cells.length - 1];
    if (last && last.ltvToCac > 0 && (!best || last.ltvToCac > best.ratio)) best = { ratio: last.ltvToCac, month: r.month };
  }
  const oldest = rows[0];
  const oldestLast = oldest.cells[oldest.cells.length - 1];
  const kpi = (label, value, note) => h('div', { class: 'kpi' },
    h('span', { class: 'kpi-label' }, label), h('span', { class: 'kpi-value' }, value),
    note ? h('span', { class: 'kpi-note' }, note) : null);
  el.kpis.append(
    kpi('New customers', fmtInt(customers), `${rows.length} cohorts`),
    kpi('Blended CAC', pricedCustomers && spend ? money(spend / pricedCustomers, currency) : '—',
      (spend ? `${money(spend, currency, 0)} ad spend` : 'no ad spend')
        + (unpriced ? ` · ${unpriced} month${unpriced > 1 ? 's' : ''} without an exchange rate left out` : '')),
    kpi('Month-1 retention', m1Base ? percentFormat1.format(m1Active / m1Base) : '—', 'weighted by cohort size'),
    kpi('Oldest cohort LTV', oldestLast ? money(oldestLast.ltv, currency) : '—', oldestLast ? `${monthLabel(oldest.month)}, after ${oldestLast.offset} mo` : ''),
    kpi('Best LTV:CAC', best ? `${ratioFormat.format(best.ratio)}×` : '—', best ? monthLabel(best.month) : 'CAC unknown'),
  );
}

function renderLtv() {
  const table = el.cohortTable;
  const thead = table.tHead;
  const tbody = table.tBodies[0];
  table.dataset.state = state.ltvState;
  table.dataset.metric = state.metric;
  table.dataset.version = String(state.ltvVersion);
  table.dataset.computedAt = str(state.ltv?.computedAt);
  const currency = str(state.ltv?.currency) || 'USD';
  const rows = state.ltvState === 'ready' || state.ltvState === 'empty' ? cohortRows(state.ltv) : [];
  const computed = time(state.ltv?.computedAt);
  el.computedAt.replaceChildren(
    state.ltvState === 'loading' ? 'Loading cohorts…'
      : state.ltvState === 'error' ? h('span', { class: 'error-text' }, `Could not load cohorts: ${state.ltvError}`)
        : computed ? h('span', {}, 'Computed ', timeEl(computed), ` · ${currency} · net of refunds · cohort = month of first order`)
          : `${currency} · not computed yet`);
  renderKpis(rows, currency);

  if (!rows.length) {
    thead.replaceChildren();
    tbody.replaceChildren();
    el.cohortEmpty.hidden = state.ltvState !== 'empty';
    el.cohortEmpty.textContent = 'No cohorts yet. They appear here the moment the first sync of this store completes.';
    el.legend.hidden = true;
    return;
  }
  el.cohortEmpty.hidden = true;
  el.legend.hidden = false;

  const maxOffset = rows.reduce((m, r) => Math.max(m, ...r.cells.map((c) => c.offset)), 0);
  table.classList.toggle('dense', maxOffset >= 15);  // two years of months still fit a laptop screen
  const metric = state.metric;
  const valueOf = (cell) => (metric === 'retention' ? cell.retention : cell.ltv);
  // Scale: LTV against the largest value; retention against the largest after month 0 (month 0
  // is 100% by definition and would wash out the rest).
  let max = 0;
  for (const r of rows) {
    for (const c of r.cells) {
      if (metric === 'retention' && c.offset === 0) continue;
      max = Math.max(max, valueOf(c));
    }
  }
  const format = (v) => (metric === 'retention' ? percentFormat.format(v) : money(v, currency, 0));
  el.legend.querySelector('.legend-min').textContent = format(0);
  el.legend.querySelector('.legend-max').textContent = format(max);
  el.cohortCaption.textContent = metric === 'retention'
    ? 'Share of each cohort that ordered again, by months since first order'
    : 'Cumulative net revenue per customer, by cohort and months since first order';

  const headRow = h('tr', {},
    h('th', { scope: 'col', class: 'sticky-col' }, 'Cohort'),
    h('th', { scope: 'col', class: 'num' }, 'Customers'),
    h('th', { scope: 'col', class: 'num' }, 'CAC'),
    h('th', { scope: 'col', class: 'num', title: 'Latest cumulative revenue per customer divided by CAC' }, 'LTV:CAC'),
    Array.from({ length: maxOffset + 1 }, (_, k) => h('th', { scope: 'col', class: 'num month-col', title: `${k} months after the first order` }, `M${k}`)));
  thead.replaceChildren(headRow);

  const body = rows.map((r) => {
    const byOffset = new Map(r.cells.map((c) => [c.offset, c]));
    const last = r.cells[r.cells.length - 1];
    const ratio = last ? last.ltvToCac : 0;
    const cells = [];
    for (let k = 0; k <= maxOffset; ++k) {
      const c = byOffset.get(k);
      if (!c) {
        cells.push(h('td', { class: 'heat heat-void', 'aria-label': 'no data yet' }));
        continue;
      }
      const v = valueOf(c);
      const t = max > 0 ? clamp(v / max, 0, 1) : 0;
      const detail = `${monthLabel(r.month)} cohort, month ${k}: ${money(c.ltv, currency)} per customer · `
        + `${percentFormat1.format(c.retention)} active (${fmtInt(c.active)} of ${fmtInt(r.customers)}) · `
        + `${fmtInt(c.orders)} orders · ${money(c.net, currency, 0)} net revenue`
        + (c.ltvToCac > 0 ? ` · LTV:CAC ${ratioFormat.format(c.ltvToCac)}` : '');
      cells.push(h('td', {
        class: `heat num${t > 0.55 ? ' heat-dark' : ''}`,
        style: `--heat: ${Math.round(8 + t * 92)}%`,
        title: detail,
        dataset: { testid: 'cohort-cell', cohort: r.month, offset: String(k), value: String(v) },
      }, format(v)));
    }
    return h('tr', { dataset: { testid: 'cohort-row', cohort: r.month } },
      h('th', { scope: 'row', class: 'sticky-col' }, monthLabel(r.month)),
      h('td', { class: 'num' }, fmtInt(r.customers)),
      r.cacNote
        ? h('td', { class: 'num cac-unknown', title: r.cacNote, 'aria-label': `CAC unknown: ${r.cacNote}`,
          dataset: { testid: 'cac-note' } }, '—')
        : h('td', { class: 'num' }, r.cac > 0 ? money(r.cac, currency) : '—'),
      h('td', { class: 'num', title: r.cacNote || null }, h('span', { class: `ratio ${ratioClass(ratio)}` }, ratio > 0 ? `${ratioFormat.format(ratio)}×` : '—')),
      cells);
  });
  tbody.replaceChildren(...body);
}

// ---------------------------------------------------------------------------------------------
// Run history

const kRunStatusLabel = { queued: 'Queued', running: 'Running', completed: 'Completed', failed: 'Failed',
  skipped: 'Skipped', cancelled: 'Cancelled' };

// What a run syncs when it is not the usual everything: a full re-sync, a backfill, one data type.
function runKindTag(run) {
  const types = Array.isArray(run.dataTypes) ? run.dataTypes.map(str).filter(Boolean) : [];
  let text = '';
  if (str(run.backfillFrom)) text = `backfill ${str(run.backfillFrom)} – ${str(run.backfillTo)}`;
  else if (run.force === true) text = 'full re-sync';
  else if (types.length === 1) text = `${types[0]} only`;
  return text ? h('span', { class: 'tag tag-info', dataset: { testid: 'run-kind' } }, text) : null;
}

// "with warnings": the run kept records out of the figures (they broke a data rule).
function runWarningsTag(c) {
  const orders = Math.trunc(num(c.ordersQuarantined));
  const ads = Math.trunc(num(c.adsQuarantined));
  if (orders + ads <= 0) return null;
  return h('span', { class: 'tag tag-warn', dataset: { testid: 'run-warnings', orders: String(orders), ads: String(ads) },
    title: `${fmtInt(orders)} orders and ${fmtInt(ads)} ad rows broke a data rule: kept out, see "Data kept out"` },
  'with warnings');
}

function renderQuarantine(body) {
  const records = (Array.isArray(body.records) ? body.records : []).filter((r) => r && typeof r === 'object');
  const total = Math.trunc(num(body.total));
  const tbody = el.quarantineList.tBodies[0];
  el.quarantineList.dataset.count = String(records.length);
  el.quarantineList.dataset.total = String(total);
  el.quarantineEmpty.hidden = records.length > 0;
  el.quarantineEmpty.textContent = 'Nothing kept out.';
  const byRule = body.byRule && typeof body.byRule === 'object' ? Object.entries(body.byRule) : [];
  el.quarantineSummary.textContent = total > 0
    ? `${fmtInt(total)} records kept out of the figures: ${byRule.map(([rule, n]) => `${rule} ${fmtInt(num(n))}`).join(', ')}.`
      + (total > records.length ? ` Showing the ${fmtInt(records.length)} seen last.` : '')
    : 'Records that broke a data rule are kept here, not in the figures, until the store sends them again valid.';
  tbody.replaceChildren(...records.map((r) => {
    const kind = str(r.kind);
    const seen = time(r.lastSeen);
    const raw = h('details', { class: 'raw', dataset: { testid: 'quarantine-raw' } },
      h('summary', {}, r.rawTruncated === true ? 'Raw JSON (cut at 16 KiB)' : 'Raw JSON'),
      h('pre', {}, str(r.raw)));
    return h('tr', { dataset: { testid: 'quarantine-item', kind, key: str(r.recordKey), rule: str(r.rule) } },
      h('td', {}, h('span', { class: 'tag tag-info' }, kind === 'ad' ? 'ad row' : 'order'), ' ', h('code', {}, str(r.recordKey))),
      h('td', {}, h('code', {}, str(r.rule))),
      h('td', {}, str(r.detail), h('span', { class: 'fact-sub' }, str(r.source)), raw),
      h('td', {}, seen ? timeEl(seen) : '—'),
      h('td', { class: 'num' }, fmtInt(num(r.timesSeen))));
  }));
}

async function loadQuarantine() {
  const storeId = state.storeId;
  if (!storeId) return;
  try {
    const body = await api(`/api/stores/${storePath(storeId)}/quarantine?pageSize=50`);
    if (storeId !== state.storeId) return;
    renderQuarantine(body);
  } catch (err) {
    if (storeId !== state.storeId) return;
    el.quarantineEmpty.hidden = false;
    el.quarantineEmpty.textContent = `Could not load the quarantine: ${err.message}`;
  }
}

function renderRuns() {
  const tbody = el.runList.tBodies[0];
  el.runList.dataset.count = String(state.runs.length);
  el.runEmpty.hidden = state.runs.length > 0;
  tbody.replaceChildren(...state.runs.map((run) => {
    const status = str(run.status) || 'running';
    const started = time(run.startedAt);  // unset while queued
    const queuedAt = time(run.queuedAt);
    const finished = time(run.finishedAt);
    const attempt = Math.trunc(num(run.attempt));
    // The run shown live is fresher here than in the last fetched list.
    const live = state.run.live && str(run.runId) === state.run.runId;
    const c = live ? state.run.counts : run.counts && typeof run.counts === 'object' ? run.counts : {};
    const error = str(run.error);
    const row = h('tr', { class: error ? 'has-error' : '', dataset: { testid: 'run-item', runId: str(run.runId), status, attempt: String(attempt || 1) } },
      h('td', {}, h('span', { class: `badge badge-${status}` }, kRunStatusLabel[status] ?? status),
        attempt > 1 ? h('span', { class: 'tag tag-warn', title: `Retry: attempt ${attempt}` }, `attempt ${attempt}`) : null),
      h('td', {}, kTriggerLabel[str(run.trigger)] ?? str(run.trigger), runKindTag(run), runWarningsTag(c)),
      h('td', {}, started ? timeEl(started)
        : queuedAt ? h('span', { class: 'muted', title: 'Not started yet' }, 'queued ', timeEl(queuedAt)) : '—'),
      h('td', {}, started && finished ? duration(finished - started)
        : status === 'running' ? 'running…' : status === 'queued' ? 'waiting…' : '—'),
      h('td', { class: 'num', title: `${fmtInt(c.ordersFetched)} fetched, ${fmtInt(c.ordersWritten)} written` }, fmtInt(c.ordersWritten)),
      h('td', { class: 'num' }, fmtInt(c.adsWritten)),
      h('td', { class: 'num' }, fmtInt(c.cohortRows)));
    if (!error) return [row];
    return [row, h('tr', { class: 'run-error-row', dataset: { testid: 'run-error', runId: str(run.runId) } },
      h('td', { colspan: '7', title: error }, error))];
  }).flat());
}

// ---------------------------------------------------------------------------------------------
// Loading

async function loadStatus() {
  const storeId = state.storeId;
  if (!storeId) return;
  try {
    const body = await api(`/api/sync/status/${storePath(storeId)}`);
    noteStoreStatus(storeId, body.status);
    if (storeId === state.storeId) applyStatus(body.status ?? {});
  } catch (err) {
    if (storeId === state.storeId) setFeedback('error', `Status: ${err.message}`);
  }
}

async function loadRuns() {
  const storeId = state.storeId;
  if (!storeId) return;
  try {
    const body = await api(`/api/stores/${storePath(storeId)}/runs?pageSize=${kRunsPageSize}`);
    if (storeId !== state.storeId) return;
    state.runs = (Array.isArray(body.runs) ? body.runs : []).filter((r) => r && typeof r === 'object').slice(0, kRunsPageSize);
    el.runEmpty.textContent = 'No runs yet.';
    renderRuns();
  } catch (err) {
    if (storeId !== state.storeId) return;
    el.runEmpty.hidden = false;
    el.runEmpty.textContent = `Could not load runs: ${err.message}`;
  }
}

let runsTimer = 0;
function scheduleRunsRefresh() {
  clearTimeout(runsTimer);
  runsTimer = setTimeout(() => { loadRuns(); loadQuarantine(); }, 150);
}

let ltvSeq = 0;
async function loadLtv() {
  const storeId = state.storeId;
  if (!storeId) return;
  const seq = ++ltvSeq;
  try {
    const body = await api(`/api/stores/${storePath(storeId)}/ltv`);
    if (seq !== ltvSeq || storeId !== state.storeId) return;
    state.ltv = body;
    state.ltvVersion += 1;
    state.ltvState = cohortRows(body).length ? 'ready' : 'empty';
  } catch (err) {
    if (seq !== ltvSeq || storeId !== state.storeId) return;
    state.ltvState = 'error';
    state.ltvError = err.message;
  }
  renderLtv();
}

function loadStoreData() {
  loadStatus();
  loadRuns();
  loadLtv();
  loadQuarantine();
}

// Every registered store, following nextPageToken (bounded).
async function fetchAllStores() {
  const stores = [];
  let pageToken = '';
  for (let page = 0; page < 50; ++page) {
    const query = new URLSearchParams({ pageSize: '1000' });
    if (pageToken) query.set('pageToken', pageToken);
    const body = await api(`/api/stores?${query}`);
    stores.push(...(Array.isArray(body.stores) ? body.stores : [])
      .filter((s) => s && typeof s === 'object' && str(s.storeId)));
    pageToken = str(body.nextPageToken);
    if (!pageToken) break;
  }
  return stores;
}

let storesRetryMs = 1000;
async function loadStores() {
  try {
    state.stores = await fetchAllStores();
    storesRetryMs = 1000;
    storesLoaded = true;
    hideBanner();
    renderPicker();
    renderStoresView();
  } catch (err) {
    if (err.status === 401 || err.status === 403) {
      showBanner('error', `The gateway refused the request (${err.message}). Paste an access token in the test panel, or open this page with ?token=…`,
        { label: 'Enter token', run: () => el.tokenInput.focus() });
      el.picker.replaceChildren(h('option', { value: '' }, 'Token required'));
      return;
    }
    showBanner('error', `Could not load stores: ${err.message}. Retrying in ${Math.round(storesRetryMs / 1000)} s…`,
      { label: 'Retry now', run: () => { clearTimeout(storesTimer); loadStores(); } });
    storesTimer = setTimeout(loadStores, storesRetryMs);
    storesRetryMs = Math.min(storesRetryMs * 2, 30000);
  }
}
let storesTimer = 0;

const storeLabel = (s) => {
  const id = str(s?.storeId);
  const name = str(s?.displayName);
  return name && name !== id ? `${name} (${id})` : id;
};

// The picker without stores: says so, and points at the Stores tab.
function renderNoStores() {
  el.picker.replaceChildren(h('option', { value: '' }, 'No stores registered'));
  el.picker.disabled = true;
  showBanner('info', 'No stores are registered yet. Add one on the Stores tab.',
    { label: 'Manage stores', run: () => setView('stores') }, 'no-stores');
}

function renderPickerOptions() {
  el.picker.replaceChildren(...state.stores.map((s) => h('option', { value: str(s.storeId) }, storeLabel(s))));
  el.picker.disabled = false;
}

function renderPicker() {
  const picker = el.picker;
  if (!state.stores.length) {
    renderNoStores();
    return;
  }
  renderPickerOptions();
  const wanted = params.get('store') || state.storeId || storage.get(kStorageStore);
  const known = state.stores.some((s) => s.storeId === wanted);
  if (wanted && !known && params.get('store')) {
    showBanner('info', `Store "${wanted}" is not in the list; showing ${state.stores[0].storeId}.`);
  }
  selectStore(known ? wanted : str(state.stores[0].storeId));
}

// The store list changed (added, edited, deleted on the Stores tab): the picker follows, and keeps
// the store shown unless it is gone.
function updatePicker() {
  if (!storesLoaded) return;  // the first load decides the first selection
  if (!state.stores.length) {
    if (state.storeId) clearSelection();
    renderNoStores();
    return;
  }
  hideBanner('no-stores');
  renderPickerOptions();
  const current = state.stores.find((s) => s.storeId === state.storeId);
  if (current) {
    el.picker.value = state.storeId;
    document.title = `${str(current.displayName) || state.storeId} · Autosync`;
  } else {
    selectStore(str(state.stores[0].storeId));
  }
}

// No store to show (the last one was deleted).
function clearSelection() {
  state.storeId = '';
  state.status = null;
  state.run = emptyRun();
  state.runs = [];
  state.ltv = null;
  state.ltvState = 'empty';
  state.triggerPending = false;
  storage.set(kStorageStore, '');
  params.delete('store');
  const query = params.toString();
  window.history.replaceState(null, '', `${window.location.pathname}${query ? `?${query}` : ''}${window.location.hash}`);
  document.title = 'Autosync · Customer LTV';
  setFeedback('info', '');
  renderStatus();
  renderProgress();
  renderRuns();
  renderLtv();
}

function selectStore(storeId) {
  const changed = storeId !== state.storeId;
  state.storeId = storeId;
  el.picker.value = storeId;
  storage.set(kStorageStore, storeId);
  if (params.get('store') !== storeId) {
    params.set('store', storeId);
    window.history.replaceState(null, '', `${window.location.pathname}?${params}${window.location.hash}`);
  }
  const store = state.stores.find((s) => s.storeId === storeId);
  document.title = `${str(store?.displayName) || storeId} · Autosync`;
  if (changed) {
    state.status = null;
    state.run = emptyRun();
    state.runs = [];
    state.ltv = null;
    state.ltvState = 'loading';
    state.triggerPending = false;
    setFeedback('info', '');
    renderStatus();
    renderProgress();
    renderRuns();
    renderLtv();
  }
  if (socket?.connected) socket.emit('selectStore', storeId);
  loadStoreData();
}

// ---------------------------------------------------------------------------------------------
// Triggers

function onTriggerResult(res) {
  state.triggerPending = false;
  if (!res || typeof res !== 'object') {
    setFeedback('error', 'The gateway answered the trigger with nothing.');
    renderStatus();
    return;
  }
  const storeId = str(res.storeId) || state.storeId;
  if (storeId !== state.storeId) return;
  const runId = str(res.runId);
  if (res.success && res.started !== false) {
    setFeedback('ok', str(res.message) || 'Sync started.');
    if (runId && runId !== state.run.runId) {
      // The scheduler queues the run; STARTING follows when a worker slot takes it.
      resetRun(runId, { live: true, source: 'trigger', trigger: 'manual' });
      state.run.stage = 'queued';
      addMessage('queued', 'Sync requested');
    }
  } else if (res.started === false && runId) {
    setFeedback('info', syncMode() === 'queued' ? 'A sync is already queued for this store; showing it.'
      : 'A sync is already running for this store; showing it.');
    if (runId !== state.run.runId) {
      resetRun(runId, { live: true, source: 'trigger' });
      state.run.stage = 'starting';
    }
  } else {
    setFeedback('error', `Could not start a sync: ${str(res.error) || str(res.message) || 'unknown error'}`);
  }
  renderProgress();
  renderStatus();
}

async function triggerOverHttp() {
  const storeId = state.storeId;
  try {
    const body = await api(`/api/test/trigger-sync/${storePath(storeId)}`, { method: 'POST' });
    showOutput(body);
    onTriggerResult({ ...body, storeId });
  } catch (err) {
    showOutput(err.body ?? { success: false, error: err.message });
    onTriggerResult({ success: false, storeId, error: err.message, runId: err.body?.runId, started: err.body?.started });
  }
}

function syncNow() {
  if (!state.storeId || state.triggerPending) return;
  state.triggerPending = true;
  setFeedback('info', 'Requesting a sync…');
  renderStatus();
  if (socket?.connected) {
    const storeId = state.storeId;
    socket.timeout(kAckTimeoutMs).emit('triggerManualSync', storeId, (err, res) => {
      if (storeId !== state.storeId) return;
      if (err) {
        state.triggerPending = false;
        setFeedback('error', 'The gateway did not confirm the trigger in time; progress will show here if the sync started.');
        renderStatus();
        return;
      }
      onTriggerResult({ storeId, ...res });
    });
  } else {
    triggerOverHttp();  // the socket is down: HTTP still works
  }
}

// ---------------------------------------------------------------------------------------------
// Roles (GET /api/me)

const kRoleRank = { viewer: 0, operator: 1, admin: 2 };
// The role each action needs (docs/STORES-HTTP.md, "Roles").
const kNeeds = {
  trigger: 'operator', pause: 'operator', resume: 'operator', resync: 'operator',
  create: 'admin', edit: 'admin', delete: 'admin', backfill: 'admin',
};
const kRoleSummary = {
  viewer: 'read only',
  operator: 'you can sync, pause, resume and re-sync stores',
  admin: 'you can also add, edit, backfill and delete stores',
};

// Whether the caller's role allows `action`; true while the role is not known (the gateway decides).
function can(action) {
  const rank = kRoleRank[state.me.role];
  if (rank === undefined) return true;
  return rank >= kRoleRank[kNeeds[action] ?? 'viewer'];
}

async function loadMe() {
  try {
    const body = await api('/api/me');
    state.me = { loaded: true, role: str(body.role), subject: str(body.subject),
      stores: Array.isArray(body.stores) ? body.stores.map(str).filter(Boolean) : [] };
  } catch {
    state.me = { loaded: true, role: '', subject: '', stores: [] };  // e.g. a gateway without /api/me
  }
  renderStatus();
  renderStoresView();
}

// ---------------------------------------------------------------------------------------------
// Views (tabs): the dashboard of one store, and store management (#stores)

function viewFromHash() {
  return window.location.hash === '#stores' ? 'stores' : 'dashboard';
}

function setView(view) {
  state.view = view;
  for (const tab of document.querySelectorAll('[role="tab"][data-view]')) {
    const on = tab.dataset.view === view;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
  }
  el.dashboardView.hidden = view !== 'dashboard';
  el.storesView.hidden = view !== 'stores';
  const hash = view === 'stores' ? '#stores' : '';
  if (window.location.hash !== hash) {
    window.history.replaceState(null, '', `${window.location.pathname}${window.location.search}${hash}`);
  }
  if (view === 'stores') openStoresView();
  else clearInterval(sv.timer);
}

// ---------------------------------------------------------------------------------------------
// Store management: the list

const sv = {
  built: false,
  el: {},
  statuses: new Map(),  // storeId -> {status} | {error}
  rows: new Map(),      // storeId -> the row's DOM and UI state (storeRow)
  listState: 'loading',
  listError: '',
  listSeq: 0,
  refreshing: false,
  timer: 0,
  form: null,
};

const storeSchedules = (s) => ({
  orders: str(s?.schedules?.orders) || str(s?.schedule),
  ads: str(s?.schedules?.ads) || str(s?.adsSchedule),
});
// stalenessSeconds is {orders, ads}; an older store JSON had one number for both.
function stalenessOf(s, type) {
  const v = s?.stalenessSeconds;
  return num(v && typeof v === 'object' ? v[type] : v);
}

function openStoresView() {
  if (!sv.built) buildStoresView();
  renderStoresView();
  refreshStoresView();
  clearInterval(sv.timer);
  sv.timer = setInterval(() => {
    if (!document.hidden) refreshStoresView();
  }, kStoresRefreshMs);
}

function buildStoresView() {
  const e = sv.el;
  el.storesView.setAttribute('aria-labelledby', 'tab-stores');
  e.roleBadge = h('p', { class: 'muted small', dataset: { testid: 'role-badge', role: '' } });
  e.refresh = h('button', { type: 'button', class: 'btn btn-ghost btn-small', dataset: { testid: 'stores-refresh' } }, 'Refresh');
  e.add = h('button', { type: 'button', class: 'btn btn-primary btn-small', dataset: { testid: 'store-add' }, hidden: true }, 'Add store');
  e.feedback = h('p', { class: 'action-note', role: 'status', dataset: { testid: 'stores-feedback' } });
  e.table = h('table', { class: 'stores', dataset: { testid: 'store-list', state: 'loading', count: '0' } },
    h('caption', { class: 'visually-hidden' }, 'Registered stores: state, schedule and next fire per data type, last success'),
    h('thead', {}, h('tr', {}, ['Store', 'State', 'Orders schedule', 'Ads schedule', 'Time zone', 'Last success', 'Actions']
      .map((t) => h('th', { scope: 'col' }, t)))));
  e.empty = h('p', { class: 'empty', dataset: { testid: 'store-list-empty' }, hidden: true });
  e.formCard = h('section', { class: 'card card-store-form', 'aria-labelledby': 'store-form-title', dataset: { testid: 'store-form-card' }, hidden: true });
  const list = h('section', { class: 'card card-stores', 'aria-labelledby': 'stores-title' },
    h('div', { class: 'card-head' },
      h('div', {}, h('h2', { id: 'stores-title' }, 'Stores'), e.roleBadge),
      h('div', { class: 'head-actions' }, e.refresh, e.add)),
    e.feedback,
    h('div', { class: 'table-scroll' }, e.table),
    e.empty);
  el.storesView.replaceChildren(e.formCard, list);
  e.refresh.addEventListener('click', () => refreshStoresView());
  e.add.addEventListener('click', () => openStoreForm('create'));
  sv.built = true;
}

function setStoresFeedback(kind, text, runId = '') {
  if (!sv.built) return;
  const f = sv.el.feedback;
  f.dataset.kind = kind;
  f.dataset.runId = runId;
  f.textContent = text;
}

// The list and every listed store's status (kStatusConcurrency at a time).
async function refreshStoresView() {
  if (sv.refreshing) return;
  sv.refreshing = true;
  const seq = ++sv.listSeq;
  try {
    const stores = await fetchAllStores();
    if (seq === sv.listSeq) {
      state.stores = stores;
      sv.listState = 'ready';
      sv.listError = '';
      updatePicker();
    }
  } catch (err) {
    if (seq === sv.listSeq) {
      sv.listState = 'error';
      sv.listError = err.message;
    }
  }
  renderStoresView();
  try {
    await loadStoreStatuses(state.stores.map((s) => str(s.storeId)));
  } finally {
    sv.refreshing = false;
  }
}

async function loadStoreStatuses(ids) {
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++];
      try {
        const body = await api(`/api/sync/status/${storePath(id)}`);
        noteStoreStatus(id, body.status);
      } catch (err) {
        sv.statuses.set(id, { error: err.message });
        renderStoreRow(id);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(kStatusConcurrency, ids.length) }, worker));
}

// A status of `storeId` arrived (the list's fetch, the dashboard's, or a syncStatus event).
function noteStoreStatus(storeId, status) {
  if (!storeId || !status || typeof status !== 'object') return;
  sv.statuses.set(storeId, { status });
  renderStoreRow(storeId);
}

// A store as the gateway answered it (create, edit, pause, resume, 409): the list follows.
function upsertStoreLocal(store) {
  if (!store || typeof store !== 'object' || !str(store.storeId)) return;
  const i = state.stores.findIndex((s) => s.storeId === store.storeId);
  if (i >= 0) state.stores[i] = store;
  else state.stores.push(store);
  updatePicker();
  renderStoresView();
}

function removeStoreLocal(storeId) {
  state.stores = state.stores.filter((s) => s.storeId !== storeId);
  sv.statuses.delete(storeId);
  updatePicker();
  renderStoresView();
}

function renderStoresView() {
  if (!sv.built) return;
  const e = sv.el;
  const { role, loaded } = state.me;
  e.roleBadge.dataset.role = role;
  e.roleBadge.textContent = !loaded ? 'Checking what you may do…'
    : role ? `Your role: ${role} (${kRoleSummary[role] ?? 'as the gateway decides'})`
      : 'Your role is not known: every action is offered and the gateway decides.';
  e.add.hidden = !(loaded && can('create'));
  e.table.dataset.state = sv.listState;
  e.table.dataset.count = String(state.stores.length);

  const seen = new Set();
  let previous = e.table.tHead;
  for (const store of state.stores) {
    const id = str(store.storeId);
    seen.add(id);
    const row = storeRow(id);
    row.store = store;
    updateStoreRow(row);
    if (previous.nextSibling !== row.tbody) previous.after(row.tbody);
    previous = row.tbody;
  }
  for (const [id, row] of sv.rows) {
    if (!seen.has(id)) {
      row.tbody.remove();
      sv.rows.delete(id);
    }
  }
  const empty = sv.listState === 'error' || (sv.listState === 'ready' && !state.stores.length);
  e.empty.hidden = !empty;
  e.empty.textContent = sv.listState === 'error' ? `Could not load the stores: ${sv.listError}`
    : loaded && can('create') ? 'No stores yet. "Add store" registers the first one.' : 'No stores yet.';
}

function renderStoreRow(storeId) {
  const row = sv.rows.get(storeId);
  if (row) updateStoreRow(row);
}

// One <tbody> per store: its main row, and a second row for the open panel and the last answer.
function storeRow(id) {
  let row = sv.rows.get(id);
  if (row) return row;
  const main = h('tr', { class: 'store-main' });
  const panelBox = h('div', { class: 'store-panel-box' });
  const feedback = h('p', { class: 'action-note store-feedback', role: 'status', dataset: { testid: 'store-feedback' } });
  const extra = h('tr', { class: 'store-extra', hidden: true }, h('td', { colspan: '7' }, panelBox, feedback));
  row = {
    id, store: null, key: '', main, extra, panelBox, feedback,
    tbody: h('tbody', { class: 'store-group', dataset: { testid: 'store-row', storeId: id } }, main, extra),
    panel: '', panelEl: null, pending: '', answer: null,
  };
  sv.rows.set(id, row);
  return row;
}

function storeSyncState(entry) {
  if (!entry?.status) return 'unknown';
  if (entry.status.isSyncing) return 'syncing';
  if (entry.status.queued) return 'queued';
  return 'idle';
}

// The next fire of one data type: {state, date}. A gateway without per-type times has one
// nextFireTime, taken for orders.
function nextFireOf(store, entry, type) {
  if (store.enabled === false) return { state: 'paused', date: null };
  const s = entry?.status;
  if (!s) return { state: 'unknown', date: null };
  const perType = 'nextOrdersFireTime' in s || 'nextAdsFireTime' in s || 'adsSchedule' in s;
  const value = type === 'orders' ? (perType ? s.nextOrdersFireTime : s.nextFireTime) : s.nextAdsFireTime;
  const date = time(value);
  return { state: date ? 'scheduled' : 'none', date };
}

function updateStoreRow(row) {
  const { store } = row;
  if (!store) return;
  const id = row.id;
  const entry = sv.statuses.get(id);
  const enabled = store.enabled !== false;
  const sync = storeSyncState(entry);
  Object.assign(row.tbody.dataset, { enabled: String(enabled), version: String(num(store.version)), sync });
  const key = JSON.stringify([store, entry, state.me, row.pending, row.panel]);
  if (key !== row.key) {
    row.key = key;
    // Keep the keyboard where it was when the row is rebuilt under it.
    const focused = row.main.contains(document.activeElement) ? document.activeElement.dataset.testid : '';
    row.main.replaceChildren(...storeCells(row, entry, enabled, sync));
    if (focused) byTestId(focused, row.main)?.focus();
  }
  updateStoreExtra(row);
}

function storeCells(row, entry, enabled, sync) {
  const { store, id } = row;
  const name = str(store.displayName);
  const schedules = storeSchedules(store);
  const status = entry?.status ?? null;

  const stateCell = h('td', {},
    h('span', { class: `pill pill-${enabled ? 'active' : 'paused'}`, dataset: { testid: 'store-state', state: enabled ? 'active' : 'paused' } },
      enabled ? 'Active' : 'Paused'),
    sync === 'syncing' ? h('span', { class: 'tag tag-info' }, 'syncing')
      : sync === 'queued' ? h('span', { class: 'tag tag-warn' }, 'queued') : null,
    !enabled && str(store.pauseNote)
      ? h('span', { class: 'fact-sub pause-note', dataset: { testid: 'store-pause-note' }, title: str(store.pauseNote) }, str(store.pauseNote)) : null);

  const scheduleCell = (type) => {
    const expr = schedules[type];
    const described = describeSchedule(expr);
    const next = nextFireOf(store, entry, type);
    return h('td', { dataset: { testid: `store-schedule-${type}`, schedule: expr } },
      expr ? h('span', { class: 'sched-desc', title: expr }, described) : h('span', { class: 'muted' }, 'default'),
      expr && described !== expr ? h('code', { class: 'sched-expr' }, expr) : null,
      h('span', { class: 'fact-sub', dataset: { testid: `store-next-${type}`, state: next.state } },
        next.date ? ['next ', timeEl(next.date)]
          : next.state === 'paused' ? 'paused' : next.state === 'none' ? 'no next fire' : entry?.error ? '—' : '…'));
  };

  const lastSuccess = time(status?.lastSuccessTime);
  const lastError = str(status?.lastError);
  const successCell = h('td', {},
    h('span', { dataset: { testid: 'store-last-success', state: !status ? 'unknown' : lastSuccess ? 'ok' : 'never' },
      title: entry?.error ? `Status: ${entry.error}` : null },
    lastSuccess ? timeEl(lastSuccess) : !status ? (entry?.error ? '—' : '…') : 'Never'),
    lastError ? h('span', { class: 'fact-sub error-text', dataset: { testid: 'store-last-error' }, title: lastError }, lastError) : null);

  const label = name || id;
  const pending = Boolean(row.pending);
  const button = (testid, text, aria, run, kind = 'secondary') => {
    const b = h('button', { type: 'button', class: `btn btn-${kind} btn-small`, dataset: { testid }, 'aria-label': aria,
      disabled: pending, 'aria-expanded': ['pause', 'resync', 'backfill', 'delete'].some((k) => testid === `store-${k}`) ? String(row.panel === testid.slice(6)) : null }, text);
    b.addEventListener('click', run);
    return b;
  };
  const actions = [button('store-open', 'Open', `Open ${label} on the dashboard`, () => openInDashboard(id), 'ghost')];
  if (state.me.loaded) {
    if (can('edit')) actions.push(button('store-edit', 'Edit', `Edit ${label}`, () => openStoreForm('edit', id)));
    if (enabled && can('pause')) actions.push(button('store-pause', 'Pause…', `Pause ${label}…`, () => togglePanel(row, 'pause')));
    if (!enabled && can('resume')) actions.push(button('store-resume', 'Resume', `Resume ${label}`, () => resumeStore(row)));
    if (can('resync')) actions.push(button('store-resync', 'Re-sync everything…', `Re-sync everything of ${label}…`, () => togglePanel(row, 'resync')));
    if (can('backfill')) actions.push(button('store-backfill', 'Backfill…', `Backfill ${label}…`, () => togglePanel(row, 'backfill')));
    if (can('delete')) actions.push(button('store-delete', 'Delete…', `Delete ${label}…`, () => togglePanel(row, 'delete'), 'danger'));
  }

  return [
    h('th', { scope: 'row' }, h('span', { class: 'store-name' }, label), name && name !== id ? h('code', { class: 'fact-sub' }, id) : null),
    stateCell,
    scheduleCell('orders'),
    scheduleCell('ads'),
    h('td', { dataset: { testid: 'store-timezone' } }, str(store.timezone) || 'UTC'),
    successCell,
    h('td', {}, h('div', { class: 'row-actions' }, actions)),
  ];
}

// The row's second line: an open panel and the answer to its last action.
function updateStoreExtra(row) {
  if (row.panelBox.firstChild !== row.panelEl) row.panelBox.replaceChildren(...(row.panelEl ? [row.panelEl] : []));
  if (row.panelEl) {
    for (const b of row.panelEl.querySelectorAll('button')) b.disabled = Boolean(row.pending);
  }
  const a = row.answer;
  row.feedback.dataset.kind = a?.kind ?? 'info';
  row.feedback.dataset.runId = a?.runId ?? '';
  row.feedback.textContent = a?.text ?? '';
  row.feedback.hidden = !a;
  row.extra.hidden = !row.panelEl && !a;
}

function setRowAnswer(row, kind, text, runId = '') {
  row.answer = { kind, text, runId };
  updateStoreExtra(row);
}

function openInDashboard(storeId) {
  if (storeId !== state.storeId) selectStore(storeId);
  else loadStoreData();
  setView('dashboard');
  el.picker.focus();
}

// ---------------------------------------------------------------------------------------------
// Store management: pause, resume, re-sync, backfill, delete

const dayString = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;

function togglePanel(row, kind) {
  if (row.panel === kind) {
    closePanel(row);
    return;
  }
  row.panel = kind;
  row.panelEl = buildPanel(row, kind);
  row.answer = null;
  updateStoreRow(row);
  row.panelEl.querySelector('input, [data-testid="store-panel-confirm"]')?.focus();
}

function closePanel(row, { focus = true } = {}) {
  const kind = row.panel;
  row.panel = '';
  row.panelEl = null;
  updateStoreRow(row);
  if (focus && kind) byTestId(`store-${kind}`, row.main)?.focus();
}

function buildPanel(row, kind) {
  const { id, store } = row;
  const label = storeLabel(store);
  const uid = `${kind}-${id}`;
  const error = h('p', { class: 'field-error', role: 'alert', dataset: { testid: 'store-panel-error' }, hidden: true });
  const confirmText = { pause: 'Pause', resync: 'Re-sync everything', backfill: 'Start backfill', delete: 'Delete store' }[kind];
  const form = h('form', { class: `store-panel store-panel-${kind}`, 'aria-label': `${confirmText}: ${label}`, dataset: { testid: 'store-panel', panel: kind } });
  const buttons = h('div', { class: 'panel-buttons' },
    h('button', { type: 'submit', class: `btn btn-small ${kind === 'delete' ? 'btn-danger-solid' : 'btn-primary'}`, dataset: { testid: 'store-panel-confirm' } }, confirmText),
    h('button', { type: 'button', class: 'btn btn-ghost btn-small', dataset: { testid: 'store-panel-cancel' } }, 'Cancel'));
  buttons.lastChild.addEventListener('click', () => closePanel(row));
  form.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') closePanel(row);
  });
  const tz = str(store.timezone) || 'UTC';
  if (kind === 'pause') {
    const note = h('input', { id: `${uid}-note`, type: 'text', maxlength: '500', autocomplete: 'off', placeholder: 'e.g. store migrating until Friday', dataset: { testid: 'store-pause-note-input' } });
    form.append(h('p', {}, `Stop the scheduled syncs of ${label}? “Sync now” still works while it is paused.`),
      h('div', { class: 'panel-fields' }, h('div', { class: 'form-field' }, h('label', { for: note.id }, 'Why (optional, shown with the store)'), note)),
      error, buttons);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      pauseStore(row, note.value.trim());
    });
  } else if (kind === 'resync') {
    form.append(h('p', {}, `Read every order of ${label} again from the beginning and the whole ads window, then recompute the cohorts? `
      + 'It is queued like “Sync now”; for a large store it takes a while.'), error, buttons);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      resyncStore(row);
    });
  } else if (kind === 'backfill') {
    const today = new Date();
    const from = h('input', { id: `${uid}-from`, type: 'date', required: true, value: dayString(new Date(today.getFullYear(), today.getMonth(), today.getDate() - 30)), max: dayString(today), dataset: { testid: 'store-backfill-from' } });
    const to = h('input', { id: `${uid}-to`, type: 'date', required: true, value: dayString(today), max: dayString(today), dataset: { testid: 'store-backfill-to' } });
    form.append(h('p', {}, `Read again the orders of ${label} created on these days (in the store's time zone, ${tz}). `
      + 'The backfill waits behind the scheduled runs.'),
    h('div', { class: 'panel-fields' },
      h('div', { class: 'form-field' }, h('label', { for: from.id }, 'From'), from),
      h('div', { class: 'form-field' }, h('label', { for: to.id }, 'To (inclusive)'), to)),
    error, buttons);
    form.noValidate = true;
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      backfillStore(row, from.value, to.value);
    });
  } else if (kind === 'delete') {
    form.append(h('p', {}, `Delete ${label}? Its schedule stops and it leaves the registry; this cannot be undone.`), error, buttons);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      deleteStore(row);
    });
  }
  return form;
}

function setPanelError(row, text) {
  const error = row.panelEl && byTestId('store-panel-error', row.panelEl);
  if (!error) return;
  error.textContent = text;
  error.hidden = !text;
}

// Runs one action request for `row`: its buttons are disabled meanwhile. `ok(answer)` handles
// success; errors are shown by `fail(err)` or as the row's answer.
async function storeAction(row, kind, path, { method = 'POST', body, ok, fail }) {
  if (row.pending) return;
  row.pending = kind;
  setPanelError(row, '');
  updateStoreRow(row);
  try {
    ok(await api(path, { method, body }));
  } catch (err) {
    if (!(fail && fail(err))) {
      const text = err.status === 403 ? `Refused: ${err.message}`
        : err.status === 404 ? `This store no longer exists (${err.message}).` : err.message;
      if (row.panelEl) setPanelError(row, text);
      else setRowAnswer(row, 'error', text);
      if (err.status === 404) refreshStoresView();
    }
  } finally {
    row.pending = '';
    if (sv.rows.get(row.id) === row) updateStoreRow(row);
  }
}

// After an action: the store's status (and the dashboard's, when it shows this store).
function afterStoreChange(storeId) {
  loadStoreStatuses([storeId]);
  if (storeId === state.storeId) loadStatus();
}

function pauseStore(row, note) {
  storeAction(row, 'pause', `/api/stores/${storePath(row.id)}/pause`, {
    body: note ? { note } : {},
    ok: (answer) => {
      closePanel(row, { focus: false });
      upsertStoreLocal(answer.store);
      setRowAnswer(row, 'ok', 'Paused: scheduled syncs stop until it is resumed; “Sync now” still works.');
      byTestId('store-resume', row.main)?.focus();
      afterStoreChange(row.id);
    },
  });
}

function resumeStore(row) {
  storeAction(row, 'resume', `/api/stores/${storePath(row.id)}/resume`, {
    body: {},
    ok: (answer) => {
      upsertStoreLocal(answer.store);
      setRowAnswer(row, 'ok', 'Resumed: the schedules fire again.');
      byTestId('store-pause', row.main)?.focus();
      afterStoreChange(row.id);
    },
  });
}

const shortRun = (runId) => (runId.length > 16 ? `${runId.slice(0, 16)}…` : runId);

function resyncStore(row) {
  storeAction(row, 'resync', `/api/stores/${storePath(row.id)}/resync`, {
    body: {},
    ok: (answer) => {
      closePanel(row);
      const runId = str(answer.runId);
      setRowAnswer(row, 'ok', `Full re-sync queued${runId ? ` (run ${shortRun(runId)})` : ''}. “Open” follows it on the dashboard.`, runId);
      afterStoreChange(row.id);
    },
    fail: (err) => {
      if (err.status !== 409) return false;
      closePanel(row);
      const runId = str(err.body?.runId);
      setRowAnswer(row, 'error', `A run is already queued or running${runId ? ` (run ${shortRun(runId)})` : ''}; re-sync when it has finished.`, runId);
      return true;
    },
  });
}

function backfillStore(row, from, to) {
  if (!from || !to) {
    setPanelError(row, 'Choose both days (From and To).');
    return;
  }
  if (from > to) {
    setPanelError(row, 'From must not be after To.');
    return;
  }
  storeAction(row, 'backfill', `/api/stores/${storePath(row.id)}/backfill`, {
    body: { from, to },
    ok: (answer) => {
      closePanel(row);
      const runId = str(answer.runId);
      setRowAnswer(row, 'ok', `Backfill of the orders created ${from} – ${to} queued${runId ? ` (run ${shortRun(runId)})` : ''}.`, runId);
      afterStoreChange(row.id);
    },
    fail: (err) => {
      if (err.status === 409) {
        const runId = str(err.body?.runId);
        setPanelError(row, `A run is already queued or running${runId ? ` (run ${shortRun(runId)})` : ''}; start the backfill when it has finished.`);
        return true;
      }
      if (err.status === 400) {
        setPanelError(row, err.message);  // names the field (from / to)
        return true;
      }
      return false;
    },
  });
}

function deleteStore(row) {
  const label = storeLabel(row.store);
  storeAction(row, 'delete', `/api/stores/${storePath(row.id)}`, {
    method: 'DELETE',
    ok: () => {
      if (sv.form?.mode === 'edit' && sv.form.storeId === row.id) closeStoreForm();
      removeStoreLocal(row.id);
      setStoresFeedback('ok', `Deleted ${label}.`);
      sv.el.refresh.focus();
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Store management: the add / edit form

// The form's fields, by JSON path (docs/STORES-HTTP.md, "The store resource").
const kFormFields = [
  { path: 'storeId', label: 'Store ID', group: 'store', placeholder: 'e.g. demo-store', max: 63,
    hint: 'Lower-case letters, digits, “-” and “_”; fixed once the store exists.' },
  { path: 'displayName', label: 'Display name', group: 'store', placeholder: 'e.g. Demo store', max: 200 },
  { path: 'timezone', label: 'Time zone', group: 'schedule', kind: 'timezone',
    hint: 'The schedules fire in this zone; the cohort months are counted in it too.' },
  { path: 'schedules.orders', label: 'Orders schedule (cron)', group: 'orders', kind: 'cron', type: 'orders', placeholder: kDefaultSchedules.orders,
    hint: 'Five fields (minute hour day month weekday) or @hourly, @daily…; empty: the default.' },
  { path: 'stalenessSeconds.orders', label: 'Orders staleness (seconds)', group: 'orders', kind: 'int', placeholder: '3600',
    hint: 'A scheduled fire syncs orders only when they are older than this; empty or 0: 3600.' },
  { path: 'schedules.ads', label: 'Ads schedule (cron)', group: 'ads', kind: 'cron', type: 'ads', placeholder: kDefaultSchedules.ads,
    hint: 'Ad platforms restate recent days; a few reads a day are usually enough.' },
  { path: 'stalenessSeconds.ads', label: 'Ads staleness (seconds)', group: 'ads', kind: 'int', placeholder: '3600',
    hint: 'Likewise for ad spend; empty or 0: 3600.' },
  { path: 'jitterSeconds', label: 'Jitter (seconds)', group: 'schedule', kind: 'int', placeholder: '0',
    hint: 'Up to this much delay after each fire (fixed per store), to spread the load.' },
  { path: 'ordersApi', label: 'Orders API', group: 'conn', kind: 'choice',
    choices: [['', 'Service default'], ['graphql', 'GraphQL Admin API'], ['rest', 'REST Admin API (legacy)']],
    hint: 'GraphQL needs the read_orders scope (read_all_orders for orders older than 60 days).' },
  { path: 'ordersApiBase', label: 'Orders API base URL', group: 'conn', placeholder: 'https://shop.myshopify.com', max: 512 },
  { path: 'ordersApiVersion', label: 'Orders API version', group: 'conn', placeholder: '2026-10', max: 32 },
  { path: 'adsApiBase', label: 'Ads API base URL', group: 'conn', placeholder: 'https://graph.facebook.com', max: 512 },
  { path: 'adsApiVersion', label: 'Ads API version', group: 'conn', placeholder: 'v24.0', max: 32 },
  { path: 'adAccountId', label: 'Ad account ID', group: 'conn', placeholder: '1234567890', max: 68 },
  { path: 'credentialsRef', label: 'Credentials reference', group: 'conn', placeholder: 'env:STORE_TOKEN', max: 512,
    hint: 'Where the worker reads the API token: env:NAME or file:/path. Never the token itself.' },
  { path: 'notifyWebhookUrl', label: 'Notification webhook URL', group: 'notify', placeholder: 'https://hooks.example.com/autosync', max: 512,
    hint: 'A signed POST when a run fails for good or the data goes stale, at most one an hour each; empty: none.' },
  { path: 'notifySecretRef', label: 'Webhook signing key reference', group: 'notify', placeholder: 'env:HOOK_KEY', max: 512,
    hint: 'Where the scheduler reads the HMAC key: env:NAME or file:/path. Never the key itself; required with a URL.' },
];
const kFieldPaths = new Set(kFormFields.map((f) => f.path));

const getPath = (obj, path) => path.split('.').reduce((o, k) => (o && typeof o === 'object' ? o[k] : undefined), obj);

// The gateway's `field` as one of the form's paths ("" when none fits): snake_case and the
// scheduler's one-schedule names are taken too.
function formPathOf(field) {
  let f = str(field).replace(/^store\./, '').replace(/_([a-z])/g, (_, c) => c.toUpperCase());
  const aliases = { schedule: 'schedules.orders', adsSchedule: 'schedules.ads', stalenessSeconds: 'stalenessSeconds.orders',
    adsStalenessSeconds: 'stalenessSeconds.ads', schedules: 'schedules.orders' };
  f = aliases[f] ?? f;
  return kFieldPaths.has(f) ? f : '';
}

let zoneList = null;
// IANA zones this browser knows, UTC first.
function timeZones() {
  if (!zoneList) {
    let zones = [];
    try {
      zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
    } catch { /* an old engine */ }
    zoneList = ['UTC', ...zones.filter((z) => z !== 'UTC')];
  }
  return zoneList;
}
function browserZone() {
  try { return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'; } catch { return 'UTC'; }
}

function buildStoreForm() {
  const f = {
    mode: '', storeId: '', base: null, dirty: false, saving: false, conflict: null,
    inputs: new Map(), errors: new Map(), previews: {},
  };
  const field = (def) => {
    const id = `store-field-${def.path.replace('.', '-')}`;
    let input;
    if (def.kind === 'choice') {
      input = h('select', { id, name: def.path }, def.choices.map(([v, text]) => h('option', { value: v }, text)));
    } else if (def.kind === 'timezone') {
      const zones = timeZones();
      // Without Intl.supportedValuesOf, a text field (the gateway checks the name).
      input = zones.length > 1 ? h('select', { id, name: def.path }, zones.map((z) => h('option', { value: z }, z)))
        : h('input', { id, name: def.path, type: 'text', placeholder: 'UTC or e.g. Europe/London', autocomplete: 'off', spellcheck: 'false' });
    } else {
      input = h('input', {
        id, name: def.path, type: def.kind === 'int' ? 'number' : 'text', placeholder: def.placeholder,
        min: def.kind === 'int' ? '0' : null, step: def.kind === 'int' ? '1' : null,
        inputmode: def.kind === 'int' ? 'numeric' : null, maxlength: def.max ? String(def.max) : null,
        autocomplete: 'off', spellcheck: 'false', class: def.kind === 'cron' ? 'mono' : null,
      });
    }
    input.dataset.testid = 'store-input';
    input.dataset.field = def.path;
    const error = h('p', { id: `${id}-error`, class: 'field-error', dataset: { testid: 'store-field-error', field: def.path }, hidden: true });
    const hint = def.hint ? h('p', { id: `${id}-hint`, class: 'field-hint' }, def.hint) : null;
    const described = [hint ? hint.id : '', error.id];
    f.inputs.set(def.path, input);
    f.errors.set(def.path, error);
    const wrap = h('div', { class: `form-field form-field-${def.kind ?? 'text'}` }, h('label', { for: id }, def.label), input, hint, error);
    if (def.kind === 'cron') {
      const preview = h('div', { id: `${id}-preview`, class: 'schedule-preview', 'aria-live': 'polite',
        dataset: { testid: 'schedule-preview', type: def.type, state: 'idle', schedule: '', timezone: '' } });
      described.push(preview.id);
      f.previews[def.type] = { el: preview, seq: 0, timer: 0 };
      wrap.append(preview);
      input.addEventListener('input', () => schedulePreview(f, def.type));
    }
    input.setAttribute('aria-describedby', described.filter(Boolean).join(' '));
    input.addEventListener('input', () => {
      f.dirty = true;
      setFieldError(f, def.path, '');
    });
    return wrap;
  };
  const group = (name) => kFormFields.filter((d) => d.group === name).map(field);

  f.title = h('h2', { id: 'store-form-title', dataset: { testid: 'store-form-title' } }, 'Add a store');
  f.syncAfter = h('input', { id: 'store-sync-after-create', type: 'checkbox', checked: true, dataset: { testid: 'store-sync-after-create' } });
  f.syncAfterWrap = h('div', { class: 'form-check' }, f.syncAfter,
    h('label', { for: f.syncAfter.id }, 'Run the first sync right after creating it'));
  f.feedback = h('p', { class: 'action-note', role: 'status', dataset: { testid: 'store-form-feedback' } });
  f.conflictText = h('p', {});
  f.conflictReload = h('button', { type: 'button', class: 'btn btn-secondary btn-small', dataset: { testid: 'store-conflict-reload' } }, 'Load their version');
  f.conflict = null;
  f.conflictBox = h('div', { class: 'conflict', role: 'alert', dataset: { testid: 'store-conflict' }, hidden: true }, f.conflictText, f.conflictReload);
  f.save = h('button', { type: 'submit', class: 'btn btn-primary', dataset: { testid: 'store-save' } }, 'Create store');
  f.cancel = h('button', { type: 'button', class: 'btn btn-ghost', dataset: { testid: 'store-cancel' } }, 'Cancel');
  f.form = h('form', { class: 'store-form', novalidate: true, 'aria-labelledby': 'store-form-title', dataset: { testid: 'store-form', mode: '' } },
    h('fieldset', { class: 'form-group' }, h('legend', {}, 'Store'), h('div', { class: 'form-grid' }, group('store'))),
    h('fieldset', { class: 'form-group' }, h('legend', {}, 'Schedules'),
      h('div', { class: 'form-grid' }, group('schedule')),
      h('div', { class: 'form-grid form-grid-types' },
        h('div', { class: 'type-col' }, h('h3', {}, 'Orders'), group('orders')),
        h('div', { class: 'type-col' }, h('h3', {}, 'Ad spend'), group('ads')))),
    h('fieldset', { class: 'form-group' }, h('legend', {}, 'Connection'), h('div', { class: 'form-grid' }, group('conn'))),
    h('fieldset', { class: 'form-group' }, h('legend', {}, 'Notifications'), h('div', { class: 'form-grid' }, group('notify'))),
    f.syncAfterWrap,
    f.conflictBox,
    h('div', { class: 'form-actions' }, f.save, f.cancel, f.feedback));
  f.inputs.get('timezone').addEventListener(f.inputs.get('timezone').tagName === 'SELECT' ? 'change' : 'input', () => {
    f.dirty = true;
    setFieldError(f, 'timezone', '');
    schedulePreview(f, 'orders', 0);
    schedulePreview(f, 'ads', 0);
  });
  f.form.addEventListener('submit', (event) => {
    event.preventDefault();
    submitStoreForm(f);
  });
  f.form.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && !f.saving) closeStoreForm();
  });
  f.cancel.addEventListener('click', () => closeStoreForm());
  f.conflictReload.addEventListener('click', () => {
    const theirs = f.conflict;
    if (!theirs) return;
    fillStoreForm(f, theirs);
    setFormFeedback(f, 'info', `Loaded the current version (${num(theirs.version)}). Make your change again and save.`);
    f.inputs.get('displayName').focus();
  });
  sv.el.formCard.replaceChildren(h('div', { class: 'card-head' }, f.title), f.form);
  return f;
}

function setFieldError(f, path, text) {
  const error = f.errors.get(path);
  const input = f.inputs.get(path);
  if (!error) return;
  error.textContent = text;
  error.hidden = !text;
  const previewBad = f.previews[path.split('.')[1]]?.el.dataset.state === 'error' && path.startsWith('schedules.');
  input.setAttribute('aria-invalid', String(Boolean(text) || previewBad));
}

function clearFieldErrors(f) {
  for (const path of f.errors.keys()) setFieldError(f, path, '');
}

function setFormFeedback(f, kind, text) {
  f.feedback.dataset.kind = kind;
  f.feedback.textContent = text;
}

function hideConflict(f) {
  f.conflict = null;
  f.conflictBox.hidden = true;
}

// Puts `store` (or the create defaults) into the form; it becomes what a save replaces.
function fillStoreForm(f, store) {
  hideConflict(f);
  clearFieldErrors(f);
  f.base = store;
  f.dirty = false;
  const set = (path, value) => { f.inputs.get(path).value = value; };
  const schedules = storeSchedules(store);
  set('storeId', str(store?.storeId));
  set('displayName', str(store?.displayName));
  set('schedules.orders', schedules.orders);
  set('schedules.ads', schedules.ads);
  const tzInput = f.inputs.get('timezone');
  const tz = str(store?.timezone) || 'UTC';
  if (tzInput.tagName === 'SELECT' && ![...tzInput.options].some((o) => o.value === tz)) {
    tzInput.append(h('option', { value: tz }, tz));  // a zone this browser does not list (an alias)
  }
  tzInput.value = tz;
  for (const type of ['orders', 'ads']) {
    const v = stalenessOf(store, type);
    set(`stalenessSeconds.${type}`, v > 0 ? String(v) : '');
  }
  const jitter = num(store?.jitterSeconds);
  set('jitterSeconds', jitter > 0 ? String(jitter) : '');
  for (const path of ['ordersApi', 'ordersApiBase', 'ordersApiVersion', 'adsApiBase', 'adsApiVersion', 'adAccountId', 'credentialsRef',
    'notifyWebhookUrl', 'notifySecretRef']) {
    set(path, str(getPath(store, path)));
  }
  f.form.dataset.version = store && f.mode === 'edit' ? String(num(store.version)) : '';
  schedulePreview(f, 'orders', 0);
  schedulePreview(f, 'ads', 0);
}

async function openStoreForm(mode, storeId = '') {
  if (!sv.form) sv.form = buildStoreForm();
  const f = sv.form;
  f.mode = mode;
  f.storeId = storeId;
  f.saving = false;
  const listed = state.stores.find((s) => s.storeId === storeId);
  const create = mode === 'create';
  f.form.dataset.mode = mode;
  f.form.dataset.storeId = storeId;
  f.title.textContent = create ? 'Add a store' : `Edit ${storeLabel(listed ?? { storeId })}`;
  f.save.textContent = create ? 'Create store' : 'Save changes';
  f.save.disabled = false;
  f.syncAfterWrap.hidden = !create || !can('trigger');
  const idInput = f.inputs.get('storeId');
  idInput.readOnly = !create;
  setFormFeedback(f, 'info', '');
  fillStoreForm(f, create ? { schedules: { ...kDefaultSchedules }, timezone: timeZones().includes(browserZone()) ? browserZone() : 'UTC' }
    : listed ?? { storeId });
  sv.el.formCard.hidden = false;
  sv.el.formCard.scrollIntoView?.({ block: 'start' });
  (create ? idInput : f.inputs.get('displayName')).focus();
  if (create) return;
  // The list may be older than the store: edit what is stored now (unless typing has begun).
  try {
    const body = await api(`/api/stores/${storePath(storeId)}`);
    if (f.mode === 'edit' && f.storeId === storeId && !f.dirty && body.store && typeof body.store === 'object') {
      fillStoreForm(f, body.store);
      upsertStoreLocal(body.store);
    }
  } catch (err) {
    if (f.mode === 'edit' && f.storeId === storeId) {
      setFormFeedback(f, 'error', err.status === 404 ? 'This store no longer exists.' : `Could not load the current values: ${err.message}`);
    }
  }
}

function closeStoreForm() {
  const f = sv.form;
  if (!f) return;
  const { mode, storeId } = f;
  f.mode = '';
  for (const p of Object.values(f.previews)) {
    clearTimeout(p.timer);
    p.seq += 1;
  }
  sv.el.formCard.hidden = true;
  const back = mode === 'edit' ? byTestId('store-edit', sv.rows.get(storeId)?.main) : sv.el.add;
  (back && !back.hidden ? back : sv.el.refresh).focus();
}

// The live preview of one schedule, `delay` ms after the last keystroke.
function schedulePreview(f, type, delay = kPreviewDebounceMs) {
  const p = f.previews[type];
  if (!p) return;
  clearTimeout(p.timer);
  const seq = ++p.seq;
  p.el.dataset.state = 'pending';
  p.timer = setTimeout(() => runPreview(f, type, seq), delay);
}

async function runPreview(f, type, seq) {
  const p = f.previews[type];
  const given = f.inputs.get(`schedules.${type}`).value.trim();
  const schedule = given || kDefaultSchedules[type];
  const timezone = f.inputs.get('timezone').value.trim();
  let fires = null;
  let error = '';
  try {
    const body = await api('/api/schedules/preview', { method: 'POST', body: { schedule, timezone, count: kPreviewCount } });
    fires = (Array.isArray(body.fires) ? body.fires : []).filter((x) => x && typeof x === 'object');
  } catch (err) {
    error = err.message;
  }
  if (seq !== p.seq) return;  // typed on meanwhile
  const title = h('p', { class: 'preview-title' }, given ? `Next ${kPreviewCount} fires` : `Empty: the default ${schedule} applies. Its next fires`);
  Object.assign(p.el.dataset, { schedule: given, timezone, state: error ? 'error' : 'ready' });
  if (error) {
    p.el.replaceChildren(h('p', { class: 'field-error', dataset: { testid: 'preview-error' } }, error));
  } else {
    p.el.replaceChildren(title, h('ol', { class: 'preview-list' }, fires.map((fire) => {
      const utc = time(fire.utc);
      const local = str(fire.local);
      return h('li', { dataset: { testid: 'preview-fire', utc: str(fire.utc), local } },
        h('span', { class: 'fire-local' }, local || (utc ? absFormat.format(utc) : '?')),
        utc ? [' ', h('span', { class: 'muted' }, '(', timeEl(utc), ')')] : null);
    })));
  }
  const path = `schedules.${type}`;
  const input = f.inputs.get(path);
  input.setAttribute('aria-invalid', String(Boolean(error) || !f.errors.get(path).hidden));
}

// The body of a save, or the fields a local check refuses.
function collectStoreForm(f) {
  const value = (path) => f.inputs.get(path).value.trim();
  const problems = [];
  const int = (path) => {
    const input = f.inputs.get(path);
    const text = input.value.trim();
    if (input.validity?.badInput || (text && !/^\d+$/.test(text))) {
      problems.push([path, 'must be a whole number of seconds (0 or more)']);
      return 0;
    }
    return text ? Number(text) : 0;
  };
  const body = {
    storeId: f.mode === 'edit' ? f.storeId : value('storeId'),
    displayName: value('displayName'),
    schedules: { orders: value('schedules.orders'), ads: value('schedules.ads') },
    timezone: value('timezone'),
    stalenessSeconds: { orders: int('stalenessSeconds.orders'), ads: int('stalenessSeconds.ads') },
    jitterSeconds: int('jitterSeconds'),
    ordersApi: value('ordersApi'),
    ordersApiBase: value('ordersApiBase'),
    ordersApiVersion: value('ordersApiVersion'),
    adsApiBase: value('adsApiBase'),
    adsApiVersion: value('adsApiVersion'),
    adAccountId: value('adAccountId'),
    credentialsRef: value('credentialsRef'),
    notifyWebhookUrl: value('notifyWebhookUrl'),
    notifySecretRef: value('notifySecretRef'),
  };
  if (f.mode === 'create') {
    if (!body.storeId) problems.push(['storeId', 'is required']);
    body.enabled = true;
  } else {
    // A save replaces the whole store: pause state as read, and the version it replaces.
    body.enabled = f.base?.enabled !== false;
    body.pauseNote = str(f.base?.pauseNote);
    body.version = num(f.base?.version);
  }
  return { body, problems };
}

// Which members of the store someone else changed (for the 409 message).
function changedMembers(before, after) {
  const paths = [...kFieldPaths, 'enabled', 'pauseNote'];
  return paths.filter((p) => JSON.stringify(getPath(before, p) ?? '') !== JSON.stringify(getPath(after, p) ?? ''));
}

async function submitStoreForm(f) {
  if (f.saving || !f.mode) return;
  hideConflict(f);
  clearFieldErrors(f);
  const { body, problems } = collectStoreForm(f);
  if (problems.length) {
    for (const [path, text] of problems) setFieldError(f, path, text);
    setFormFeedback(f, 'error', 'Fix the marked fields.');
    f.inputs.get(problems[0][0]).focus();
    return;
  }
  const create = f.mode === 'create';
  const storeId = body.storeId;
  f.saving = true;
  f.save.disabled = true;
  f.save.setAttribute('aria-busy', 'true');
  setFormFeedback(f, 'info', create ? 'Creating…' : 'Saving…');
  try {
    const answer = create ? await api('/api/stores', { method: 'POST', body })
      : await api(`/api/stores/${storePath(storeId)}`, { method: 'PUT', body });
    const store = answer.store && typeof answer.store === 'object' ? answer.store : { ...body };
    const syncNow = create && !f.syncAfterWrap.hidden && f.syncAfter.checked;
    closeStoreForm();
    upsertStoreLocal(store);
    const label = storeLabel(store);
    if (create) {
      setStoresFeedback('ok', `Created ${label}.${syncNow ? ' Queuing its first sync…' : ''}`);
      if (syncNow) firstSync(store);
    } else {
      setStoresFeedback('ok', `Saved ${label} (version ${num(store.version)}).`);
    }
    afterStoreChange(storeId);
  } catch (err) {
    const path = formPathOf(err.body?.field);
    if (err.status === 409 && !create && err.body?.store && typeof err.body.store === 'object') {
      const theirs = err.body.store;
      f.conflict = theirs;
      const changed = changedMembers(f.base, theirs);
      f.conflictText.textContent = `Someone else changed this store while you were editing it (it is now at version ${num(theirs.version)}`
        + `${changed.length ? `; changed: ${changed.join(', ')}` : ''}). Your changes were not saved.`;
      f.conflictBox.hidden = false;
      upsertStoreLocal(theirs);
      setFormFeedback(f, 'error', 'Not saved: the store changed meanwhile.');
      f.conflictReload.focus();
    } else if (err.status === 409 && create) {
      setFieldError(f, 'storeId', err.message || 'A store with this id already exists.');
      setFormFeedback(f, 'error', 'Not created: the id is taken.');
      f.inputs.get('storeId').focus();
    } else if (err.status === 400 && path) {
      setFieldError(f, path, err.message);
      setFormFeedback(f, 'error', `Not ${create ? 'created' : 'saved'}: check the marked field.`);
      f.inputs.get(path).focus();
    } else {
      const field = str(err.body?.field);
      setFormFeedback(f, 'error', `Not ${create ? 'created' : 'saved'}: ${err.status === 403 ? `refused (${err.message})`
        : err.status === 404 ? 'this store no longer exists' : err.message}${field && !err.message.includes(field) ? ` (${field})` : ''}`);
    }
  } finally {
    f.saving = false;
    f.save.disabled = false;
    f.save.setAttribute('aria-busy', 'false');
  }
}

// Queues a new store's first sync (a manual trigger; a run already queued for it is as good).
async function firstSync(store) {
  const storeId = str(store.storeId);
  const label = storeLabel(store);
  try {
    const body = await api(`/api/test/trigger-sync/${storePath(storeId)}`, { method: 'POST' });
    const runId = str(body.runId);
    setStoresFeedback('ok', `Created ${label}; its first sync is queued${runId ? ` (run ${shortRun(runId)})` : ''}. “Open” follows it on the dashboard.`, runId);
  } catch (err) {
    const runId = str(err.body?.runId);
    if (err.status === 409 && runId) {
      setStoresFeedback('ok', `Created ${label}; its first sync is already under way (run ${shortRun(runId)}).`, runId);
    } else {
      setStoresFeedback('error', `Created ${label}, but its first sync could not be queued: ${err.message}`);
    }
  }
  afterStoreChange(storeId);
}

// ---------------------------------------------------------------------------------------------
// Socket.IO

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

function connectSocket() {
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
      loadStoreData();  // catch up on whatever happened while we were away
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
    renderStatus();
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
  socket.on('autoSyncProgress', onProgress);
  socket.on('syncStatus', (data) => {
    state.events += 1;
    renderConnInfo();
    if (!data || typeof data !== 'object') return;
    if (str(data.storeId) && str(data.storeId) !== state.storeId) return;
    noteStoreStatus(state.storeId, data);
    applyStatus(data);
  });
  socket.on('triggerResult', (data) => {
    if (state.triggerPending) onTriggerResult(data);
  });
  socket.on('error', (data) => {
    const message = str(data?.message) || str(data);
    if (message) setFeedback('error', `Gateway: ${message}`);
  });
}

function reconnectSocket() {
  if (!socket) return connectSocket();
  setConn('connecting', 'reconnecting on request');
  clearTimeout(serverDisconnectTimer);
  socket.disconnect();
  socket.connect();
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Test panel

function showOutput(value) {
  el.output.textContent = JSON.stringify(value, null, 2);
}

function wireUi() {
  el.picker.addEventListener('change', () => {
    if (el.picker.value) selectStore(el.picker.value);
  });
  el.syncButton.addEventListener('click', syncNow);
  byTestId('runs-refresh').addEventListener('click', loadRuns);
  byTestId('quarantine-refresh').addEventListener('click', loadQuarantine);
  byTestId('test-trigger-http').addEventListener('click', () => {
    if (state.storeId) triggerOverHttp();
  });
  byTestId('test-fetch-status').addEventListener('click', async () => {
    if (!state.storeId) return;
    try {
      const body = await api(`/api/sync/status/${storePath(state.storeId)}`);
      showOutput(body);
      applyStatus(body.status ?? {});
    } catch (err) {
      showOutput(err.body ?? { success: false, error: err.message });
    }
  });
  byTestId('test-reconnect').addEventListener('click', reconnectSocket);
  // Tabs: click, or arrow keys / Home / End between them (the WAI-ARIA tabs pattern).
  const tabs = [...document.querySelectorAll('[role="tab"][data-view]')];
  for (const tab of tabs) {
    tab.addEventListener('click', () => setView(tab.dataset.view));
    tab.addEventListener('keydown', (event) => {
      const i = tabs.indexOf(tab);
      const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[event.key];
      if (to === undefined) return;
      event.preventDefault();
      const next = tabs[(to + tabs.length) % tabs.length];
      setView(next.dataset.view);
      next.focus();
    });
  }
  window.addEventListener('hashchange', () => setView(viewFromHash()));
  byTestId('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    token = el.tokenInput.value.trim();
    storage.set(kStorageToken, token);
    el.tokenInput.value = '';
    el.tokenInput.placeholder = token ? 'Token saved' : 'Only when the gateway requires one';
    hideBanner();
    renderConnInfo();
    loadStores();
    loadMe();
    if (state.view === 'stores') refreshStoresView();
    reconnectSocket();
  });
  for (const input of document.querySelectorAll('input[name="metric"]')) {
    input.addEventListener('change', () => {
      if (input.checked) {
        state.metric = input.value;
        renderLtv();
      }
    });
  }
  // Relative times ("3 min ago") stay true without re-rendering everything.
  setInterval(() => {
    const now = Date.now();
    for (const t of document.querySelectorAll('time[data-rel]')) {
      const d = new Date(t.getAttribute('datetime'));
      if (!Number.isNaN(d.getTime())) t.textContent = relTime(d, now);
    }
  }, 1000);
}

function main() {
  if (token) el.tokenInput.placeholder = 'Token saved';
  wireUi();
  renderConnection();
  renderStatus();
  renderProgress();
  renderRuns();
  renderLtv();
  connectSocket();
  loadMe();
  loadStores();
  setView(viewFromHash());
}

main();
