// The mock gateway's stand-in for scheduler-service/cron.h: parses the 5-field cron syntax (Vixie
// rules: lists, ranges, steps, JAN..DEC / SUN..SAT, 0 and 7 = Sunday, the day-of-month OR
// day-of-week rule, the @hourly … @yearly macros) with the scheduler's error words, and computes
// fire instants in an IANA time zone with Intl. DST is approximate (a skipped local time fires
// after the gap for fixed-time schedules, a repeated one fires once); good enough for previews.

const kFields = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'], base: 1 },
  { name: 'day-of-week', min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'], base: 0 },
];
const kMacros = {
  '@hourly': '0 * * * *', '@daily': '0 0 * * *', '@midnight': '0 0 * * *', '@weekly': '0 0 * * 0',
  '@monthly': '0 0 1 * *', '@yearly': '0 0 1 1 *', '@annually': '0 0 1 1 *',
};
export const kMaxCronLength = 256;
export const kSearchHorizonYears = 50;

export class CronError extends Error {}

function parseValue(field, token) {
  if (/^\d+$/.test(token)) {
    if (token.length > 4) throw new CronError(`cron: ${field.name} field: "${token}" is out of range ${field.min}-${field.max}`);
    const v = Number(token);
    if (v < field.min || v > field.max) {
      throw new CronError(`cron: ${field.name} field: "${token}" is out of range ${field.min}-${field.max}`);
    }
    return v;
  }
  if (field.names) {
    const i = field.names.indexOf(token.toUpperCase());
    if (i >= 0) return i + field.base;
    throw new CronError(`cron: ${field.name} field: "${token}" is not a number or a ${field.name === 'month' ? 'month name (JAN-DEC)' : 'weekday name (SUN-SAT)'}`);
  }
  throw new CronError(`cron: ${field.name} field: "${token}" is not a number`);
}

function parseField(field, text) {
  const set = new Set();
  for (const item of text.split(',')) {
    if (item === '') throw new CronError(`cron: ${field.name} field: "${text}" has an empty list item`);
    const [range, stepText, extra] = item.split('/');
    if (extra !== undefined || stepText === '') throw new CronError(`cron: ${field.name} field: "${item}" has a step that is not a number`);
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText)) throw new CronError(`cron: ${field.name} field: "${item}" has a step that is not a number`);
      if (stepText.length > 3) throw new CronError(`cron: ${field.name} field: "${item}" has a step that is too large`);
      step = Number(stepText);
      if (step === 0) throw new CronError(`cron: ${field.name} field: "${item}" has a step of 0`);
    }
    if (range === '') throw new CronError(`cron: ${field.name} field: "${item}" has no value before the step`);
    let low;
    let high;
    if (range === '*') {
      low = field.min;
      high = field.max === 7 ? 6 : field.max;
    } else if (range.includes('-')) {
      const [a, b] = range.split('-', 2);
      if (!b) throw new CronError(`cron: ${field.name} field: "${item}" is a range with a missing end`);
      low = parseValue(field, a);
      high = b.toUpperCase() === 'SUN' && field.name === 'day-of-week' ? 7 : parseValue(field, b);
      if (low > high) throw new CronError(`cron: ${field.name} field: "${item}" is a range that ends before it starts`);
    } else {
      low = parseValue(field, range);
      high = stepText !== undefined ? (field.max === 7 ? 6 : field.max) : low;
    }
    for (let v = low; v <= high; v += step) set.add(field.max === 7 && v === 7 ? 0 : v);
  }
  return set;
}

// Parses `expr`; throws CronError with the scheduler's kind of message.
export function parseCron(expr) {
  const trimmed = String(expr).trim();
  if (trimmed.length > kMaxCronLength) throw new CronError(`is longer than ${kMaxCronLength} bytes`);
  if (!trimmed) throw new CronError('cron: expression is empty');
  let text = trimmed;
  if (text.startsWith('@')) {
    text = kMacros[text.toLowerCase()];
    if (!text) throw new CronError(`cron: unknown macro "${trimmed}" (use @hourly, @daily, @midnight, @weekly, @monthly, @yearly or @annually)`);
  }
  const parts = text.split(/\s+/);
  if (parts.length !== 5) throw new CronError(`cron: expected 5 fields, got ${parts.length}`);
  const sets = parts.map((p, i) => parseField(kFields[i], p));
  return {
    expression: trimmed,
    minutes: sets[0], hours: sets[1], doms: sets[2], months: sets[3], dows: sets[4],
    minuteStar: parts[0].startsWith('*'), hourStar: parts[1].startsWith('*'),
    domStar: parts[2].startsWith('*'), dowStar: parts[4].startsWith('*'),
  };
}

const formats = new Map();
function formatter(tz) {
  if (!formats.has(tz)) {
    formats.set(tz, new Intl.DateTimeFormat('en-US', {
      timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit',
    }));
  }
  return formats.get(tz);
}

// Throws CronError for a zone Intl does not know ("" = UTC).
export function checkZone(tz) {
  if (!tz) return 'UTC';
  if (tz.length > 64 || tz.includes('..') || tz.startsWith('/') || tz === 'localtime') {
    throw new CronError(`unknown time zone "${tz.slice(0, 64)}"`);
  }
  try {
    formatter(tz);
  } catch {
    throw new CronError(`unknown time zone "${tz.slice(0, 64)}"`);
  }
  return tz;
}

function localParts(tz, ms) {
  const p = Object.fromEntries(formatter(tz).formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return { y: Number(p.year), mo: Number(p.month), d: Number(p.day), h: Number(p.hour) % 24, mi: Number(p.minute), s: Number(p.second) };
}
function offsetMs(tz, ms) {
  const p = localParts(tz, ms);
  return Date.UTC(p.y, p.mo - 1, p.d, p.h, p.mi, p.s) - Math.floor(ms / 1000) * 1000;
}

// "2024-03-10T03:00:00-04:00", as the scheduler's FormatLocal.
export function formatLocal(tz, ms) {
  const p = localParts(tz, ms);
  const off = Math.round(offsetMs(tz, ms) / 60000);
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  const sign = off < 0 ? '-' : '+';
  return `${pad(p.y, 4)}-${pad(p.mo)}-${pad(p.d)}T${pad(p.h)}:${pad(p.mi)}:${pad(p.s)}${sign}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
}

function dayMatches(c, dayMs) {
  const d = new Date(dayMs);
  if (!c.months.has(d.getUTCMonth() + 1)) return false;
  const dom = c.doms.has(d.getUTCDate());
  const dow = c.dows.has(d.getUTCDay());
  return c.domStar || c.dowStar ? dom && dow : dom || dow;
}

// `civil` (a local wall-clock time as if UTC) falls into a forward jump: the instant the jump
// happens, found by bisection between the instants the two offsets around it give.
function gapEnd(tz, civil) {
  const a = civil - offsetMs(tz, civil - 86400000);
  const b = civil - offsetMs(tz, civil + 86400000);
  let lo = Math.min(a, b);
  let hi = Math.max(a, b);
  const before = offsetMs(tz, lo);
  while (hi - lo > 1000) {
    const mid = Math.floor((lo + hi) / 2);
    if (offsetMs(tz, mid) === before) lo = mid;
    else hi = mid;
  }
  return Math.ceil(hi / 1000) * 1000;
}

// The next `count` fire instants (ms) strictly after `fromMs`, wall-clock fields read in `tz`.
// Fewer than `count` when the schedule stops firing within the search horizon.
export function nextFires(c, tz, fromMs, count) {
  const zone = tz || 'UTC';
  const fixed = !c.minuteStar && !c.hourStar;
  const start = localParts(zone, fromMs);
  const startDay = Date.UTC(start.y, start.mo - 1, start.d);
  const hours = [...c.hours].sort((a, b) => a - b);
  const minutes = [...c.minutes].sort((a, b) => a - b);
  const out = [];
  const horizon = startDay + kSearchHorizonYears * 366 * 86400000;
  for (let day = startDay; day < horizon && out.length < count; day += 86400000) {
    if (!dayMatches(c, day)) continue;
    for (const h of hours) {
      if (day === startDay && h < start.h) continue;
      for (const m of minutes) {
        if (day === startDay && h === start.h && m < start.mi) continue;
        const civil = day + (h * 60 + m) * 60000;
        let at = civil - offsetMs(zone, civil);
        at = civil - offsetMs(zone, at);
        const back = localParts(zone, at);
        const exists = Date.UTC(back.y, back.mo - 1, back.d, back.h, back.mi) === civil;
        if (!exists) {
          if (!fixed) continue;  // a wildcard schedule skips local times that do not occur
          at = gapEnd(zone, civil);  // a fixed-time one fires when the gap ends
        }
        if (at <= fromMs || (out.length && at <= out[out.length - 1])) continue;
        out.push(at);
        if (out.length >= count) return out;
      }
    }
  }
  return out;
}

// Parses and checks that the schedule fires at all (from a fixed instant, as the scheduler does).
export function parseFiringCron(expr) {
  const c = parseCron(expr);
  if (!nextFires(c, 'UTC', Date.UTC(2024, 0, 1), 1).length) {
    throw new CronError(`"${c.expression}" never fires (no date matches all fields)`);
  }
  return c;
}
