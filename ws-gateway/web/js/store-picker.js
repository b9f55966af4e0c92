// The store picker and which store the dashboard shows: the first store list (with a backoff
// while the gateway is away), the first selection (?store=, then the last choice), following the
// list when the Stores tab changes it, and loading everything the cards show of the chosen store.
import { fetchAllStores } from './api.js';
import { sendSelectStore } from './connection.js';
import { h, storage } from './dom.js';
import { el } from './elements.js';
import { emit } from './events.js';
import { str } from './format.js';
import { loadStatus } from './live-run.js';
import { loadLtv, renderLtv } from './ltv-view.js';
import { hideBanner, setFeedback, showBanner } from './notices.js';
import { renderProgress } from './progress-view.js';
import { loadQuarantine } from './quarantine-view.js';
import { loadRuns, renderRuns } from './runs-view.js';
import { emptyRun, kStorageStore, params, replaceQuery, state } from './state.js';
import { renderStatus } from './status-view.js';
import { storeLabel } from './stores/model.js';
import { setView } from './views.js';

let storesLoaded = false;  // the first store list arrived (it decides the first selection)

// Everything the dashboard shows of the store shown, fetched again.
export function loadStoreData() {
  loadStatus();
  loadRuns();
  loadLtv();
  loadQuarantine();
}

// The first store list (again after a new token), retried with a backoff while the gateway is
// away; a refusal asks for a token. The Stores tab follows ('stores-loaded').
let storesRetryMs = 1000;
export async function loadStores() {
  try {
    state.stores = await fetchAllStores();
    storesRetryMs = 1000;
    storesLoaded = true;
    hideBanner();
    renderPicker();
    emit('stores-loaded');
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

// The first selection: ?store=, else the store shown, else the one remembered, else the first.
function renderPicker() {
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
export function updatePicker() {
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
    showTitle(current, state.storeId);
  } else {
    selectStore(str(state.stores[0].storeId));
  }
}

const showTitle = (store, storeId) => { document.title = `${str(store?.displayName) || storeId} · Autosync`; };

// Forgets what the dashboard showed of the previous store and renders its cards empty; the
// cohort card says `ltvState` (loading, or empty when no store is left).
function forgetShownStore(ltvState) {
  state.status = null;
  state.run = emptyRun();
  state.runs = [];
  state.ltv = null;
  state.ltvState = ltvState;
  state.triggerPending = false;
  setFeedback('info', '');
  renderStatus();
  renderProgress();
  renderRuns();
  renderLtv();
}

// No store to show (the last one was deleted).
function clearSelection() {
  state.storeId = '';
  storage.set(kStorageStore, '');
  params.delete('store');
  replaceQuery();
  document.title = 'Autosync · Customer LTV';
  forgetShownStore('empty');
}

// Shows `storeId` on the dashboard (remembered, and in the address bar as ?store=).
export function selectStore(storeId) {
  const changed = storeId !== state.storeId;
  state.storeId = storeId;
  el.picker.value = storeId;
  storage.set(kStorageStore, storeId);
  if (params.get('store') !== storeId) {
    params.set('store', storeId);
    replaceQuery();
  }
  showTitle(state.stores.find((s) => s.storeId === storeId), storeId);
  if (changed) forgetShownStore('loading');
  sendSelectStore(storeId);
  loadStoreData();
}

// The picker's own change.
export function wirePicker() {
  el.picker.addEventListener('change', () => {
    if (el.picker.value) selectStore(el.picker.value);
  });
}
