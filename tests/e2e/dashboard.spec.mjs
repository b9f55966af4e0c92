// End-to-end tests of the dashboard (ws-gateway/web/) in Debian's headless Chromium, driven by
// playwright-core under the plain `node --test` runner.
//
// Target: AUTOSYNC_E2E_URL (a running gateway, e.g. the one `deploy/local/up` starts; add
// AUTOSYNC_E2E_TOKEN when it requires a token, AUTOSYNC_E2E_STORE for another store than
// buycosari). With AUTOSYNC_E2E_GATEWAY_ARGV as well (a JSON array: the ws-gateway binary and
// its flags, listening where AUTOSYNC_E2E_URL points), the tests start that gateway themselves
// and also run the restart-mid-run case against it (run-with-system.sh does all this).
// AUTOSYNC_E2E_URL unset: the tests start mock-gateway.mjs in this process on a free port, and
// also run the cases that need a scripted server (a failing store, token refusal, a clean
// server-side disconnect). Every wait is on a page condition with a deadline; nothing sleeps.
//
// Run: cd tests/e2e && npm ci && npm test   (mock)   or   tests/e2e/run-with-system.sh   (real)
// Screenshot: tests/e2e/artifacts/dashboard.png; the real gateway's log: artifacts/ws-gateway.log

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  kArtifacts, kExternalUrl, kGatewayArgv, kToken, kViewport, kWaitMs, launchBrowser, startGateway,
  stopGateway, tid,
} from './harness.mjs';
import {
  createMockState, moveQueuedRun, queueRun, recordSkip, startMockGateway, startQueuedRun,
} from './mock-gateway.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const kStore = process.env.AUTOSYNC_E2E_STORE || 'buycosari';
// store-sim's admin URL (real system only): the restart test slows the source down so the run
// is still in its orders/ads stages when the gateway is killed.
const kSimUrl = process.env.AUTOSYNC_E2E_SIM_URL || '';

async function simFaults(faults) {
  const res = await fetch(`${kSimUrl}/_sim/faults`, { method: 'POST', body: JSON.stringify(faults) });
  assert.equal(res.status, 200, `store-sim faults: ${await res.text()}`);
}

let browser;
let mock;  // the in-process mock gateway when no URL is given
let gateway;  // the ws-gateway child process when AUTOSYNC_E2E_GATEWAY_ARGV is given
let baseUrl;

before(async () => {
  browser = await launchBrowser();
  if (kExternalUrl) {
    baseUrl = new URL(kExternalUrl).toString();
    if (kGatewayArgv) gateway = await startGateway(baseUrl);
  } else {
    mock = await startMockGateway({ port: 0, stepMs: 150 });
    baseUrl = mock.url;
  }
});

after(async () => {
  await browser?.close();
  await mock?.close({ stopRuns: true });
  await stopGateway(gateway);
});

function pageUrl(base, { store = '', token = kToken } = {}) {
  const url = new URL(base);
  if (store) url.searchParams.set('store', store);
  if (token) url.searchParams.set('token', token);
  return url.toString();
}

// A fresh page (own context: no remembered store or token) that records uncaught errors and
// every request it makes.
async function openPage() {
  const context = await browser.newContext({ viewport: kViewport, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.setDefaultTimeout(kWaitMs);
  const problems = [];
  const requests = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
  });
  page.on('request', (req) => requests.push(req.url()));
  return { context, page, problems, requests };
}

// Records every value a progress bar attribute takes (MutationObserver with old values, so
// values set and replaced within one task are kept too).
async function recordProgressTrail(page) {
  await page.evaluate((sel) => {
    const bar = document.querySelector(sel);
    const trail = { stage: [bar.dataset.stage], percent: [Number(bar.dataset.percent)], runId: [bar.dataset.runId] };
    window.__e2eTrail = trail;
    new MutationObserver((records) => {
      for (const r of records) {
        const key = r.attributeName === 'data-stage' ? 'stage' : r.attributeName === 'data-percent' ? 'percent' : 'runId';
        const value = bar.getAttribute(r.attributeName);
        const v = key === 'percent' ? Number(value) : value;
        if (trail[key][trail[key].length - 1] !== v) trail[key].push(v);
      }
    }).observe(bar, { attributes: true, attributeFilter: ['data-stage', 'data-percent', 'data-run-id'] });
  }, tid('progress-bar'));
}

const attr = (page, id, name) => page.getAttribute(tid(id), name);

async function waitConnected(page) {
  await page.waitForSelector(`${tid('connection-state')}[data-state="connected"]`);
}

// Opens the dashboard and picks `store` in the picker (not through ?store=, as a person would).
async function openAndPick(page, base, store) {
  await page.goto(pageUrl(base), { waitUntil: 'domcontentloaded' });
  await page.waitForSelector(`${tid('store-picker')}:not([disabled]) option[value="${store}"]`, { state: 'attached' });
  await page.selectOption(tid('store-picker'), store);
  await waitConnected(page);
  await page.waitForFunction(
    ([sel, s]) => document.querySelector(sel).value === s, [tid('store-picker'), store]);
  await page.waitForSelector(`${tid('cohort-table')}:not([data-state="loading"])`);
  await page.waitForSelector(`${tid('sync-status')}:not([data-state="unknown"])`);
}

// Presses "Sync now" and waits for the run it started to end; returns its id and what the
// progress bar showed on the way.
async function syncAndWaitForEnd(page, terminal = 'completed') {
  await page.waitForSelector(`${tid('sync-status')}[data-state="idle"]`);  // a scheduled run may be going on
  const before = (await attr(page, 'progress-bar', 'data-run-id')) ?? '';
  await recordProgressTrail(page);
  await page.click(`${tid('sync-button')}:not([disabled])`);
  await page.waitForFunction(
    ([sel, old]) => { const id = document.querySelector(sel).dataset.runId; return id && id !== old; },
    [tid('progress-bar'), before]);
  const runId = await attr(page, 'progress-bar', 'data-run-id');
  await page.waitForSelector(`${tid('progress-bar')}[data-run-id="${runId}"][data-stage="${terminal}"]`);
  const trail = await page.evaluate(() => window.__e2eTrail);
  return { runId, trail };
}

// Records every text the sync status pill shows (as recordProgressTrail does for the bar).
async function recordStatusTrail(page) {
  await page.evaluate((sel) => {
    const pill = document.querySelector(sel);
    const trail = [pill.textContent];
    window.__e2eStatusTrail = trail;
    new MutationObserver(() => {
      if (trail[trail.length - 1] !== pill.textContent) trail.push(pill.textContent);
    }).observe(pill, { childList: true, characterData: true, subtree: true });
  }, tid('sync-status'));
}

async function waitForText(page, id, pattern) {
  await page.waitForFunction(
    ([sel, source]) => new RegExp(source).test(document.querySelector(sel).textContent),
    [tid(id), pattern.source]);
}

// Stage values in order of first appearance, from `from` on.
function stagesInOrder(trail) {
  const seen = [];
  for (const s of trail.stage) if (!seen.includes(s)) seen.push(s);
  return seen;
}

describe('dashboard', () => {
  test('Sync now: progress moves through the stages, the cohort table fills in without a reload, status returns to idle', { timeout: 4 * kWaitMs }, async () => {
    const { context, page, problems, requests } = await openPage();
    try {
      await openAndPick(page, baseUrl, kStore);
      assert.equal(await page.inputValue(tid('store-picker')), kStore);
      const versionBefore = Number(await attr(page, 'cohort-table', 'data-version'));
      await page.evaluate(() => { window.__e2eNoReload = 'still the same page'; });

      const { runId, trail } = await syncAndWaitForEnd(page);

      // The bar went starting/orders -> ads -> ltv -> completed, its percent never went back
      // and ended at 100.
      const stages = stagesInOrder(trail).filter((s) => ['orders', 'ads', 'ltv', 'completed'].includes(s));
      assert.deepEqual(stages, ['orders', 'ads', 'ltv', 'completed'], `stages seen: ${trail.stage.join(' -> ')}`);
      const fromStart = trail.percent.slice(trail.percent.lastIndexOf(0) >= 0 ? trail.percent.lastIndexOf(0) : 0);
      for (let i = 1; i < fromStart.length; ++i) {
        assert.ok(fromStart[i] >= fromStart[i - 1], `progress went back: ${trail.percent.join(', ')}`);
      }
      assert.equal(trail.percent[trail.percent.length - 1], 100);
      assert.ok(trail.percent.some((p) => p > 0 && p < 100), `no intermediate progress: ${trail.percent.join(', ')}`);
      assert.equal(await attr(page, 'progress-bar', 'aria-valuenow'), '100');
      for (const s of ['starting', 'orders', 'ads', 'ltv']) {
        assert.equal(await attr(page, `stage-${s}`, 'data-state'), 'done', `stage ${s}`);
      }
      const logLines = await page.locator(`${tid('progress-log')} li[data-stage]`).count();
      assert.ok(logLines >= 3, `only ${logLines} server messages shown`);

      // The cohort table was reloaded by the page itself after the run, and has cells.
      await page.waitForFunction(
        ([sel, v]) => { const t = document.querySelector(sel); return Number(t.dataset.version) > v && t.dataset.state === 'ready'; },
        [tid('cohort-table'), versionBefore]);
      const cells = await page.locator(tid('cohort-cell')).count();
      assert.ok(cells > 0, 'cohort table has no cells');
      const firstValue = Number(await page.locator(tid('cohort-cell')).first().getAttribute('data-value'));
      assert.ok(firstValue > 0, 'a month-0 revenue per customer should be positive');
      assert.equal(await page.evaluate(() => window.__e2eNoReload), 'still the same page', 'the page reloaded');

      // Status back to idle, the run in the history.
      await page.waitForSelector(`${tid('sync-status')}[data-state="idle"]`);
      await page.waitForSelector(`${tid('run-list')} [data-testid="run-item"][data-run-id="${runId}"][data-status="completed"]`);
      assert.equal(await page.isDisabled(tid('sync-button')), false);
      assert.notEqual(await page.textContent(tid('status-last-success')), 'Never');

      // What assistive technology sees: a labelled picker, a named button, a progress bar with
      // its value, a live region, a captioned table.
      assert.equal(await page.getByLabel('Store').getAttribute('data-testid'), 'store-picker');
      assert.equal(await page.getByRole('button', { name: 'Sync now' }).isEnabled(), true);
      assert.equal(await page.getByRole('progressbar', { name: 'Sync progress' }).getAttribute('aria-valuenow'), '100');
      assert.equal(await attr(page, 'progress-announcer', 'aria-live'), 'polite');
      assert.match(await page.getByRole('table', { name: /Cumulative net revenue per customer/ }).getAttribute('data-testid'), /cohort-table/);

      await page.screenshot({ path: path.join(kArtifacts, 'dashboard.png'), fullPage: true });

      // Retention view of the same table.
      await page.click(tid('metric-retention'));
      await page.waitForSelector(`${tid('cohort-table')}[data-metric="retention"]`);
      const retention = await page.locator(tid('cohort-cell')).evaluateAll((tds) => tds.map((td) => Number(td.dataset.value)));
      assert.ok(retention.length === cells && retention.every((v) => v >= 0 && v <= 1), `retention values ${retention.slice(0, 5)}`);

      // Everything came from the gateway itself: no CDN, fonts or other hosts.
      const origin = new URL(baseUrl).origin;
      const foreign = requests.filter((u) => !u.startsWith(origin) && !u.startsWith('data:'));
      assert.deepEqual(foreign, [], 'requests to other origins');
      assert.deepEqual(problems, [], 'errors in the page');
    } finally {
      await context.close();
    }
  });

  test('the page follows a run across a gateway restart', { skip: kExternalUrl && !kGatewayArgv ? 'needs the mock or AUTOSYNC_E2E_GATEWAY_ARGV' : false, timeout: 4 * kWaitMs }, async () => {
    // Mock: its simulated scheduler keeps the run going while the server is down. Real: the
    // scheduler and worker keep running while the gateway process is killed and started again.
    const real = Boolean(kExternalUrl);
    const state = real ? null : createMockState({ stepMs: 300 });
    let gw = real ? null : await startMockGateway({ port: 0, state });
    const url = real ? baseUrl : gw.url;
    const store = real ? kStore : 'northwind-outdoors';
    const { context, page } = await openPage();
    try {
      await openAndPick(page, url, store);
      await page.waitForSelector(`${tid('sync-status')}[data-state="idle"]`);
      const versionBefore = Number(await attr(page, 'cohort-table', 'data-version'));
      // An incremental real run can pass its orders/ads stages in milliseconds: slow each
      // store-API answer down for this run so the kill lands mid-run.
      if (real && kSimUrl) await simFaults({ latency_ms: 1000 });
      await page.click(`${tid('sync-button')}:not([disabled])`);
      await page.waitForSelector(`${tid('progress-bar')}[data-live="true"]:is([data-stage="orders"], [data-stage="ads"])`);
      const runId = await attr(page, 'progress-bar', 'data-run-id');

      if (real) await stopGateway(gateway, 'SIGKILL');  // a crash: no goodbye to the clients
      else await gw.close();
      await page.waitForSelector(`${tid('connection-state')}[data-state="reconnecting"]`);
      const reason = await page.textContent(tid('connection-reason'));
      assert.ok(reason.trim().length > 0, 'no reason shown while reconnecting');
      assert.equal(await attr(page, 'sync-status', 'data-state'), 'syncing');

      if (real) gateway = await startGateway(baseUrl);
      else gw = await startMockGateway({ port: gw.port, state });
      await waitConnected(page);
      // Caught up (from the status snapshot and the events after it) and finished the same run.
      await page.waitForSelector(`${tid('progress-bar')}[data-run-id="${runId}"][data-stage="completed"]`);
      await page.waitForSelector(`${tid('sync-status')}[data-state="idle"]`);
      await page.waitForFunction(
        ([sel, v]) => Number(document.querySelector(sel).dataset.version) > v, [tid('cohort-table'), versionBefore]);
      await page.waitForSelector(`[data-testid="run-item"][data-run-id="${runId}"][data-status="completed"]`);
    } finally {
      if (real && kSimUrl) await simFaults({ latency_ms: 0 }).catch(() => {});
      await context.close();
      await gw?.close({ stopRuns: true });
    }
  });

  test('a gateway that ends the sessions cleanly (Socket.IO DISCONNECT) is reconnected to by the page', { skip: kExternalUrl ? 'needs the in-process mock gateway' : false, timeout: 2 * kWaitMs }, async () => {
    const state = createMockState({ stepMs: 150 });
    let gw = await startMockGateway({ port: 0, state });
    const { port } = gw;
    const { context, page } = await openPage();
    try {
      await openAndPick(page, gw.url, 'northwind-outdoors');
      await gw.close({ graceful: true });
      await page.waitForSelector(`${tid('connection-state')}[data-state="reconnecting"]`);
      assert.match(await page.textContent(tid('connection-reason')), /ended the session/);
      gw = await startMockGateway({ port, state });
      await waitConnected(page);
      await syncAndWaitForEnd(page);  // and it works as before
    } finally {
      await context.close();
      await gw.close({ stopRuns: true });
    }
  });

  test('a failed run (triggered over HTTP from the test panel) shows where and why it failed', { skip: kExternalUrl ? 'needs the mock gateway\'s failing store' : false, timeout: 2 * kWaitMs }, async () => {
    const { context, page, problems } = await openPage();
    try {
      await openAndPick(page, baseUrl, 'failing-store');
      await page.click(tid('test-trigger-http'));
      await page.waitForSelector(`${tid('progress-bar')}[data-stage="failed"]`);
      assert.equal(await attr(page, 'stage-orders', 'data-state'), 'done');
      assert.equal(await attr(page, 'stage-ads', 'data-state'), 'failed');
      assert.equal(await attr(page, 'stage-ltv', 'data-state'), 'pending');
      await page.waitForFunction((sel) => document.querySelector(sel).textContent.includes('503'), tid('status-last-error'));
      await page.waitForSelector(`[data-testid="run-item"][data-status="failed"]`);
      await page.waitForSelector(`${tid('sync-status')}[data-state="idle"]`);
      const output = JSON.parse(await page.textContent(tid('test-output')));
      assert.equal(output.success, true);
      assert.match(output.message, /Manual sync triggered for store: failing-store/);
      assert.equal(await page.isVisible(tid('cohort-empty')), true);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  test('a gateway that requires a token: refused without one, works with ?token= (which leaves the address bar)', { skip: kExternalUrl ? 'needs the mock gateway' : false, timeout: 2 * kWaitMs }, async () => {
    const gw = await startMockGateway({ port: 0, token: 'e2e-secret-token' });
    const { context, page } = await openPage();
    try {
      await page.goto(gw.url, { waitUntil: 'domcontentloaded' });
      await page.waitForSelector(`${tid('banner')}[data-kind="error"]`);
      await page.waitForSelector(`${tid('connection-state')}[data-state="error"]`);
      assert.match(await page.textContent(tid('connection-reason')), /unauthorized/);

      await page.goto(pageUrl(gw.url, { token: 'e2e-secret-token', store: 'northwind-outdoors' }), { waitUntil: 'domcontentloaded' });
      await waitConnected(page);
      await page.waitForSelector(`${tid('cohort-table')}[data-state="ready"]`);
      assert.equal(await page.inputValue(tid('store-picker')), 'northwind-outdoors');
      assert.ok(!page.url().includes('token='), `token left in the URL: ${page.url()}`);
      assert.equal(await page.isHidden(tid('banner')), true);
      // Remembered for the next visit (same browser profile).
      await page.goto(gw.url, { waitUntil: 'domcontentloaded' });
      await waitConnected(page);
      await page.waitForSelector(`${tid('cohort-table')}[data-state="ready"]`);
      assert.equal(await page.inputValue(tid('store-picker')), 'northwind-outdoors');
    } finally {
      await context.close();
      await gw.close({ stopRuns: true });
    }
  });

  test('a run waiting in the run queue shows "Queued (#N, about …)", a still bar, then the syncing display once it starts', { skip: kExternalUrl ? 'needs the mock gateway\'s run queue' : false, timeout: 2 * kWaitMs }, async () => {
    const state = createMockState({ stepMs: 200 });
    const gw = await startMockGateway({ port: 0, state });
    const { context, page, problems } = await openPage();
    const late = await openPage();
    try {
      await openAndPick(page, gw.url, 'buycosari');
      await page.waitForSelector(`${tid('sync-status')}[data-state="idle"]`);
      assert.equal(await page.textContent(tid('status-skipped-fires')), 'None');
      await recordStatusTrail(page);
      await recordProgressTrail(page);

      // A scheduled fire skipped: counted on the status, with its reason.
      recordSkip(state, 'buycosari', 'fresh');
      await waitForText(page, 'status-skipped-fires', /^1 scheduled fire/);
      assert.match(await page.textContent(tid('status-last-skip')), /the data was fresh/);

      // Queued third, about two minutes: the queued event says where the run stands.
      const { runId } = queueRun(state, 'buycosari', 'cron', { position: 3, waitSeconds: 125 });
      await page.waitForSelector(`${tid('sync-status')}[data-state="queued"]`);
      await waitForText(page, 'sync-status', /^Queued \(#3, about 2 min\)$/);
      await page.waitForSelector(`${tid('progress-bar')}[data-run-id="${runId}"][data-stage="queued"][data-live="false"]`);
      assert.equal(await page.textContent(tid('progress-stage')), 'Queued (#3, about 2 min)');
      assert.equal(await attr(page, 'progress-bar', 'data-percent'), '0');
      assert.equal(await page.isDisabled(tid('sync-button')), true);
      for (const s of ['starting', 'orders', 'ads', 'ltv']) {
        assert.equal(await attr(page, `stage-${s}`, 'data-state'), 'pending', `stage ${s}`);
      }
      // The bar does not move while queued: no animation on its fill.
      assert.equal(await page.$eval(`${tid('progress-bar')} .progress-fill`, (e) => getComputedStyle(e).animationName), 'none');
      await page.waitForSelector(`[data-testid="run-item"][data-run-id="${runId}"][data-status="queued"]`);

      // Moved up: the next one, with a short wait.
      moveQueuedRun(state, 'buycosari', { position: 1, waitSeconds: 20 });
      await waitForText(page, 'sync-status', /^Queued \(#1, under a minute\)$/);

      // A page opened while the run waits learns it from the status snapshot alone.
      await openAndPick(late.page, gw.url, 'buycosari');
      await waitForText(late.page, 'sync-status', /^Queued \(#1, under a minute\)$/);
      await late.page.waitForSelector(`${tid('progress-bar')}[data-run-id="${runId}"][data-stage="queued"]`);

      // A worker slot takes it: STARTING switches both pages to the syncing display.
      assert.equal(startQueuedRun(state, 'buycosari'), true);
      for (const p of [page, late.page]) {
        await p.waitForSelector(`${tid('progress-bar')}[data-run-id="${runId}"][data-stage="completed"]`);
        await p.waitForSelector(`${tid('sync-status')}[data-state="idle"]`);
      }
      const texts = await page.evaluate(() => window.__e2eStatusTrail);
      const at = (t) => texts.indexOf(t);
      assert.ok(at('Queued (#3, about 2 min)') >= 0 && at('Queued (#1, under a minute)') > at('Queued (#3, about 2 min)')
        && texts.lastIndexOf('Syncing') > at('Queued (#1, under a minute)')
        && texts.lastIndexOf('Idle') > texts.lastIndexOf('Syncing'), `status texts: ${texts.join(' -> ')}`);
      const stages = stagesInOrder(await page.evaluate(() => window.__e2eTrail));
      assert.deepEqual(stages.filter((s) => ['queued', 'orders', 'ads', 'ltv', 'completed'].includes(s)),
        ['queued', 'orders', 'ads', 'ltv', 'completed'], `stages seen: ${stages.join(' -> ')}`);
      await page.waitForSelector(`[data-testid="run-item"][data-run-id="${runId}"][data-status="completed"]`);
      assert.equal(await page.isDisabled(tid('sync-button')), false);
      assert.deepEqual(problems, []);
      assert.deepEqual(late.problems, []);
    } finally {
      await context.close();
      await late.context.close();
      await gw.close({ stopRuns: true });
    }
  });

  test('Sync now with a run queue: the run shows as queued until a worker slot takes it', { skip: kExternalUrl ? 'needs the mock gateway\'s run queue' : false, timeout: 2 * kWaitMs }, async () => {
    const gw = await startMockGateway({ port: 0, stepMs: 150, queueMs: 1500 });
    const { context, page, problems } = await openPage();
    try {
      await openAndPick(page, gw.url, 'northwind-outdoors');
      assert.match(await page.textContent(tid('status-skipped-fires')), /^2 scheduled fires/);
      await recordStatusTrail(page);
      const { runId, trail } = await syncAndWaitForEnd(page);
      const texts = await page.evaluate(() => window.__e2eStatusTrail);
      const queuedAt = texts.indexOf('Queued (#1, under a minute)');
      assert.ok(queuedAt >= 0 && texts.lastIndexOf('Syncing') > queuedAt, `status texts: ${texts.join(' -> ')}`);
      // From the trigger on (the bar showed the store's last run, completed, before it).
      const fromQueued = { stage: trail.stage.slice(trail.stage.indexOf('queued')) };
      assert.deepEqual(stagesInOrder(fromQueued).filter((s) => ['queued', 'orders', 'ads', 'ltv', 'completed'].includes(s)),
        ['queued', 'orders', 'ads', 'ltv', 'completed'], `stages seen: ${trail.stage.join(' -> ')}`);
      await page.waitForSelector(`[data-testid="run-item"][data-run-id="${runId}"][data-status="completed"]`);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
      await gw.close({ stopRuns: true });
    }
  });

  test('the vendored socket.io-client bundle is the pinned npm package\'s', () => {
    const vendored = fs.readFileSync(path.join(here, '../../ws-gateway/web/vendor/socket.io.min.js'));
    const pkg = path.join(here, 'node_modules/socket.io-client');
    const fromNpm = fs.readFileSync(path.join(pkg, 'dist/socket.io.min.js'));
    const version = JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8')).version;
    assert.ok(vendored.equals(fromNpm), 'ws-gateway/web/vendor/socket.io.min.js differs from node_modules: run `npm run vendor`');
    const readme = fs.readFileSync(path.join(here, '../../ws-gateway/web/vendor/README.md'), 'utf8');
    assert.ok(readme.includes(version), `vendor/README.md does not name version ${version}`);
  });
});
