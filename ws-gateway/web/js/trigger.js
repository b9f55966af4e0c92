// Starting a manual sync of the store shown ("Sync now", over the socket, or over HTTP when the
// socket is down or from the test panel) and showing the answer: the queued run, the run already
// queued or in flight, or why not.
import { postTrigger } from './api.js';
import { sendTrigger } from './connection.js';
import { str } from './format.js';
import { setFeedback, showOutput } from './notices.js';
import { renderProgress } from './progress-view.js';
import { addMessage, resetRun, state } from './state.js';
import { renderStatus, syncMode } from './status-view.js';

const kAckTimeoutMs = 10000;

// The answer to a trigger (the socket's acknowledgement or triggerResult, or the HTTP route's).
export function onTriggerResult(res) {
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

// The test panel's "Trigger over HTTP", and "Sync now" while the socket is down.
export async function triggerOverHttp() {
  const storeId = state.storeId;
  try {
    const body = await postTrigger(storeId);
    showOutput(body);
    onTriggerResult({ ...body, storeId });
  } catch (err) {
    showOutput(err.body ?? { success: false, error: err.message });
    onTriggerResult({ success: false, storeId, error: err.message, runId: err.body?.runId, started: err.body?.started });
  }
}

// "Sync now": over the socket, acknowledged within kAckTimeoutMs.
export function syncNow() {
  if (!state.storeId || state.triggerPending) return;
  state.triggerPending = true;
  setFeedback('info', 'Requesting a sync…');
  renderStatus();
  const storeId = state.storeId;
  const sent = sendTrigger(storeId, kAckTimeoutMs, (err, res) => {
    if (storeId !== state.storeId) return;
    if (err) {
      state.triggerPending = false;
      setFeedback('error', 'The gateway did not confirm the trigger in time; progress will show here if the sync started.');
      renderStatus();
      return;
    }
    onTriggerResult({ storeId, ...res });
  });
  if (!sent) triggerOverHttp();  // the socket is down: HTTP still works
}
