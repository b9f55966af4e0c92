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
//                              requested)
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
//   test-panel, test-trigger-http, test-fetch-status, test-reconnect, test-output,
//   test-connection-info (its <dd data-info = id | transport | url | auth | events>),
//   token-form, token-input

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
};
let socket = null;

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

async function api(path, { method = 'GET' } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), kFetchTimeoutMs);
  let res;
  try {
    res = await fetch(path, { method, headers, signal: controller.signal, cache: 'no-store' });
  } catch (err) {
    throw new ApiError(err.name === 'AbortError' ? 'the gateway did not answer in time'
      : 'the gateway cannot be reached', 0, null);
  } finally {
    clearTimeout(timer);
  }
  let body = null;
  try { body = await res.json(); } catch { /* not JSON */ }
  if (!res.ok || !body || body.success === false) {
    const message = str(body?.error) || `HTTP ${res.status}`;
    throw new ApiError(message, res.status, body);
  }
  return body;
}

const storePath = (id) => encodeURIComponent(id);

// ---------------------------------------------------------------------------------------------
// Rendering: connection, banner, status

const el = {
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
  output: byTestId('test-output'),
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

// One page-level message at a time; `action` is an optional {label, run} button.
function showBanner(kind, text, action) {
  el.banner.replaceChildren(h('span', {}, text));
  if (action) {
    const button = h('button', { type: 'button', class: 'btn btn-small btn-secondary' }, action.label);
    button.addEventListener('click', action.run);
    el.banner.append(button);
  }
  el.banner.dataset.kind = kind;
  el.banner.hidden = false;
}
function hideBanner() {
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
    const tz = str(s.timezone) || 'UTC';
    el.schedule.replaceChildren(schedule
      ? h('span', { title: `${schedule} (${tz})` }, describeSchedule(schedule), h('span', { class: 'fact-sub' }, tz))
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
  el.syncButton.disabled = !state.storeId || busy;
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
      return { month: str(c.cohortMonth), customers: num(c.customers), adSpend: num(c.adSpend),
        cac: num(c.cac), cells };
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
  const spend = rows.reduce((n, r) => n + r.adSpend, 0);
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
    kpi('Blended CAC', customers && spend ? money(spend / customers, currency) : '—', spend ? `${money(spend, currency, 0)} ad spend` : 'no ad spend'),
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
      h('td', { class: 'num' }, r.cac > 0 ? money(r.cac, currency) : '—'),
      h('td', { class: 'num' }, h('span', { class: `ratio ${ratioClass(ratio)}` }, ratio > 0 ? `${ratioFormat.format(ratio)}×` : '—')),
      cells);
  });
  tbody.replaceChildren(...body);
}

// ---------------------------------------------------------------------------------------------
// Run history

const kRunStatusLabel = { queued: 'Queued', running: 'Running', completed: 'Completed', failed: 'Failed',
  skipped: 'Skipped', cancelled: 'Cancelled' };

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
      h('td', {}, kTriggerLabel[str(run.trigger)] ?? str(run.trigger)),
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
  runsTimer = setTimeout(loadRuns, 150);
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
}

let storesRetryMs = 1000;
async function loadStores() {
  try {
    const body = await api('/api/stores?pageSize=1000');
    storesRetryMs = 1000;
    state.stores = (Array.isArray(body.stores) ? body.stores : [])
      .filter((s) => s && typeof s === 'object' && str(s.storeId));
    hideBanner();
    renderPicker();
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

function renderPicker() {
  const picker = el.picker;
  if (!state.stores.length) {
    picker.replaceChildren(h('option', { value: '' }, 'No stores registered'));
    picker.disabled = true;
    showBanner('info', 'No stores are registered with the scheduler yet. Register one (UpsertStore) and reload.');
    return;
  }
  picker.replaceChildren(...state.stores.map((s) => {
    const id = str(s.storeId);
    const name = str(s.displayName);
    return h('option', { value: id }, name && name !== id ? `${name} (${id})` : id);
  }));
  picker.disabled = false;
  const wanted = params.get('store') || state.storeId || storage.get(kStorageStore);
  const known = state.stores.some((s) => s.storeId === wanted);
  if (wanted && !known && params.get('store')) {
    showBanner('info', `Store "${wanted}" is not in the list; showing ${state.stores[0].storeId}.`);
  }
  selectStore(known ? wanted : str(state.stores[0].storeId));
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
  byTestId('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    token = el.tokenInput.value.trim();
    storage.set(kStorageToken, token);
    el.tokenInput.value = '';
    el.tokenInput.placeholder = token ? 'Token saved' : 'Only when the gateway requires one';
    hideBanner();
    renderConnInfo();
    loadStores();
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
  loadStores();
}

main();
