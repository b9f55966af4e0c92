// The run shown and the store's status: follows a run from its progress events (autoSyncProgress)
// and from status snapshots (GET /api/sync/status, the syncStatus event), joins a run that is
// queued or in flight when the page opens or reconnects, catches up on a run that ended while
// nobody listened, and reloads what a finished run changed. A run first waits in the scheduler's
// run queue: a `queued` event (queuePosition, estimatedWaitSeconds) or a status with `queued`
// says so, and STARTING follows when a worker slot takes it.
import { fetchStatus } from './api.js';
import { renderConnInfo } from './connection.js';
import { emit } from './events.js';
import { clamp, num, obj, queuedLabel, str, time } from './format.js';
import { loadLtv } from './ltv-view.js';
import { announce, setFeedback } from './notices.js';
import { renderProgress, stageLabel } from './progress-view.js';
import { loadQuarantine } from './quarantine-view.js';
import { loadRuns, renderRuns, scheduleRunsRefresh } from './runs-view.js';
import { addMessage, kEnded, kStageBase, kStageLabel, kStages, kTerminal, resetRun, state } from './state.js';
import { renderStatus } from './status-view.js';

let lastProgressKey = '';

// Counts are reported cumulatively but not always all of them at once: merge what arrived.
function mergeCounts(run, counts) {
  if (obj(counts)) run.counts = { ...run.counts, ...counts };
}

// An autoSyncProgress event.
export function onProgress(data) {
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
  mergeCounts(run, data.counts);
  const error = str(data.error);
  run.error = error;
  const at = time(data.time) ?? new Date();
  addMessage(stage, str(data.message) || (error ? '' : stageLabel(run)), false, at);
  if (error && error !== str(data.message)) addMessage(stage, error, true, at);

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

// A status of the store shown (HTTP snapshot or `syncStatus` event).
export function applyStatus(status) {
  if (!status || typeof status !== 'object') return;
  const before = state.status;
  state.status = status;
  const current = obj(status.currentRun);
  const last = obj(status.lastRun);
  const queuedRun = obj(status.queuedRun);
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
      mergeCounts(r, current.counts);
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

// How a run of the history ended: its status when it ended, else its stage when terminal.
function runOutcome(run) {
  const status = str(run.status);
  const stage = str(run.stage);
  if (kEnded.has(status)) return status;
  if (kTerminal.has(stage)) return stage;
  return 'completed';
}

// The run shown ended while we were not listening: finish it from the status's lastRun.
function finishFromRun(last) {
  const outcome = runOutcome(last);
  const run = state.run;
  run.live = false;
  run.stage = outcome;
  if (outcome === 'completed') run.progress = 100;
  mergeCounts(run, last.counts);
  run.error = str(last.error);
  if (outcome === 'failed' && kStages.includes(str(last.stage))) run.workStage = str(last.stage);
  addMessage(outcome, outcome === 'completed' ? 'Run completed' : run.error || `Run ${outcome}`, outcome === 'failed');
  onRunEnded(outcome);
}

// Nothing runs: show the store's last run.
function showLastRun(last) {
  resetRun(str(last.runId), { live: false, source: 'last', trigger: str(last.trigger) });
  const run = state.run;
  const outcome = runOutcome(last);
  run.stage = outcome;
  run.workStage = kStages.includes(str(last.stage)) ? str(last.stage) : '';
  run.progress = outcome === 'completed' ? 100 : kStageBase[run.workStage] ?? 0;
  run.counts = {};
  mergeCounts(run, last.counts);
  run.error = str(last.error);
  run.startedAt = time(last.startedAt);
  const finished = time(last.finishedAt);
  if (run.error) addMessage(outcome, run.error, true, finished ?? new Date());
  else addMessage(outcome, `Last run ${outcome}`, false, finished ?? new Date());
}

// Fetches the status of the store shown (the Stores tab's row of it follows too: 'store-status').
export async function loadStatus() {
  const storeId = state.storeId;
  if (!storeId) return;
  try {
    const body = await fetchStatus(storeId);
    emit('store-status', { storeId, status: body.status });
    if (storeId === state.storeId) applyStatus(body.status ?? {});
  } catch (err) {
    if (storeId === state.storeId) setFeedback('error', `Status: ${err.message}`);
  }
}
