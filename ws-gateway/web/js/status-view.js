// The "Sync status" card: idle / queued / syncing, next fire, last success, schedule in words,
// watchers, skipped fires, last error, and the "Sync now" button's state (disabled while a run is
// queued, in flight or being requested, and for a viewer).
import { h, timeEl } from './dom.js';
import { el } from './elements.js';
import { describeSchedule, fmtInt, num, queuedLabel, str, time } from './format.js';
import { can } from './roles.js';
import { kTerminal, state } from './state.js';

// SyncStatus.lastSkipReason words the scheduler uses; anything else is shown as it is.
const kSkipReason = {
  fresh: 'the data was fresh', overlap: 'a run was in flight', running: 'a run was in flight',
  queued: 'a run was already queued',
};

// idle | queued | syncing. The run shown decides while it is in flight (a queued run joined from a
// status is one too); otherwise syncing per the status, unless the run it names already ended here
// (a snapshot taken before the terminal event can arrive after it).
export function syncMode() {
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

export function renderStatus() {
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
