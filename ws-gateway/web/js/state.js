// The page's state: the store shown, its status, the run shown (live or last), the cohorts, the
// run history, the caller's role and the open view; the stage and trigger vocabulary every view
// shares; the address bar's query (`?store=`, `?token=`) and the access token. Modules read
// `state` and change it in place; only this module assigns `token` (setToken).
import { storage } from './dom.js';

export const kStages = ['starting', 'orders', 'ads', 'ltv'];
export const kTerminal = new Set(['completed', 'failed', 'skipped']);
// Run.status values of runs that ended (a queued run can be cancelled before it starts).
export const kEnded = new Set([...kTerminal, 'cancelled']);
// Where a stage starts on the 0-100 scale (orders 0-60, ads 60-80, ltv 80-100), used when a run
// is joined from a status snapshot rather than from its progress events.
export const kStageBase = { starting: 0, orders: 2, ads: 60, ltv: 80, completed: 100 };
export const kStageLabel = {
  idle: 'Idle', queued: 'Queued', starting: 'Starting', orders: 'Fetching orders',
  ads: 'Fetching ad spend', ltv: 'Computing LTV cohorts', completed: 'Completed', failed: 'Failed',
  skipped: 'Skipped (data is fresh)', cancelled: 'Cancelled',
};

export const kTriggerLabel = { manual: 'Manual', cron: 'Scheduled', api: 'API', '': '—' };
const kStorageToken = 'autosync.token';
export const kStorageStore = 'autosync.store';

const kMaxLogLines = 60;

export const params = new URLSearchParams(window.location.search);

// Writes `params` back into the address bar (no history entry), keeping the path and the hash.
export function replaceQuery() {
  const query = params.toString();
  window.history.replaceState(null, '', `${window.location.pathname}${query ? `?${query}` : ''}${window.location.hash}`);
}

export let token = params.get('token') ?? storage.get(kStorageToken);
if (params.has('token')) {
  // Keep the token out of the address bar, history and screenshots.
  storage.set(kStorageToken, token);
  params.delete('token');
  replaceQuery();
}

// A token typed into the test panel: used from the next request and (re)connect on, and kept.
export function setToken(value) {
  token = value;
  storage.set(kStorageToken, token);
}

export const state = {
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

// `queue` is {position, waitSeconds} while the run waits in the run queue (stage "queued").
export function emptyRun() {
  return { runId: '', storeId: '', stage: 'idle', progress: 0, counts: {}, messages: [], error: '',
    trigger: '', live: false, source: '', workStage: '', startedAt: null, queue: null };
}

export function resetRun(runId, { live, source, trigger = '', storeId = state.storeId } = {}) {
  state.run = { ...emptyRun(), runId, live, source, trigger, storeId };
}

export function addMessage(stage, text, error = false, at = new Date()) {
  if (!text) return;
  state.run.messages.unshift({ stage, text, error, time: at });
  if (state.run.messages.length > kMaxLogLines) state.run.messages.length = kMaxLogLines;
}
