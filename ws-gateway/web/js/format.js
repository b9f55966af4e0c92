// Formatting and reading of the gateway's JSON, without the DOM: defensive readers (num, str,
// time, obj, objects: protobuf JSON sends int64 as strings and leaves unset fields out), numbers,
// money, relative and absolute times, durations, queue waits, cron schedules in words, cohort
// months and date-input days.

// int64 arrives as a string, doubles as numbers, absent as undefined: all become finite numbers.
export function num(value) {
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) ? n : 0;
}
export const str = (value) => (typeof value === 'string' ? value : value == null ? '' : String(value));
// RFC3339 -> Date; absent, malformed and the zero timestamp (epoch) -> null.
export function time(value) {
  if (!value || typeof value !== 'string') return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) || d.getTime() <= 0 ? null : d;
}
export const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));
// A JSON object member: the object, or null when it is absent or not an object.
export const obj = (value) => (value && typeof value === 'object' ? value : null);
// A JSON array member: its object elements ([] when it is absent or not an array).
export const objects = (value) => (Array.isArray(value) ? value : []).filter((x) => x && typeof x === 'object');

const intFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
export const ratioFormat = new Intl.NumberFormat(undefined, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
export const percentFormat = new Intl.NumberFormat(undefined, { style: 'percent', maximumFractionDigits: 0 });
export const percentFormat1 = new Intl.NumberFormat(undefined, { style: 'percent', maximumFractionDigits: 1 });
const relFormat = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
export const absFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
export const clockFormat = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });
const moneyFormats = new Map();

export const fmtInt = (v) => intFormat.format(num(v));
export function money(value, currency, digits = 2) {
  const key = `${currency}:${digits}`;
  if (!moneyFormats.has(key)) {
    let f;
    try {
      f = new Intl.NumberFormat(undefined, { style: 'currency', currency: currency || 'USD',
        minimumFractionDigits: digits, maximumFractionDigits: digits });
    } catch {
      f = new Intl.NumberFormat(undefined, { style: 'currency', currency: 'USD',
        minimumFractionDigits: digits, maximumFractionDigits: digits });
    }
    moneyFormats.set(key, f);
  }
  return moneyFormats.get(key).format(num(value));
}

export function relTime(date, now = Date.now()) {
  const seconds = Math.round((date.getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 5) return date.getTime() - now > 1000 ? 'in a moment' : 'just now';
  if (abs < 60) return relFormat.format(seconds, 'second');
  if (abs < 3600) return relFormat.format(Math.round(seconds / 60), 'minute');
  if (abs < 86400) return relFormat.format(Math.round(seconds / 3600), 'hour');
  return relFormat.format(Math.round(seconds / 86400), 'day');
}

// Seconds of expected wait -> "under a minute", "about 4 min", "about 2 h".
function waitEstimate(seconds) {
  const s = Math.max(0, num(seconds));
  if (s < 60) return 'under a minute';
  const minutes = Math.round(s / 60);
  if (minutes < 60) return `about ${minutes} min`;
  return `about ${Math.round(s / 3600)} h`;
}

// "Queued (#3, about 2 min)"; just "Queued" until the scheduler has said where the run stands,
// and no estimate while it has none (-1: no worker slots or no run measured yet).
export function queuedLabel(queue) {
  if (!queue) return 'Queued';
  const position = Math.trunc(num(queue.position));
  const parts = [];
  if (position > 0) parts.push(`#${position}`);
  if (num(queue.waitSeconds) >= 0) parts.push(waitEstimate(queue.waitSeconds));
  return parts.length > 0 ? `Queued (${parts.join(', ')})` : 'Queued';
}

export function duration(ms) {
  if (!(ms >= 0)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

// "*/5 * * * *" -> "Every 5 minutes"; other expressions are shown as they are.
export function describeSchedule(expr) {
  const e = str(expr).trim();
  const named = { '@hourly': 'Hourly', '@daily': 'Daily at midnight', '@midnight': 'Daily at midnight',
    '@weekly': 'Weekly', '@monthly': 'Monthly', '@yearly': 'Yearly', '@annually': 'Yearly' };
  if (named[e]) return named[e];
  const f = e.split(/\s+/);
  if (f.length !== 5) return e;
  const rest = f.slice(2).every((x) => x === '*');
  if (f[1] === '*' && rest) {
    if (f[0] === '*') return 'Every minute';
    let m = f[0].match(/^\*\/(\d+)$/);
    if (m) return `Every ${m[1]} minutes`;
    m = f[0].match(/^(\d+)$/);
    if (m) return m[1] === '0' ? 'Hourly' : `Hourly at :${m[1].padStart(2, '0')}`;
  }
  const everyHours = f[1].match(/^\*\/(\d+)$/);
  if (rest && /^\d+$/.test(f[0]) && everyHours) {
    return `Every ${everyHours[1]} hours${f[0] === '0' ? '' : ` at :${f[0].padStart(2, '0')}`}`;
  }
  if (rest && /^\d+$/.test(f[0]) && /^\d+$/.test(f[1])) {
    return `Daily at ${f[1].padStart(2, '0')}:${f[0].padStart(2, '0')}`;
  }
  return e;
}

// "2024-01" -> "Jan 2024" (in the reader's language).
export function monthLabel(month) {
  const m = /^(\d{4})-(\d{2})$/.exec(month);
  if (!m) return month || '—';
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, 1));
  return d.toLocaleDateString(undefined, { month: 'short', year: 'numeric', timeZone: 'UTC' });
}

// The local calendar day of `d` as an <input type=date> value: "2026-12-07".
export const dayString = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;

const shortRun = (runId) => (runId.length > 16 ? `${runId.slice(0, 16)}…` : runId);
// " (run run_0123456789ab…)" after a message that queued a run; "" without a run id.
export const runNote = (runId) => (runId ? ` (run ${shortRun(runId)})` : '');
