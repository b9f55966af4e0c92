// The autosync dashboard's entry (index.html loads it as a module; no build step): it wires the
// modules under js/ together and starts the page. README.md in this folder lists the modules and
// the stable data-testid attributes the e2e tests rely on.
//
// The page: store picker, connection and sync status, live progress of a run, run history, the
// LTV cohort heatmap, records kept out, and store management (the Stores tab). Payloads are
// protobuf JSON (int64 fields arrive as strings, unset timestamps and messages are missing), so
// every read is defensive; the store JSON of /api/stores uses plain numbers.
//
// Auth: a token from `?token=` (moved to localStorage and dropped from the address bar) or
// localStorage, or typed into the test panel; sent as Socket.IO `auth: {token}` and as
// `Authorization: Bearer` on fetches. `?store=` preselects a store; the last choice is remembered.
import { connectSocket, reconnectSocket, renderConnInfo, renderConnection } from './js/connection.js';
import { byTestId, keepRelativeTimesFresh } from './js/dom.js';
import { el } from './js/elements.js';
import { applyStatus, onProgress } from './js/live-run.js';
import { renderLtv, wireMetricToggle } from './js/ltv-view.js';
import { hideBanner } from './js/notices.js';
import { renderProgress } from './js/progress-view.js';
import { loadQuarantine } from './js/quarantine-view.js';
import { loadRole } from './js/roles.js';
import { loadRuns, renderRuns } from './js/runs-view.js';
import { state } from './js/state.js';
import { renderStatus } from './js/status-view.js';
import { loadStoreData, loadStores, wirePicker } from './js/store-picker.js';
import { resumeStore, togglePanel } from './js/stores/actions.js';
import { openStoreForm } from './js/stores/form.js';
import { noteStoreStatus, refreshStoresView, renderStoresView, wireStoresView } from './js/stores/list.js';
import { wireTestPanel } from './js/test-panel.js';
import { onTriggerResult, syncNow } from './js/trigger.js';
import { setView, viewFromHash, wireTabs } from './js/views.js';

// GET /api/me, then what the role decides: the Sync now button and the Stores tab's controls.
async function loadMe() {
  await loadRole();
  renderStatus();
  renderStoresView();
}

// A new token: everything loaded with the old one again, and a new live session.
function onToken() {
  hideBanner();
  renderConnInfo();
  loadStores();
  loadMe();
  if (state.view === 'stores') refreshStoresView();
  reconnectSocket();
}

function wireUi() {
  wirePicker();
  el.syncButton.addEventListener('click', syncNow);
  byTestId('runs-refresh').addEventListener('click', loadRuns);
  byTestId('quarantine-refresh').addEventListener('click', loadQuarantine);
  wireTestPanel(onToken);
  wireTabs();
  wireStoresView({ openStoreForm, togglePanel, resumeStore });
  wireMetricToggle();
  keepRelativeTimesFresh();
}

function main() {
  wireUi();
  renderConnection();
  renderStatus();
  renderProgress();
  renderRuns();
  renderLtv();
  connectSocket({
    progress: onProgress,
    status: (status) => {
      noteStoreStatus(state.storeId, status);
      applyStatus(status);
    },
    triggerResult: onTriggerResult,
    connected: loadStoreData,
    disconnected: renderStatus,
  });
  loadMe();
  loadStores();
  setView(viewFromHash());
}

main();
