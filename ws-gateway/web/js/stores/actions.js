// Store management, a row's actions: the confirmation panels (pause with a note, re-sync
// everything, backfill a date range, delete) and the requests of pause, resume, re-sync, backfill
// and delete, each answered in the row.
import { api, storePath } from '../api.js';
import { byTestId, h } from '../dom.js';
import { dayString, runNote, str } from '../format.js';
import { closeStoreForm } from './form.js';
import { afterStoreChange, refreshStoresView, removeStoreLocal, setRowAnswer, setStoresFeedback, sv, updateStoreRow, upsertStoreLocal } from './list.js';
import { storeLabel } from './model.js';

// "A run is already queued or running (run …); <then> when it has finished."
const busyText = (runId, then) => `A run is already queued or running${runNote(runId)}; ${then} when it has finished.`;

// Opens the row's confirmation panel of `kind` (pause | resync | backfill | delete), or closes it.
export function togglePanel(row, kind) {
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

// The panel's form: what the action does, its fields, Confirm and Cancel (Escape too).
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

export function resumeStore(row) {
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

function resyncStore(row) {
  storeAction(row, 'resync', `/api/stores/${storePath(row.id)}/resync`, {
    body: {},
    ok: (answer) => {
      closePanel(row);
      const runId = str(answer.runId);
      setRowAnswer(row, 'ok', `Full re-sync queued${runNote(runId)}. “Open” follows it on the dashboard.`, runId);
      afterStoreChange(row.id);
    },
    fail: (err) => {
      if (err.status !== 409) return false;
      closePanel(row);
      const runId = str(err.body?.runId);
      setRowAnswer(row, 'error', busyText(runId, 're-sync'), runId);
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
      setRowAnswer(row, 'ok', `Backfill of the orders created ${from} – ${to} queued${runNote(runId)}.`, runId);
      afterStoreChange(row.id);
    },
    fail: (err) => {
      if (err.status === 409) {
        const runId = str(err.body?.runId);
        setPanelError(row, busyText(runId, 'start the backfill'));
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
