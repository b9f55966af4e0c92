// Store management, the list (the Stores tab, also reached as #stores; routes and JSON in
// docs/STORES-HTTP.md): each store's state, schedules and next fire per data type, time zone and
// last success (GET /api/sync/status/:id, a few stores at a time), and the row's actions as far as
// the caller's role allows them. Built the first time the tab opens; refreshed while it is open.
// The add / edit form (form.js) and a row's actions (actions.js) import this module; app.js hands
// their entry points in (wireStoresView).
import { fetchAllStores, fetchStatus } from '../api.js';
import { byTestId, h, timeEl } from '../dom.js';
import { el } from '../elements.js';
import { on } from '../events.js';
import { describeSchedule, num, str, time } from '../format.js';
import { loadStatus } from '../live-run.js';
import { can, kRoleSummary } from '../roles.js';
import { state } from '../state.js';
import { loadStoreData, selectStore, updatePicker } from '../store-picker.js';
import { setView } from '../views.js';
import { storeSchedules } from './model.js';

// The store list: statuses fetched this many at a time, and everything reloaded this often while
// the Stores tab is open.
const kStatusConcurrency = 4;
const kStoresRefreshMs = 30000;

// The Stores tab's own state (sv: "stores view"); the store list itself is state.stores.
export const sv = {
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

// What the buttons open and do: {openStoreForm (form.js), togglePanel, resumeStore (actions.js)}.
let handlers = null;

// Start-up (app.js): the tab follows the view shown ('view'), the first store list
// ('stores-loaded') and the statuses the dashboard fetches ('store-status').
export function wireStoresView({ openStoreForm, togglePanel, resumeStore }) {
  handlers = { openStoreForm, togglePanel, resumeStore };
  on('view', (view) => {
    if (view === 'stores') openStoresView();
    else closeStoresView();
  });
  on('stores-loaded', () => renderStoresView());
  on('store-status', ({ storeId, status }) => noteStoreStatus(storeId, status));
}

// The tab opened: build it the first time, then refresh it now and every kStoresRefreshMs.
function openStoresView() {
  if (!sv.built) buildStoresView();
  renderStoresView();
  refreshStoresView();
  clearInterval(sv.timer);
  sv.timer = setInterval(() => {
    if (!document.hidden) refreshStoresView();
  }, kStoresRefreshMs);
}

// The tab stopped showing: no more refreshes until it opens again.
function closeStoresView() {
  clearInterval(sv.timer);
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
  e.add.addEventListener('click', () => handlers.openStoreForm('create'));
  sv.built = true;
}

// The answer to the last list-level action (data-runId when it queued a run).
export function setStoresFeedback(kind, text, runId = '') {
  if (!sv.built) return;
  const f = sv.el.feedback;
  f.dataset.kind = kind;
  f.dataset.runId = runId;
  f.textContent = text;
}

// The list and every listed store's status (kStatusConcurrency at a time).
export async function refreshStoresView() {
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
        const body = await fetchStatus(id);
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
export function noteStoreStatus(storeId, status) {
  if (!storeId || !status || typeof status !== 'object') return;
  sv.statuses.set(storeId, { status });
  renderStoreRow(storeId);
}

// A store as the gateway answered it (create, edit, pause, resume, 409): the list follows.
export function upsertStoreLocal(store) {
  if (!store || typeof store !== 'object' || !str(store.storeId)) return;
  const i = state.stores.findIndex((s) => s.storeId === store.storeId);
  if (i >= 0) state.stores[i] = store;
  else state.stores.push(store);
  updatePicker();
  renderStoresView();
}

export function removeStoreLocal(storeId) {
  state.stores = state.stores.filter((s) => s.storeId !== storeId);
  sv.statuses.delete(storeId);
  updatePicker();
  renderStoresView();
}

// The role badge, "Add store", and one row per store in the list's order.
export function renderStoresView() {
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

export function updateStoreRow(row) {
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
    if (can('edit')) actions.push(button('store-edit', 'Edit', `Edit ${label}`, () => handlers.openStoreForm('edit', id)));
    if (enabled && can('pause')) actions.push(button('store-pause', 'Pause…', `Pause ${label}…`, () => handlers.togglePanel(row, 'pause')));
    if (!enabled && can('resume')) actions.push(button('store-resume', 'Resume', `Resume ${label}`, () => handlers.resumeStore(row)));
    if (can('resync')) actions.push(button('store-resync', 'Re-sync everything…', `Re-sync everything of ${label}…`, () => handlers.togglePanel(row, 'resync')));
    if (can('backfill')) actions.push(button('store-backfill', 'Backfill…', `Backfill ${label}…`, () => handlers.togglePanel(row, 'backfill')));
    if (can('delete')) actions.push(button('store-delete', 'Delete…', `Delete ${label}…`, () => handlers.togglePanel(row, 'delete'), 'danger'));
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

export function setRowAnswer(row, kind, text, runId = '') {
  row.answer = { kind, text, runId };
  updateStoreExtra(row);
}

function openInDashboard(storeId) {
  if (storeId !== state.storeId) selectStore(storeId);
  else loadStoreData();
  setView('dashboard');
  el.picker.focus();
}

// After an action: the store's status (and the dashboard's, when it shows this store).
export function afterStoreChange(storeId) {
  loadStoreStatuses([storeId]);
  if (storeId === state.storeId) loadStatus();
}
