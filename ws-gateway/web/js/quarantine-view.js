// The "Data kept out" card: records that broke a data rule, kept out of the figures (GET
// /api/stores/:id/quarantine), with the count per rule and each record's raw JSON.
import { api, storePath } from './api.js';
import { h, timeEl } from './dom.js';
import { el } from './elements.js';
import { fmtInt, num, obj, objects, str, time } from './format.js';
import { state } from './state.js';

function renderQuarantine(body) {
  const records = objects(body.records);
  const total = Math.trunc(num(body.total));
  const tbody = el.quarantineList.tBodies[0];
  el.quarantineList.dataset.count = String(records.length);
  el.quarantineList.dataset.total = String(total);
  el.quarantineEmpty.hidden = records.length > 0;
  el.quarantineEmpty.textContent = 'Nothing kept out.';
  const byRule = Object.entries(obj(body.byRule) ?? {});
  el.quarantineSummary.textContent = total > 0
    ? `${fmtInt(total)} records kept out of the figures: ${byRule.map(([rule, n]) => `${rule} ${fmtInt(num(n))}`).join(', ')}.`
      + (total > records.length ? ` Showing the ${fmtInt(records.length)} seen last.` : '')
    : 'Records that broke a data rule are kept here, not in the figures, until the store sends them again valid.';
  tbody.replaceChildren(...records.map((r) => {
    const kind = str(r.kind);
    const seen = time(r.lastSeen);
    const raw = h('details', { class: 'raw', dataset: { testid: 'quarantine-raw' } },
      h('summary', {}, r.rawTruncated === true ? 'Raw JSON (cut at 16 KiB)' : 'Raw JSON'),
      h('pre', {}, str(r.raw)));
    return h('tr', { dataset: { testid: 'quarantine-item', kind, key: str(r.recordKey), rule: str(r.rule) } },
      h('td', {}, h('span', { class: 'tag tag-info' }, kind === 'ad' ? 'ad row' : 'order'), ' ', h('code', {}, str(r.recordKey))),
      h('td', {}, h('code', {}, str(r.rule))),
      h('td', {}, str(r.detail), h('span', { class: 'fact-sub' }, str(r.source)), raw),
      h('td', {}, seen ? timeEl(seen) : '—'),
      h('td', { class: 'num' }, fmtInt(num(r.timesSeen))));
  }));
}

export async function loadQuarantine() {
  const storeId = state.storeId;
  if (!storeId) return;
  try {
    const body = await api(`/api/stores/${storePath(storeId)}/quarantine?pageSize=50`);
    if (storeId !== state.storeId) return;
    renderQuarantine(body);
  } catch (err) {
    if (storeId !== state.storeId) return;
    el.quarantineEmpty.hidden = false;
    el.quarantineEmpty.textContent = `Could not load the quarantine: ${err.message}`;
  }
}
