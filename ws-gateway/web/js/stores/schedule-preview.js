// Store management, the live preview of a schedule: the next kPreviewCount fires of the cron
// expression being typed, in the chosen time zone (POST /api/schedules/preview), shortly after
// the last keystroke.
import { api } from '../api.js';
import { h, timeEl } from '../dom.js';
import { absFormat, objects, str, time } from '../format.js';
import { kDefaultSchedules } from './form-fields.js';

const kPreviewDebounceMs = 300;
const kPreviewCount = 5;

// The live preview of one schedule, `delay` ms after the last keystroke.
export function schedulePreview(f, type, delay = kPreviewDebounceMs) {
  const p = f.previews[type];
  if (!p) return;
  clearTimeout(p.timer);
  const seq = ++p.seq;
  p.el.dataset.state = 'pending';
  p.timer = setTimeout(() => runPreview(f, type, seq), delay);
}

async function runPreview(f, type, seq) {
  const p = f.previews[type];
  const given = f.inputs.get(`schedules.${type}`).value.trim();
  const schedule = given || kDefaultSchedules[type];
  const timezone = f.inputs.get('timezone').value.trim();
  let fires = null;
  let error = '';
  try {
    const body = await api('/api/schedules/preview', { method: 'POST', body: { schedule, timezone, count: kPreviewCount } });
    fires = objects(body.fires);
  } catch (err) {
    error = err.message;
  }
  if (seq !== p.seq) return;  // typed on meanwhile
  const title = h('p', { class: 'preview-title' }, given ? `Next ${kPreviewCount} fires` : `Empty: the default ${schedule} applies. Its next fires`);
  Object.assign(p.el.dataset, { schedule: given, timezone, state: error ? 'error' : 'ready' });
  if (error) {
    p.el.replaceChildren(h('p', { class: 'field-error', dataset: { testid: 'preview-error' } }, error));
  } else {
    p.el.replaceChildren(title, h('ol', { class: 'preview-list' }, fires.map((fire) => {
      const utc = time(fire.utc);
      const local = str(fire.local);
      return h('li', { dataset: { testid: 'preview-fire', utc: str(fire.utc), local } },
        h('span', { class: 'fire-local' }, local || (utc ? absFormat.format(utc) : '?')),
        utc ? [' ', h('span', { class: 'muted' }, '(', timeEl(utc), ')')] : null);
    })));
  }
  const path = `schedules.${type}`;
  const input = f.inputs.get(path);
  input.setAttribute('aria-invalid', String(Boolean(error) || !f.errors.get(path).hidden));
}
