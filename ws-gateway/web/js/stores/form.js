// Store management, the add / edit form: a field per member of the store JSON (kFormFields), the
// gateway's 400 shown next to the field it names, a 409 on an edit offering the current values,
// and on create the new store's first sync queued right away when asked.
import { api, postTrigger, storePath } from '../api.js';
import { byTestId, h } from '../dom.js';
import { num, obj, runNote, str } from '../format.js';
import { can } from '../roles.js';
import { state } from '../state.js';
import { browserZone, changedMembers, formPathOf, getPath, kDefaultSchedules, kFormFields, timeZones } from './form-fields.js';
import { afterStoreChange, setStoresFeedback, sv, upsertStoreLocal } from './list.js';
import { stalenessOf, storeLabel, storeSchedules } from './model.js';
import { schedulePreview } from './schedule-preview.js';

// Builds the form once (fields from kFormFields); openStoreForm reuses it for every add and edit.
function buildStoreForm() {
  const f = {
    mode: '', storeId: '', base: null, dirty: false, saving: false, conflict: null,
    inputs: new Map(), errors: new Map(), previews: {},
  };
  const field = (def) => {
    const id = `store-field-${def.path.replace('.', '-')}`;
    let input;
    if (def.kind === 'choice') {
      input = h('select', { id, name: def.path }, def.choices.map(([v, text]) => h('option', { value: v }, text)));
    } else if (def.kind === 'timezone') {
      const zones = timeZones();
      // Without Intl.supportedValuesOf, a text field (the gateway checks the name).
      input = zones.length > 1 ? h('select', { id, name: def.path }, zones.map((z) => h('option', { value: z }, z)))
        : h('input', { id, name: def.path, type: 'text', placeholder: 'UTC or e.g. Europe/London', autocomplete: 'off', spellcheck: 'false' });
    } else {
      input = h('input', {
        id, name: def.path, type: def.kind === 'int' ? 'number' : 'text', placeholder: def.placeholder,
        min: def.kind === 'int' ? '0' : null, step: def.kind === 'int' ? '1' : null,
        inputmode: def.kind === 'int' ? 'numeric' : null, maxlength: def.max ? String(def.max) : null,
        autocomplete: 'off', spellcheck: 'false', class: def.kind === 'cron' ? 'mono' : null,
      });
    }
    input.dataset.testid = 'store-input';
    input.dataset.field = def.path;
    const error = h('p', { id: `${id}-error`, class: 'field-error', dataset: { testid: 'store-field-error', field: def.path }, hidden: true });
    const hint = def.hint ? h('p', { id: `${id}-hint`, class: 'field-hint' }, def.hint) : null;
    const described = [hint ? hint.id : '', error.id];
    f.inputs.set(def.path, input);
    f.errors.set(def.path, error);
    const wrap = h('div', { class: `form-field form-field-${def.kind ?? 'text'}` }, h('label', { for: id }, def.label), input, hint, error);
    if (def.kind === 'cron') {
      const preview = h('div', { id: `${id}-preview`, class: 'schedule-preview', 'aria-live': 'polite',
        dataset: { testid: 'schedule-preview', type: def.type, state: 'idle', schedule: '', timezone: '' } });
      described.push(preview.id);
      f.previews[def.type] = { el: preview, seq: 0, timer: 0 };
      wrap.append(preview);
      input.addEventListener('input', () => schedulePreview(f, def.type));
    }
    input.setAttribute('aria-describedby', described.filter(Boolean).join(' '));
    input.addEventListener('input', () => {
      f.dirty = true;
      setFieldError(f, def.path, '');
    });
    return wrap;
  };
  const group = (name) => kFormFields.filter((d) => d.group === name).map(field);

  f.title = h('h2', { id: 'store-form-title', dataset: { testid: 'store-form-title' } }, 'Add a store');
  f.syncAfter = h('input', { id: 'store-sync-after-create', type: 'checkbox', checked: true, dataset: { testid: 'store-sync-after-create' } });
  f.syncAfterWrap = h('div', { class: 'form-check' }, f.syncAfter,
    h('label', { for: f.syncAfter.id }, 'Run the first sync right after creating it'));
  f.feedback = h('p', { class: 'action-note', role: 'status', dataset: { testid: 'store-form-feedback' } });
  f.conflictText = h('p', {});
  f.conflictReload = h('button', { type: 'button', class: 'btn btn-secondary btn-small', dataset: { testid: 'store-conflict-reload' } }, 'Load their version');
  f.conflict = null;
  f.conflictBox = h('div', { class: 'conflict', role: 'alert', dataset: { testid: 'store-conflict' }, hidden: true }, f.conflictText, f.conflictReload);
  f.save = h('button', { type: 'submit', class: 'btn btn-primary', dataset: { testid: 'store-save' } }, 'Create store');
  f.cancel = h('button', { type: 'button', class: 'btn btn-ghost', dataset: { testid: 'store-cancel' } }, 'Cancel');
  f.form = h('form', { class: 'store-form', novalidate: true, 'aria-labelledby': 'store-form-title', dataset: { testid: 'store-form', mode: '' } },
    h('fieldset', { class: 'form-group' }, h('legend', {}, 'Store'), h('div', { class: 'form-grid' }, group('store'))),
    h('fieldset', { class: 'form-group' }, h('legend', {}, 'Schedules'),
      h('div', { class: 'form-grid' }, group('schedule')),
      h('div', { class: 'form-grid form-grid-types' },
        h('div', { class: 'type-col' }, h('h3', {}, 'Orders'), group('orders')),
        h('div', { class: 'type-col' }, h('h3', {}, 'Ad spend'), group('ads')))),
    h('fieldset', { class: 'form-group' }, h('legend', {}, 'Connection'), h('div', { class: 'form-grid' }, group('conn'))),
    h('fieldset', { class: 'form-group' }, h('legend', {}, 'Notifications'), h('div', { class: 'form-grid' }, group('notify'))),
    f.syncAfterWrap,
    f.conflictBox,
    h('div', { class: 'form-actions' }, f.save, f.cancel, f.feedback));
  f.inputs.get('timezone').addEventListener(f.inputs.get('timezone').tagName === 'SELECT' ? 'change' : 'input', () => {
    f.dirty = true;
    setFieldError(f, 'timezone', '');
    schedulePreview(f, 'orders', 0);
    schedulePreview(f, 'ads', 0);
  });
  f.form.addEventListener('submit', (event) => {
    event.preventDefault();
    submitStoreForm(f);
  });
  f.form.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && !f.saving) closeStoreForm();
  });
  f.cancel.addEventListener('click', () => closeStoreForm());
  f.conflictReload.addEventListener('click', () => {
    const theirs = f.conflict;
    if (!theirs) return;
    fillStoreForm(f, theirs);
    setFormFeedback(f, 'info', `Loaded the current version (${num(theirs.version)}). Make your change again and save.`);
    f.inputs.get('displayName').focus();
  });
  sv.el.formCard.replaceChildren(h('div', { class: 'card-head' }, f.title), f.form);
  return f;
}

// The error under one field ("" clears it); the input is aria-invalid while it or its schedule
// preview has one.
function setFieldError(f, path, text) {
  const error = f.errors.get(path);
  const input = f.inputs.get(path);
  if (!error) return;
  error.textContent = text;
  error.hidden = !text;
  const previewBad = f.previews[path.split('.')[1]]?.el.dataset.state === 'error' && path.startsWith('schedules.');
  input.setAttribute('aria-invalid', String(Boolean(text) || previewBad));
}

function clearFieldErrors(f) {
  for (const path of f.errors.keys()) setFieldError(f, path, '');
}

function setFormFeedback(f, kind, text) {
  f.feedback.dataset.kind = kind;
  f.feedback.textContent = text;
}

function hideConflict(f) {
  f.conflict = null;
  f.conflictBox.hidden = true;
}

// Puts `store` (or the create defaults) into the form; it becomes what a save replaces.
function fillStoreForm(f, store) {
  hideConflict(f);
  clearFieldErrors(f);
  f.base = store;
  f.dirty = false;
  const set = (path, value) => { f.inputs.get(path).value = value; };
  const schedules = storeSchedules(store);
  set('storeId', str(store?.storeId));
  set('displayName', str(store?.displayName));
  set('schedules.orders', schedules.orders);
  set('schedules.ads', schedules.ads);
  const tzInput = f.inputs.get('timezone');
  const tz = str(store?.timezone) || 'UTC';
  if (tzInput.tagName === 'SELECT' && ![...tzInput.options].some((o) => o.value === tz)) {
    tzInput.append(h('option', { value: tz }, tz));  // a zone this browser does not list (an alias)
  }
  tzInput.value = tz;
  for (const type of ['orders', 'ads']) {
    const v = stalenessOf(store, type);
    set(`stalenessSeconds.${type}`, v > 0 ? String(v) : '');
  }
  const jitter = num(store?.jitterSeconds);
  set('jitterSeconds', jitter > 0 ? String(jitter) : '');
  for (const path of ['ordersApi', 'ordersApiBase', 'ordersApiVersion', 'adsApiBase', 'adsApiVersion', 'adAccountId', 'credentialsRef',
    'notifyWebhookUrl', 'notifySecretRef']) {
    set(path, str(getPath(store, path)));
  }
  f.form.dataset.version = store && f.mode === 'edit' ? String(num(store.version)) : '';
  schedulePreview(f, 'orders', 0);
  schedulePreview(f, 'ads', 0);
}

// Opens the form to add a store, or to edit `storeId` (then reloads the store, which the list may
// show older than it is).
export async function openStoreForm(mode, storeId = '') {
  if (!sv.form) sv.form = buildStoreForm();
  const f = sv.form;
  f.mode = mode;
  f.storeId = storeId;
  f.saving = false;
  const listed = state.stores.find((s) => s.storeId === storeId);
  const create = mode === 'create';
  f.form.dataset.mode = mode;
  f.form.dataset.storeId = storeId;
  f.title.textContent = create ? 'Add a store' : `Edit ${storeLabel(listed ?? { storeId })}`;
  f.save.textContent = create ? 'Create store' : 'Save changes';
  f.save.disabled = false;
  f.syncAfterWrap.hidden = !create || !can('trigger');
  const idInput = f.inputs.get('storeId');
  idInput.readOnly = !create;
  setFormFeedback(f, 'info', '');
  fillStoreForm(f, create ? { schedules: { ...kDefaultSchedules }, timezone: timeZones().includes(browserZone()) ? browserZone() : 'UTC' }
    : listed ?? { storeId });
  sv.el.formCard.hidden = false;
  sv.el.formCard.scrollIntoView?.({ block: 'start' });
  (create ? idInput : f.inputs.get('displayName')).focus();
  if (create) return;
  // The list may be older than the store: edit what is stored now (unless typing has begun).
  try {
    const body = await api(`/api/stores/${storePath(storeId)}`);
    if (f.mode === 'edit' && f.storeId === storeId && !f.dirty && obj(body.store)) {
      fillStoreForm(f, body.store);
      upsertStoreLocal(body.store);
    }
  } catch (err) {
    if (f.mode === 'edit' && f.storeId === storeId) {
      setFormFeedback(f, 'error', err.status === 404 ? 'This store no longer exists.' : `Could not load the current values: ${err.message}`);
    }
  }
}

// Closes the form; the keyboard goes back to what opened it.
export function closeStoreForm() {
  const f = sv.form;
  if (!f) return;
  const { mode, storeId } = f;
  f.mode = '';
  for (const p of Object.values(f.previews)) {
    clearTimeout(p.timer);
    p.seq += 1;
  }
  sv.el.formCard.hidden = true;
  const back = mode === 'edit' ? byTestId('store-edit', sv.rows.get(storeId)?.main) : sv.el.add;
  (back && !back.hidden ? back : sv.el.refresh).focus();
}

// The body of a save, or the fields a local check refuses.
function collectStoreForm(f) {
  const value = (path) => f.inputs.get(path).value.trim();
  const problems = [];
  const int = (path) => {
    const input = f.inputs.get(path);
    const text = input.value.trim();
    if (input.validity?.badInput || (text && !/^\d+$/.test(text))) {
      problems.push([path, 'must be a whole number of seconds (0 or more)']);
      return 0;
    }
    return text ? Number(text) : 0;
  };
  const body = {
    storeId: f.mode === 'edit' ? f.storeId : value('storeId'),
    displayName: value('displayName'),
    schedules: { orders: value('schedules.orders'), ads: value('schedules.ads') },
    timezone: value('timezone'),
    stalenessSeconds: { orders: int('stalenessSeconds.orders'), ads: int('stalenessSeconds.ads') },
    jitterSeconds: int('jitterSeconds'),
    ordersApi: value('ordersApi'),
    ordersApiBase: value('ordersApiBase'),
    ordersApiVersion: value('ordersApiVersion'),
    adsApiBase: value('adsApiBase'),
    adsApiVersion: value('adsApiVersion'),
    adAccountId: value('adAccountId'),
    credentialsRef: value('credentialsRef'),
    notifyWebhookUrl: value('notifyWebhookUrl'),
    notifySecretRef: value('notifySecretRef'),
  };
  if (f.mode === 'create') {
    if (!body.storeId) problems.push(['storeId', 'is required']);
    body.enabled = true;
  } else {
    // A save replaces the whole store: pause state as read, and the version it replaces.
    body.enabled = f.base?.enabled !== false;
    body.pauseNote = str(f.base?.pauseNote);
    body.version = num(f.base?.version);
  }
  return { body, problems };
}

// Saves: POST /api/stores (create) or PUT /api/stores/:id (edit, replacing the version read);
// a 400 is shown at the field it names, a 409 on an edit offers the current values.
async function submitStoreForm(f) {
  if (f.saving || !f.mode) return;
  hideConflict(f);
  clearFieldErrors(f);
  const { body, problems } = collectStoreForm(f);
  if (problems.length) {
    for (const [path, text] of problems) setFieldError(f, path, text);
    setFormFeedback(f, 'error', 'Fix the marked fields.');
    f.inputs.get(problems[0][0]).focus();
    return;
  }
  const create = f.mode === 'create';
  const storeId = body.storeId;
  f.saving = true;
  f.save.disabled = true;
  f.save.setAttribute('aria-busy', 'true');
  setFormFeedback(f, 'info', create ? 'Creating…' : 'Saving…');
  try {
    const answer = create ? await api('/api/stores', { method: 'POST', body })
      : await api(`/api/stores/${storePath(storeId)}`, { method: 'PUT', body });
    const store = obj(answer.store) ?? { ...body };
    const syncNow = create && !f.syncAfterWrap.hidden && f.syncAfter.checked;
    closeStoreForm();
    upsertStoreLocal(store);
    const label = storeLabel(store);
    if (create) {
      setStoresFeedback('ok', `Created ${label}.${syncNow ? ' Queuing its first sync…' : ''}`);
      if (syncNow) firstSync(store);
    } else {
      setStoresFeedback('ok', `Saved ${label} (version ${num(store.version)}).`);
    }
    afterStoreChange(storeId);
  } catch (err) {
    const path = formPathOf(err.body?.field);
    if (err.status === 409 && !create && obj(err.body?.store)) {
      const theirs = err.body.store;
      f.conflict = theirs;
      const changed = changedMembers(f.base, theirs);
      f.conflictText.textContent = `Someone else changed this store while you were editing it (it is now at version ${num(theirs.version)}`
        + `${changed.length ? `; changed: ${changed.join(', ')}` : ''}). Your changes were not saved.`;
      f.conflictBox.hidden = false;
      upsertStoreLocal(theirs);
      setFormFeedback(f, 'error', 'Not saved: the store changed meanwhile.');
      f.conflictReload.focus();
    } else if (err.status === 409 && create) {
      setFieldError(f, 'storeId', err.message || 'A store with this id already exists.');
      setFormFeedback(f, 'error', 'Not created: the id is taken.');
      f.inputs.get('storeId').focus();
    } else if (err.status === 400 && path) {
      setFieldError(f, path, err.message);
      setFormFeedback(f, 'error', `Not ${create ? 'created' : 'saved'}: check the marked field.`);
      f.inputs.get(path).focus();
    } else {
      const field = str(err.body?.field);
      setFormFeedback(f, 'error', `Not ${create ? 'created' : 'saved'}: ${err.status === 403 ? `refused (${err.message})`
        : err.status === 404 ? 'this store no longer exists' : err.message}${field && !err.message.includes(field) ? ` (${field})` : ''}`);
    }
  } finally {
    f.saving = false;
    f.save.disabled = false;
    f.save.setAttribute('aria-busy', 'false');
  }
}

// Queues a new store's first sync (a manual trigger; a run already queued for it is as good).
async function firstSync(store) {
  const storeId = str(store.storeId);
  const label = storeLabel(store);
  try {
    const body = await postTrigger(storeId);
    const runId = str(body.runId);
    setStoresFeedback('ok', `Created ${label}; its first sync is queued${runNote(runId)}. “Open” follows it on the dashboard.`, runId);
  } catch (err) {
    const runId = str(err.body?.runId);
    if (err.status === 409 && runId) {
      setStoresFeedback('ok', `Created ${label}; its first sync is already under way${runNote(runId)}.`, runId);
    } else {
      setStoresFeedback('error', `Created ${label}, but its first sync could not be queued: ${err.message}`);
    }
  }
  afterStoreChange(storeId);
}
