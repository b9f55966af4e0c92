// The "Run history" card: the store's last runs (GET /api/stores/:id/runs) with status, attempt,
// trigger, kind (re-sync, backfill, one data type), warnings, duration and counts; the run shown
// live counts from its events.
import { api, storePath } from './api.js';
import { h, timeEl } from './dom.js';
import { el } from './elements.js';
import { duration, fmtInt, num, obj, objects, str, time } from './format.js';
import { loadQuarantine } from './quarantine-view.js';
import { kTriggerLabel, state } from './state.js';

const kRunsPageSize = 10;

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

export function renderRuns() {
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
    const c = live ? state.run.counts : obj(run.counts) ?? {};
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

export async function loadRuns() {
  const storeId = state.storeId;
  if (!storeId) return;
  try {
    const body = await api(`/api/stores/${storePath(storeId)}/runs?pageSize=${kRunsPageSize}`);
    if (storeId !== state.storeId) return;
    state.runs = objects(body.runs).slice(0, kRunsPageSize);
    el.runEmpty.textContent = 'No runs yet.';
    renderRuns();
  } catch (err) {
    if (storeId !== state.storeId) return;
    el.runEmpty.hidden = false;
    el.runEmpty.textContent = `Could not load runs: ${err.message}`;
  }
}

let runsTimer = 0;
export function scheduleRunsRefresh() {
  clearTimeout(runsTimer);
  runsTimer = setTimeout(() => { loadRuns(); loadQuarantine(); }, 150);
}
