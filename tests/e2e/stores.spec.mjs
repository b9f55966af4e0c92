// End-to-end tests of store management on the dashboard's Stores tab (ws-gateway/web/, routes in
// docs/STORES-HTTP.md) in Debian's headless Chromium, driven by playwright-core under `node --test`.
//
// Target, as dashboard.spec.mjs: AUTOSYNC_E2E_URL (a running gateway; AUTOSYNC_E2E_TOKEN when it
// requires a token, which must then carry the admin role), or, unset, mock-gateway.mjs started in
// this process. With AUTOSYNC_E2E_GATEWAY_ARGV the tests start that gateway themselves unless one
// already answers at AUTOSYNC_E2E_URL (run-with-system.sh runs this file after dashboard.spec.mjs,
// which stops its gateway at the end).
//
// The main flow creates a store through the form and lets its first sync run for real, so
// against a real gateway it needs a store API the worker can read: AUTOSYNC_E2E_SIM_BASE (store-sim,
// e.g. http://127.0.0.1:8090; AUTOSYNC_E2E_SIM_URL is taken too), AUTOSYNC_E2E_SIM_STORE (a store
// the sim serves that no registered store reads: the new store's orders come from
// <base>/shops/<it> and its ad account is <it>; default acme) and AUTOSYNC_E2E_SIM_CREDENTIALS_REF
// (what the worker reads the sim's token from; default env:SIM_TOKEN). Without a sim base the main
// flow is skipped against a real gateway. The role cases need the mock's tokens.
//
// Every wait is on a page condition (or an API answer) with a deadline; nothing sleeps. A real
// first sync can take tens of seconds: AUTOSYNC_E2E_FLOW_TIMEOUT_MS (default 180 s real, 30 s
// mock) bounds each wait for a run.
//
// Run: cd tests/e2e && npm test   (mock, both spec files)   or   tests/e2e/run-with-system.sh
// Screenshots: tests/e2e/artifacts/stores*.png

import assert from 'node:assert/strict';
import path from 'node:path';
import process from 'node:process';
import { after, before, describe, test } from 'node:test';
import {
  gatewayAnswers, kArtifacts, kExternalUrl, kGatewayArgv, kToken, kViewport, kWaitMs, launchBrowser,
  startGateway, stopGateway, tid,
} from './harness.mjs';
import { startMockGateway } from './mock-gateway.mjs';

const kFlowWaitMs = Number(process.env.AUTOSYNC_E2E_FLOW_TIMEOUT_MS || (kExternalUrl ? 180000 : 30000));
const kSimBase = (process.env.AUTOSYNC_E2E_SIM_BASE || process.env.AUTOSYNC_E2E_SIM_URL || '').replace(/\/+$/, '');
const kSimStore = process.env.AUTOSYNC_E2E_SIM_STORE || 'acme';
const kSimCredentialsRef = process.env.AUTOSYNC_E2E_SIM_CREDENTIALS_REF || 'env:SIM_TOKEN';
// The sim store breaks every data rule once (store-sim ":invalid"): its first sync completes with
// warnings and the dashboard lists what it kept out.
const kSimInvalid = process.env.AUTOSYNC_E2E_SIM_INVALID === '1';
// Where a test store's APIs point: the real sim, or any URL for the mock (it fetches nothing).
const kApiBase = kSimBase || 'http://127.0.0.1:8090';
const kTerminalRun = ['completed', 'failed', 'skipped', 'cancelled'];
const row = (storeId) => `${tid('store-row')}[data-store-id="${storeId}"]`;
const input = (field) => `${tid('store-input')}[data-field="${field}"]`;
const fieldError = (field) => `${tid('store-field-error')}[data-field="${field}"]`;
const preview = (type) => `${tid('schedule-preview')}[data-type="${type}"]`;

let browser;
let mock;
let gateway;
let baseUrl;

before(async () => {
  browser = await launchBrowser();
  if (kExternalUrl) {
    baseUrl = new URL(kExternalUrl).toString();
    if (kGatewayArgv && !(await gatewayAnswers(baseUrl))) gateway = await startGateway(baseUrl);
  } else {
    mock = await startMockGateway({ port: 0, stepMs: 100 });
    baseUrl = mock.url;
  }
});

after(async () => {
  await browser?.close();
  await mock?.close({ stopRuns: true });
  await stopGateway(gateway);
});

// --- helpers ---------------------------------------------------------------------------------

// The Stores tab (or the dashboard) with `token` handed over as ?token=.
function pageUrl(base, { token = kToken, hash = 'stores' } = {}) {
  const url = new URL(base);
  if (token) url.searchParams.set('token', token);
  url.hash = hash;
  return url.toString();
}

// A fresh page (own context) recording uncaught errors. Failed requests the tests cause on purpose
// (400, 409) make Chromium log "Failed to load resource"; those are not the page's problems.
async function openPage() {
  const context = await browser.newContext({ viewport: kViewport, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.setDefaultTimeout(kWaitMs);
  const problems = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) problems.push(`console: ${msg.text()}`);
  });
  return { context, page, problems };
}

// The gateway's JSON API, for setting up and checking what the page did.
async function callApi(method, route, body, token = kToken) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(new URL(route, baseUrl), { method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10000) });
  let json = null;
  try { json = await res.json(); } catch { /* not JSON */ }
  return { status: res.status, body: json };
}

// Deletes `storeId` when it exists (a run interrupted before its own cleanup leaves one behind).
async function removeStore(storeId) {
  const { status } = await callApi('GET', `/api/stores/${storeId}`);
  if (status === 200) {
    const del = await callApi('DELETE', `/api/stores/${storeId}`);
    assert.equal(del.status, 200, `DELETE ${storeId}: ${JSON.stringify(del.body)}`);
  }
}

// A store body the real worker can sync (pointing at store-sim), or the mock accepts.
function storeBody(storeId, extra = {}) {
  return {
    storeId, displayName: `E2E ${storeId}`,
    schedules: { orders: '0 4 1 1 *', ads: '30 4 1 1 *' }, timezone: 'America/New_York',
    ordersApiBase: `${kApiBase}/shops/${kSimStore}`, adsApiBase: kApiBase, adAccountId: kSimStore,
    credentialsRef: kSimCredentialsRef, ...extra,
  };
}

async function waitText(page, selector, pattern, options = {}) {
  await page.waitForFunction(([sel, source]) => {
    const node = document.querySelector(sel);
    return node && new RegExp(source).test(node.textContent);
  }, [selector, pattern.source], options);
}

async function openStoresTab(page, base, options) {
  await page.goto(pageUrl(base, options), { waitUntil: 'domcontentloaded' });
  await page.waitForSelector(`${tid('stores-view')}:not([hidden])`);
  await page.waitForSelector(`${tid('store-list')}[data-state="ready"]`);
}

async function switchTab(page, view) {
  await page.click(tid(`view-tab-${view}`));
  await page.waitForSelector(`${tid(`${view}-view`)}:not([hidden])`);
}

// The preview of `type` once it shows the fires of `schedule` (or its error): its state and fires.
async function previewOf(page, type, schedule, timezone) {
  const sel = `${preview(type)}[data-schedule="${schedule}"]${timezone ? `[data-timezone="${timezone}"]` : ''}:is([data-state="ready"], [data-state="error"])`;
  await page.waitForSelector(sel);
  return page.$eval(sel, (node) => ({
    state: node.dataset.state,
    error: node.querySelector('[data-testid="preview-error"]')?.textContent ?? '',
    fires: [...node.querySelectorAll('[data-testid="preview-fire"]')].map((li) => ({ utc: li.dataset.utc, local: li.dataset.local })),
  }));
}

// Waits until the dashboard's run list shows `runId` ended; its status.
async function runEnded(page, runId) {
  const handle = await page.waitForFunction(([sel, id, ended]) => {
    const item = document.querySelector(`${sel}[data-run-id="${id}"]`);
    return item && ended.includes(item.dataset.status) ? item.dataset.status : false;
  }, ['[data-testid="run-item"]', runId, kTerminalRun], { timeout: kFlowWaitMs });
  return handle.jsonValue();
}

async function runError(page, runId) {
  return (await page.$(`${tid('run-error')}[data-run-id="${runId}"]`))?.textContent() ?? '';
}

// The run id a feedback element names once it has answered (data-kind ok or error).
async function feedbackRun(page, selector) {
  await page.waitForSelector(`${selector}:is([data-kind="ok"], [data-kind="error"])`);
  await page.waitForFunction((sel) => {
    const node = document.querySelector(sel);
    return node.dataset.kind === 'error' || node.dataset.runId;
  }, selector);
  const kind = await page.getAttribute(selector, 'data-kind');
  const text = await page.textContent(selector);
  assert.equal(kind, 'ok', `the action was refused: ${text}`);
  return page.getAttribute(selector, 'data-run-id');
}

// "YYYY-MM-DD" of the local date `days` from today.
function day(days) {
  const d = new Date();
  d.setDate(d.getDate() + days);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

// --- tests -----------------------------------------------------------------------------------

describe('store management', () => {
  test('create (live preview, inline errors) → first sync and cohorts → edit the schedule → pause → resume → re-sync → backfill → delete', {
    skip: kExternalUrl && !kSimBase ? 'needs AUTOSYNC_E2E_SIM_BASE: a store-sim the new store can sync from' : false,
    timeout: 6 * kFlowWaitMs + 4 * kWaitMs,
  }, async () => {
    const storeId = 'e2e-store-flow';
    const real = Boolean(kExternalUrl);
    await removeStore(storeId);
    const { context, page, problems } = await openPage();
    try {
      await openStoresTab(page, baseUrl);
      await page.waitForSelector(`${tid('store-add')}:not([hidden])`);  // an admin (or a role the gateway does not name)
      assert.equal(await page.getAttribute(tid('view-tab-stores'), 'aria-selected'), 'true');
      assert.equal(await page.isHidden(tid('dashboard-view')), true);

      // --- Create: a bad cron first, shown by the live preview and, on save, next to its field.
      await page.click(tid('store-add'));
      await page.waitForSelector(`${tid('store-form')}[data-mode="create"]`);
      assert.equal(await page.evaluate(() => document.activeElement.dataset.field), 'storeId');
      // Labelled fields, as assistive technology finds them.
      for (const [label, field] of [['Store ID', 'storeId'], ['Time zone', 'timezone'], ['Orders schedule (cron)', 'schedules.orders'],
        ['Ads schedule (cron)', 'schedules.ads'], ['Credentials reference', 'credentialsRef']]) {
        assert.equal(await page.getByLabel(label, { exact: true }).getAttribute('data-field'), field, label);
      }
      assert.ok((await page.locator(input('timezone')).locator('option').count()) > 100, 'the time-zone picker lists few zones');
      await page.fill(input('storeId'), storeId);
      await page.fill(input('displayName'), 'E2E Flow Store');
      await page.selectOption(input('timezone'), 'America/New_York');
      await page.fill(input('schedules.orders'), '61 * * * *');
      const bad = await previewOf(page, 'orders', '61 * * * *');
      assert.equal(bad.state, 'error');
      assert.match(bad.error, /61/, `preview error: ${bad.error}`);
      assert.equal(await page.getAttribute(input('schedules.orders'), 'aria-invalid'), 'true');
      await page.fill(input('schedules.ads'), '30 4 1 1 *');
      await page.fill(input('ordersApiBase'), `${kApiBase}/shops/${kSimStore}`);
      await page.fill(input('ordersApiVersion'), '2024-01');
      await page.fill(input('adsApiBase'), kApiBase);
      await page.fill(input('adsApiVersion'), 'v19.0');
      await page.fill(input('adAccountId'), kSimStore);
      await page.fill(input('credentialsRef'), 'shpat_0123456789abcdef');  // a token pasted where the reference goes
      await page.click(tid('store-save'));
      await page.waitForSelector(`${fieldError('schedules.orders')}:not([hidden])`);
      assert.match(await page.textContent(fieldError('schedules.orders')), /61/);
      const describedBy = await page.getAttribute(input('schedules.orders'), 'aria-describedby');
      assert.ok(describedBy.split(' ').includes(await page.getAttribute(fieldError('schedules.orders'), 'id')), 'the error is not tied to its input');
      assert.equal(await page.isVisible(`${tid('store-form')}[data-mode="create"]`), true, 'the form closed on a refused save');
      assert.equal(await page.getAttribute(tid('store-form-feedback'), 'data-kind'), 'error');

      // The fixed cron: its error goes, five fires in the chosen zone appear as it is typed.
      await page.fill(input('schedules.orders'), '0 4 1 1 *');
      assert.equal(await page.isHidden(fieldError('schedules.orders')), true, 'the field error stayed after an edit');
      const good = await previewOf(page, 'orders', '0 4 1 1 *', 'America/New_York');
      assert.equal(good.state, 'ready', good.error);
      assert.equal(good.fires.length, 5);
      for (const fire of good.fires) assert.match(fire.local, /^\d{4}-01-01T04:00:00-05:00$/, JSON.stringify(good.fires));
      const utcs = good.fires.map((f) => Date.parse(f.utc));
      assert.ok(utcs[0] > Date.now() && utcs.every((t, i) => i === 0 || t > utcs[i - 1]), `fires: ${JSON.stringify(good.fires)}`);
      assert.equal((await previewOf(page, 'ads', '30 4 1 1 *', 'America/New_York')).fires.length, 5);
      assert.equal(await page.getAttribute(input('schedules.orders'), 'aria-invalid'), 'false');

      // Then the credentials reference the gateway refuses (it looks like the token itself).
      await page.click(tid('store-save'));
      await page.waitForSelector(`${fieldError('credentialsRef')}:not([hidden])`);
      assert.match(await page.textContent(fieldError('credentialsRef')), /env:NAME|file:/);
      assert.ok(!(await page.textContent(fieldError('credentialsRef'))).includes('shpat_'), 'the error echoed the secret');
      assert.equal(await page.isHidden(fieldError('schedules.orders')), true);
      await page.fill(input('credentialsRef'), kSimCredentialsRef);
      // A notification webhook in clear to another host is refused at its field; one on this
      // machine (nothing listens there: a notification would only fail) is kept with its key.
      await page.fill(input('notifyWebhookUrl'), 'http://hooks.example.com/autosync');
      await page.fill(input('notifySecretRef'), 'env:E2E_HOOK_KEY');
      await page.click(tid('store-save'));
      await page.waitForSelector(`${fieldError('notifyWebhookUrl')}:not([hidden])`);
      assert.match(await page.textContent(fieldError('notifyWebhookUrl')), /https:\/\//);
      await page.fill(input('notifyWebhookUrl'), 'http://127.0.0.1:9/autosync-hook');
      // Orders through Shopify's GraphQL Admin API (store-sim speaks it too).
      await page.selectOption(input('ordersApi'), 'graphql');
      assert.equal(await page.isChecked(tid('store-sync-after-create')), true);
      await page.click(tid('store-save'));

      // Created: the form closes, the row appears with its schedules, and its first sync is queued.
      await page.waitForSelector(`${tid('store-form-card')}[hidden]`, { state: 'attached' });
      await page.waitForSelector(row(storeId));
      const firstRun = await feedbackRun(page, tid('stores-feedback'));
      assert.ok(firstRun, 'no first sync run id');
      assert.equal(await page.getAttribute(`${row(storeId)} ${tid('store-schedule-orders')}`, 'data-schedule'), '0 4 1 1 *');
      assert.equal(await page.getAttribute(`${row(storeId)} ${tid('store-schedule-ads')}`, 'data-schedule'), '30 4 1 1 *');
      assert.equal(await page.textContent(`${row(storeId)} ${tid('store-timezone')}`), 'America/New_York');
      assert.equal(await page.getAttribute(`${row(storeId)} ${tid('store-state')}`, 'data-state'), 'active');
      assert.ok(await page.$(`${tid('store-picker')} option[value="${storeId}"]`), 'the picker does not list the new store');

      // --- The first sync runs and the cohorts appear (on the dashboard, opened from the row).
      await page.click(`${row(storeId)} ${tid('store-open')}`);
      await page.waitForSelector(`${tid('dashboard-view')}:not([hidden])`);
      assert.equal(await page.inputValue(tid('store-picker')), storeId);
      const firstOutcome = await runEnded(page, firstRun);
      assert.equal(firstOutcome, 'completed', `first sync ${firstOutcome}: ${await runError(page, firstRun)}`);
      await page.waitForSelector(`${tid('cohort-table')}[data-state="ready"]`, { timeout: kFlowWaitMs });
      assert.ok(await page.locator(tid('cohort-row')).count() > 0, 'no cohort rows after the first sync');
      assert.notEqual(await page.textContent(tid('status-last-success')), 'Never');
      if (kSimInvalid) {
        // Nine orders (one per order rule) and four ad rows were kept out, and the page says so:
        // the run is tagged, the quarantine lists each with its rule and raw JSON.
        const warnings = `${tid('run-item')}[data-run-id="${firstRun}"] ${tid('run-warnings')}`;
        await page.waitForSelector(warnings, { timeout: kFlowWaitMs });
        assert.equal(await page.getAttribute(warnings, 'data-orders'), '9');
        assert.equal(await page.getAttribute(warnings, 'data-ads'), '4');
        await page.waitForSelector(`${tid('quarantine-list')}[data-total="13"]`, { timeout: kFlowWaitMs });
        const rules = await page.$$eval(tid('quarantine-item'), (rows) => rows.map((r) => r.dataset.rule));
        for (const rule of ['bad_id', 'negative_amount', 'refund_exceeds_total', 'currency_not_iso4217',
          'created_too_early', 'created_in_future', 'updated_in_future', 'updated_before_created',
          'cancelled_before_created', 'negative_metric', 'clicks_exceed_impressions', 'date_outside_range']) {
          assert.ok(rules.includes(rule), `the quarantine does not list ${rule}: ${rules.join(', ')}`);
        }
        const refund = `${tid('quarantine-item')}[data-rule="refund_exceeds_total"]`;
        await page.click(`${refund} ${tid('quarantine-raw')} summary`);
        const raw = await page.textContent(`${refund} ${tid('quarantine-raw')} pre`);
        assert.ok(JSON.parse(raw.split('\n')[0]), 'the raw JSON of a quarantined order does not parse');
        await page.screenshot({ path: `${kArtifacts}/quarantine.png`, fullPage: true });
      }

      // --- Edit the orders schedule: the preview follows the typing, the list the save.
      await switchTab(page, 'stores');
      await page.waitForSelector(`${row(storeId)} ${tid('store-last-success')}[data-state="ok"]`);
      const version = Number(await page.getAttribute(row(storeId), 'data-version'));
      await page.click(`${row(storeId)} ${tid('store-edit')}`);
      await page.waitForSelector(`${tid('store-form')}[data-mode="edit"][data-store-id="${storeId}"]`);
      await page.waitForSelector(`${tid('store-form')}[data-version="${version}"]`);
      assert.equal(await page.inputValue(input('storeId')), storeId);
      assert.equal(await page.getAttribute(input('storeId'), 'readonly'), '');
      assert.equal(await page.inputValue(input('schedules.orders')), '0 4 1 1 *');
      assert.equal(await page.inputValue(input('timezone')), 'America/New_York');
      assert.equal(await page.inputValue(input('ordersApi')), 'graphql');
      assert.equal(await page.inputValue(input('notifyWebhookUrl')), 'http://127.0.0.1:9/autosync-hook');
      assert.equal(await page.inputValue(input('notifySecretRef')), 'env:E2E_HOOK_KEY');
      assert.equal(await page.isHidden(tid('store-sync-after-create')), true);
      await page.fill(input('schedules.orders'), '0 5 1 7 *');
      const edited = await previewOf(page, 'orders', '0 5 1 7 *', 'America/New_York');
      assert.equal(edited.state, 'ready', edited.error);
      assert.match(edited.fires[0].local, /^\d{4}-07-01T05:00:00-04:00$/);
      await page.click(tid('store-save'));
      await page.waitForSelector(`${tid('store-form-card')}[hidden]`, { state: 'attached' });
      await page.waitForSelector(`${row(storeId)} ${tid('store-schedule-orders')}[data-schedule="0 5 1 7 *"]`);
      assert.ok(Number(await page.getAttribute(row(storeId), 'data-version')) > version, 'the version did not move');
      assert.equal((await callApi('GET', `/api/stores/${storeId}`)).body.store.ordersApi, 'graphql',
        'the edit did not keep the orders API');
      await waitText(page, tid('stores-feedback'), /^Saved /);
      // The status's next orders fire is the preview's first.
      await page.waitForFunction(([sel, expected]) => {
        const t = document.querySelector(`${sel} time`);
        return t && Date.parse(t.getAttribute('datetime')) === expected;
      }, [`${row(storeId)} ${tid('store-next-orders')}`, Date.parse(edited.fires[0].utc)], { timeout: kFlowWaitMs });
      await page.screenshot({ path: path.join(kArtifacts, 'stores.png'), fullPage: true });

      // --- Pause, with a note.
      await page.click(`${row(storeId)} ${tid('store-pause')}`);
      await page.waitForSelector(`${row(storeId)} ${tid('store-panel')}[data-panel="pause"]`);
      await page.fill(`${row(storeId)} ${tid('store-pause-note-input')}`, 'e2e: maintenance window');
      await page.click(`${row(storeId)} ${tid('store-panel-confirm')}`);
      await page.waitForSelector(`${row(storeId)}[data-enabled="false"]`);
      assert.equal(await page.getAttribute(`${row(storeId)} ${tid('store-state')}`, 'data-state'), 'paused');
      assert.equal(await page.textContent(`${row(storeId)} ${tid('store-pause-note')}`), 'e2e: maintenance window');
      assert.equal(await page.getAttribute(`${row(storeId)} ${tid('store-next-orders')}`, 'data-state'), 'paused');
      assert.equal(await page.getAttribute(`${row(storeId)} ${tid('store-feedback')}`, 'data-kind'), 'ok');
      assert.equal(await page.$(`${row(storeId)} ${tid('store-panel')}`), null, 'the pause panel stayed open');
      assert.equal(await page.$(`${row(storeId)} ${tid('store-pause')}`), null);
      await switchTab(page, 'dashboard');
      await page.waitForSelector(`${tid('sync-status')}[data-enabled="false"]`, { timeout: kFlowWaitMs });
      await switchTab(page, 'stores');

      // --- Resume.
      await page.click(`${row(storeId)} ${tid('store-resume')}`);
      await page.waitForSelector(`${row(storeId)}[data-enabled="true"]`);
      assert.equal(await page.getAttribute(`${row(storeId)} ${tid('store-state')}`, 'data-state'), 'active');
      assert.equal(await page.$(`${row(storeId)} ${tid('store-pause-note')}`), null);
      await page.waitForSelector(`${row(storeId)} ${tid('store-next-orders')}[data-state="scheduled"]`, { timeout: kFlowWaitMs });

      // --- Re-sync everything: confirmed, queued, and it completes.
      await page.click(`${row(storeId)} ${tid('store-resync')}`);
      await page.waitForSelector(`${row(storeId)} ${tid('store-panel')}[data-panel="resync"]`);
      await page.click(`${row(storeId)} ${tid('store-panel-confirm')}`);
      const resyncRun = await feedbackRun(page, `${row(storeId)} ${tid('store-feedback')}`);
      assert.ok(resyncRun && resyncRun !== firstRun, `re-sync run ${resyncRun}`);
      await page.click(`${row(storeId)} ${tid('store-open')}`);
      const resyncOutcome = await runEnded(page, resyncRun);
      assert.equal(resyncOutcome, 'completed', `re-sync ${resyncOutcome}: ${await runError(page, resyncRun)}`);
      if (!real) await waitText(page, `${tid('run-item')}[data-run-id="${resyncRun}"] ${tid('run-kind')}`, /full re-sync/);

      // --- Backfill a date range: a reversed range is refused in the panel, a good one runs.
      await switchTab(page, 'stores');
      await page.click(`${row(storeId)} ${tid('store-backfill')}`);
      await page.waitForSelector(`${row(storeId)} ${tid('store-panel')}[data-panel="backfill"]`);
      await page.fill(`${row(storeId)} ${tid('store-backfill-from')}`, day(-1));
      await page.fill(`${row(storeId)} ${tid('store-backfill-to')}`, day(-40));
      await page.click(`${row(storeId)} ${tid('store-panel-confirm')}`);
      await page.waitForSelector(`${row(storeId)} ${tid('store-panel-error')}:not([hidden])`);
      await page.fill(`${row(storeId)} ${tid('store-backfill-from')}`, day(-40));
      await page.fill(`${row(storeId)} ${tid('store-backfill-to')}`, day(-1));
      await page.click(`${row(storeId)} ${tid('store-panel-confirm')}`);
      const backfillRun = await feedbackRun(page, `${row(storeId)} ${tid('store-feedback')}`);
      assert.ok(backfillRun && backfillRun !== resyncRun, `backfill run ${backfillRun}`);
      await page.click(`${row(storeId)} ${tid('store-open')}`);
      const backfillOutcome = await runEnded(page, backfillRun);
      assert.equal(backfillOutcome, 'completed', `backfill ${backfillOutcome}: ${await runError(page, backfillRun)}`);
      if (!real) await waitText(page, `${tid('run-item')}[data-run-id="${backfillRun}"] ${tid('run-kind')}`, /backfill/);

      // --- Delete, after a confirmation: the row and the picker's option go, the API says 404.
      await switchTab(page, 'stores');
      await page.click(`${row(storeId)} ${tid('store-delete')}`);
      await page.waitForSelector(`${row(storeId)} ${tid('store-panel')}[data-panel="delete"]`);
      await page.click(`${row(storeId)} ${tid('store-panel-confirm')}`);
      await page.waitForSelector(row(storeId), { state: 'detached' });
      await waitText(page, tid('stores-feedback'), /^Deleted /);
      assert.equal(await page.$(`${tid('store-picker')} option[value="${storeId}"]`), null);
      assert.notEqual(await page.inputValue(tid('store-picker')), storeId);
      assert.equal((await callApi('GET', `/api/stores/${storeId}`)).status, 404);
      assert.deepEqual(problems, [], 'errors in the page');
    } finally {
      await context.close();
      await removeStore(storeId).catch(() => {});
    }
  });

  test('an edit based on an old version: 409, the current values offered, saved on top of them (a paused store stays paused); a taken id refused on create', { timeout: 4 * kWaitMs }, async () => {
    const storeId = 'e2e-store-conflict';
    await removeStore(storeId);
    const created = await callApi('POST', '/api/stores', storeBody(storeId, { displayName: 'Before' }));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    // Paused: a save replaces the whole store, so the form must carry the pause over.
    const paused = await callApi('POST', `/api/stores/${storeId}/pause`, { note: 'kept while editing' });
    assert.equal(paused.status, 200, JSON.stringify(paused.body));
    const { context, page, problems } = await openPage();
    try {
      await openStoresTab(page, baseUrl);
      await page.click(`${row(storeId)} ${tid('store-edit')}`);
      const version = paused.body.store.version;
      await page.waitForSelector(`${tid('store-form')}[data-mode="edit"][data-store-id="${storeId}"][data-version="${version}"]`);
      assert.equal(await page.inputValue(input('displayName')), 'Before');

      // Someone else saves first.
      const theirs = await callApi('PUT', `/api/stores/${storeId}`, { ...paused.body.store, displayName: 'Changed elsewhere', jitterSeconds: 30 });
      assert.equal(theirs.status, 200, JSON.stringify(theirs.body));
      const theirVersion = theirs.body.store.version;

      await page.fill(input('displayName'), 'Mine');
      await page.click(tid('store-save'));
      await page.waitForSelector(`${tid('store-conflict')}:not([hidden])`);
      const message = await page.textContent(tid('store-conflict'));
      assert.match(message, new RegExp(`version ${theirVersion}`), message);
      assert.match(message, /displayName/);
      assert.match(message, /jitterSeconds/);
      assert.equal(await page.getAttribute(tid('store-form-feedback'), 'data-kind'), 'error');
      assert.equal(await page.getAttribute(tid('store-form'), 'data-version'), String(version));

      // Their values, then my change on top of them.
      await page.click(tid('store-conflict-reload'));
      await page.waitForSelector(`${tid('store-form')}[data-version="${theirVersion}"]`);
      assert.equal(await page.isHidden(tid('store-conflict')), true);
      assert.equal(await page.inputValue(input('displayName')), 'Changed elsewhere');
      assert.equal(await page.inputValue(input('jitterSeconds')), '30');
      await page.fill(input('displayName'), 'Mine after reload');
      await page.click(tid('store-save'));
      await page.waitForSelector(`${tid('store-form-card')}[hidden]`, { state: 'attached' });
      await waitText(page, `${row(storeId)} th`, /Mine after reload/);
      const stored = await callApi('GET', `/api/stores/${storeId}`);
      assert.equal(stored.body.store.displayName, 'Mine after reload');
      assert.equal(stored.body.store.jitterSeconds, 30, 'their change was undone');
      assert.equal(stored.body.store.version > theirVersion, true);
      assert.equal(stored.body.store.enabled, false, 'the edit resumed a paused store');
      assert.equal(stored.body.store.pauseNote, 'kept while editing');
      assert.equal(await page.getAttribute(row(storeId), 'data-enabled'), 'false');

      // Creating a store whose id is taken: the error sits next to the id.
      await page.click(tid('store-add'));
      await page.waitForSelector(`${tid('store-form')}[data-mode="create"]`);
      await page.fill(input('storeId'), storeId);
      await page.fill(input('ordersApiBase'), `${kApiBase}/shops/${kSimStore}`);
      await page.fill(input('credentialsRef'), kSimCredentialsRef);
      await page.click(tid('store-sync-after-create'));  // no first sync for a store that is not created anyway
      await page.click(tid('store-save'));
      await page.waitForSelector(`${fieldError('storeId')}:not([hidden])`);
      assert.equal(await page.getAttribute(input('storeId'), 'aria-invalid'), 'true');
      await page.click(tid('store-cancel'));
      await page.waitForSelector(`${tid('store-form-card')}[hidden]`, { state: 'attached' });
      assert.deepEqual(problems, [], 'errors in the page');
    } finally {
      await context.close();
      await removeStore(storeId).catch(() => {});
    }
  });

  test('roles: a viewer sees the stores but no control that changes anything; an operator may pause, resume and re-sync only', { skip: kExternalUrl ? 'needs the mock gateway\'s role tokens' : false, timeout: 3 * kWaitMs }, async () => {
    const gw = await startMockGateway({ port: 0, stepMs: 100, tokens: { 'viewer-secret': 'viewer', 'operator-secret': 'operator' } });
    const viewer = await openPage();
    const operator = await openPage();
    const count = (page, id) => page.locator(tid(id)).count();
    try {
      // Viewer: read only.
      const { page } = viewer;
      await openStoresTab(page, gw.url, { token: 'viewer-secret' });
      await page.waitForSelector(`${tid('role-badge')}[data-role="viewer"]`);
      await page.waitForSelector(`${row('buycosari')} ${tid('store-last-success')}:not([data-state="unknown"])`);
      assert.equal(await page.locator(tid('store-row')).count(), 3);
      assert.equal(await page.isHidden(tid('store-add')), true);
      for (const id of ['store-edit', 'store-pause', 'store-resume', 'store-resync', 'store-backfill', 'store-delete']) {
        assert.equal(await count(page, id), 0, `a viewer sees ${id}`);
      }
      assert.equal(await count(page, 'store-open'), 3);
      assert.equal(await page.getAttribute(`${row('failing-store')} ${tid('store-state')}`, 'data-state'), 'paused');
      assert.match(await page.textContent(`${row('failing-store')} ${tid('store-pause-note')}`), /every run fails/);
      await page.click(`${row('northwind-outdoors')} ${tid('store-open')}`);
      await page.waitForSelector(`${tid('sync-status')}:not([data-state="unknown"])`);
      assert.equal(await page.isDisabled(tid('sync-button')), true, 'a viewer can press Sync now');
      assert.equal(await page.isDisabled(tid('test-trigger-http')), true);
      // The server refuses anyway.
      const res = await fetch(new URL('/api/stores/buycosari/pause', gw.url), { method: 'POST', headers: { Authorization: 'Bearer viewer-secret' } });
      assert.equal(res.status, 403);

      // Operator: pause / resume / re-sync, nothing else.
      const op = operator.page;
      await openStoresTab(op, gw.url, { token: 'operator-secret' });
      await op.waitForSelector(`${tid('role-badge')}[data-role="operator"]`);
      await op.waitForSelector(`${row('buycosari')} ${tid('store-pause')}`);
      assert.equal(await count(op, 'store-pause'), 2);
      assert.equal(await count(op, 'store-resume'), 1);
      assert.equal(await count(op, 'store-resync'), 3);
      for (const id of ['store-edit', 'store-backfill', 'store-delete']) assert.equal(await count(op, id), 0, `an operator sees ${id}`);
      assert.equal(await op.isHidden(tid('store-add')), true);
      await op.click(`${row('buycosari')} ${tid('store-pause')}`);
      await op.click(`${row('buycosari')} ${tid('store-panel-confirm')}`);
      await op.waitForSelector(`${row('buycosari')}[data-enabled="false"]`);
      assert.equal(await op.getAttribute(`${row('buycosari')} ${tid('store-feedback')}`, 'data-kind'), 'ok');
      assert.deepEqual(viewer.problems, []);
      assert.deepEqual(operator.problems, []);
    } finally {
      await viewer.context.close();
      await operator.context.close();
      await gw.close({ stopRuns: true });
    }
  });
});
