// The README's store-management screenshots, taken from the real system:
//   tests/e2e/run-with-system.sh node readme-screenshots.mjs
// Creates a store through the form (its first sync runs), opens the edit form with a per-type
// schedule whose next fires are previewed live, and writes docs/stores.png and
// docs/store-form.png. Not a test: it only drives the page and saves what it shows.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const docs = path.resolve(here, '../../docs');
const url = process.env.AUTOSYNC_E2E_URL;
const simBase = process.env.AUTOSYNC_E2E_SIM_BASE;
const simStore = process.env.AUTOSYNC_E2E_SIM_STORE;
if (!url || !simBase || !simStore) throw new Error('run me through tests/e2e/run-with-system.sh');

const browser = await chromium.launch({
  executablePath: process.env.AUTOSYNC_E2E_CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  const byId = (id) => page.locator(`[data-testid="${id}"]`);
  const field = (name) => page.locator(`[data-testid="store-input"][data-field="${name}"]`);
  await page.goto(`${url}#stores`);
  await byId('store-list').and(page.locator('[data-state="ready"]')).waitFor({ timeout: 30000 });
  await byId('store-add').click();
  await field('storeId').fill(simStore);
  await field('displayName').fill('Outdoor Supply Co.');
  await field('schedules.orders').fill('*/15 * * * *');
  await field('schedules.ads').fill('0 6 * * *');
  await field('timezone').selectOption('Europe/London');
  await field('ordersApiBase').fill(`${simBase}/shops/${simStore}`);
  await field('adsApiBase').fill(simBase);
  await field('adAccountId').fill(simStore);
  await field('credentialsRef').fill(process.env.AUTOSYNC_E2E_SIM_CREDENTIALS_REF || 'env:SIM_TOKEN');
  await page.locator('[data-testid="schedule-preview"][data-type="ads"][data-state="ready"]')
    .waitFor({ timeout: 15000 });
  await byId('store-form-card').screenshot({ path: path.join(docs, 'store-form.png') });
  await byId('store-save').click();
  const row = page.locator(`[data-testid="store-row"][data-store-id="${simStore}"]`);
  await row.locator('[data-testid="store-last-success"][data-state="ok"]')
    .waitFor({ timeout: 120000 });
  await page.screenshot({ path: path.join(docs, 'stores.png') });
  console.log('wrote docs/store-form.png and docs/stores.png');
} finally {
  await browser.close();
}
