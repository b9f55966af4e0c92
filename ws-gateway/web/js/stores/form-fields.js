// Store management, what the add / edit form edits: its fields by JSON path, the defaults, how the
// gateway's error field names map onto them, the time zones to offer, and which members changed.
import { str } from '../format.js';

// What a store gets when a schedule is left empty (docs/STORES-HTTP.md).
export const kDefaultSchedules = { orders: '0 * * * *', ads: '0 */6 * * *' };

// The form's fields, by JSON path (docs/STORES-HTTP.md, "The store resource").
export const kFormFields = [
  { path: 'storeId', label: 'Store ID', group: 'store', placeholder: 'e.g. demo-store', max: 63,
    hint: 'Lower-case letters, digits, “-” and “_”; fixed once the store exists.' },
  { path: 'displayName', label: 'Display name', group: 'store', placeholder: 'e.g. Demo store', max: 200 },
  { path: 'timezone', label: 'Time zone', group: 'schedule', kind: 'timezone',
    hint: 'The schedules fire in this zone; the cohort months are counted in it too.' },
  { path: 'schedules.orders', label: 'Orders schedule (cron)', group: 'orders', kind: 'cron', type: 'orders', placeholder: kDefaultSchedules.orders,
    hint: 'Five fields (minute hour day month weekday) or @hourly, @daily…; empty: the default.' },
  { path: 'stalenessSeconds.orders', label: 'Orders staleness (seconds)', group: 'orders', kind: 'int', placeholder: '3600',
    hint: 'A scheduled fire syncs orders only when they are older than this; empty or 0: 3600.' },
  { path: 'schedules.ads', label: 'Ads schedule (cron)', group: 'ads', kind: 'cron', type: 'ads', placeholder: kDefaultSchedules.ads,
    hint: 'Ad platforms restate recent days; a few reads a day are usually enough.' },
  { path: 'stalenessSeconds.ads', label: 'Ads staleness (seconds)', group: 'ads', kind: 'int', placeholder: '3600',
    hint: 'Likewise for ad spend; empty or 0: 3600.' },
  { path: 'jitterSeconds', label: 'Jitter (seconds)', group: 'schedule', kind: 'int', placeholder: '0',
    hint: 'Up to this much delay after each fire (fixed per store), to spread the load.' },
  { path: 'ordersApi', label: 'Orders API', group: 'conn', kind: 'choice',
    choices: [['', 'Service default'], ['graphql', 'GraphQL Admin API'], ['rest', 'REST Admin API (legacy)']],
    hint: 'GraphQL needs the read_orders scope (read_all_orders for orders older than 60 days).' },
  { path: 'ordersApiBase', label: 'Orders API base URL', group: 'conn', placeholder: 'https://shop.myshopify.com', max: 512 },
  { path: 'ordersApiVersion', label: 'Orders API version', group: 'conn', placeholder: '2026-10', max: 32 },
  { path: 'adsApiBase', label: 'Ads API base URL', group: 'conn', placeholder: 'https://graph.facebook.com', max: 512 },
  { path: 'adsApiVersion', label: 'Ads API version', group: 'conn', placeholder: 'v24.0', max: 32 },
  { path: 'adAccountId', label: 'Ad account ID', group: 'conn', placeholder: '1234567890', max: 68 },
  { path: 'credentialsRef', label: 'Credentials reference', group: 'conn', placeholder: 'env:STORE_TOKEN', max: 512,
    hint: 'Where the worker reads the API token: env:NAME or file:/path. Never the token itself.' },
  { path: 'notifyWebhookUrl', label: 'Notification webhook URL', group: 'notify', placeholder: 'https://hooks.example.com/autosync', max: 512,
    hint: 'A signed POST when a run fails for good or the data goes stale, at most one an hour each; empty: none.' },
  { path: 'notifySecretRef', label: 'Webhook signing key reference', group: 'notify', placeholder: 'env:HOOK_KEY', max: 512,
    hint: 'Where the scheduler reads the HMAC key: env:NAME or file:/path. Never the key itself; required with a URL.' },
];
const kFieldPaths = new Set(kFormFields.map((f) => f.path));

export const getPath = (obj, path) => path.split('.').reduce((o, k) => (o && typeof o === 'object' ? o[k] : undefined), obj);

// The gateway's `field` as one of the form's paths ("" when none fits): snake_case and the
// scheduler's one-schedule names are taken too.
export function formPathOf(field) {
  let f = str(field).replace(/^store\./, '').replace(/_([a-z])/g, (_, c) => c.toUpperCase());
  const aliases = { schedule: 'schedules.orders', adsSchedule: 'schedules.ads', stalenessSeconds: 'stalenessSeconds.orders',
    adsStalenessSeconds: 'stalenessSeconds.ads', schedules: 'schedules.orders' };
  f = aliases[f] ?? f;
  return kFieldPaths.has(f) ? f : '';
}

let zoneList = null;
// IANA zones this browser knows, UTC first.
export function timeZones() {
  if (!zoneList) {
    let zones = [];
    try {
      zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
    } catch { /* an old engine */ }
    zoneList = ['UTC', ...zones.filter((z) => z !== 'UTC')];
  }
  return zoneList;
}
export function browserZone() {
  try { return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'; } catch { return 'UTC'; }
}

// Which members of the store someone else changed (for the 409 message).
export function changedMembers(before, after) {
  const paths = [...kFieldPaths, 'enabled', 'pauseNote'];
  return paths.filter((p) => JSON.stringify(getPath(before, p) ?? '') !== JSON.stringify(getPath(after, p) ?? ''));
}
