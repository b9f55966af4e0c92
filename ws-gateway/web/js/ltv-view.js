// The "Customer lifetime value by cohort" card: the summary figures, and the heatmap of cohort x
// month offset for the chosen metric (cumulative net revenue per customer, or retention), with
// CAC and LTV:CAC per cohort. Loaded from GET /api/stores/:id/ltv, again whenever a run completes.
import { api, storePath } from './api.js';
import { h, timeEl } from './dom.js';
import { el } from './elements.js';
import { clamp, fmtInt, money, monthLabel, num, objects, percentFormat, percentFormat1, ratioFormat, str, time } from './format.js';
import { state } from './state.js';

// GET …/ltv's cohorts as numbers, sorted by month and each one's cells by month offset.
function cohortRows(ltv) {
  return objects(ltv?.cohorts)
    .map((c) => {
      const cells = objects(c.cells)
        .map((cell) => ({
          offset: Math.max(0, Math.trunc(num(cell.monthOffset))),
          active: num(cell.activeCustomers),
          orders: num(cell.orders),
          net: num(cell.netRevenue),
          ltv: num(cell.cumulativeRevenuePerCustomer),
          retention: clamp(num(cell.retention), 0, 1),
          ltvToCac: num(cell.ltvToCac),
        }))
        .sort((a, b) => a.offset - b.offset);
      // cacNote: why CAC is unknown although the month has ad spend (a missing exchange rate).
      return { month: str(c.cohortMonth), customers: num(c.customers), adSpend: num(c.adSpend),
        cac: num(c.cac), cacNote: str(c.cacNote), cells };
    })
    .sort((a, b) => a.month.localeCompare(b.month));
}

function ratioClass(r) {
  if (!(r > 0)) return 'ratio-none';
  if (r < 1) return 'ratio-bad';
  if (r < 3) return 'ratio-mid';
  return 'ratio-good';
}

function renderKpis(rows, currency) {
  el.kpis.replaceChildren();
  if (!rows.length) return;
  const customers = rows.reduce((n, r) => n + r.customers, 0);
  // Months whose spend could not be converted into the shop currency stay out of blended CAC.
  const priced = rows.filter((r) => !r.cacNote);
  const pricedCustomers = priced.reduce((n, r) => n + r.customers, 0);
  const spend = priced.reduce((n, r) => n + r.adSpend, 0);
  const unpriced = rows.length - priced.length;
  let m1Active = 0;
  let m1Base = 0;
  for (const r of rows) {
    const m1 = r.cells.find((c) => c.offset === 1);
    if (m1) { m1Active += m1.active; m1Base += r.customers; }
  }
  let best = null;
  for (const r of rows) {
    const last = r.cells[r.cells.length - 1];
    if (last && last.ltvToCac > 0 && (!best || last.ltvToCac > best.ratio)) best = { ratio: last.ltvToCac, month: r.month };
  }
  const oldest = rows[0];
  const oldestLast = oldest.cells[oldest.cells.length - 1];
  const kpi = (label, value, note) => h('div', { class: 'kpi' },
    h('span', { class: 'kpi-label' }, label), h('span', { class: 'kpi-value' }, value),
    note ? h('span', { class: 'kpi-note' }, note) : null);
  el.kpis.append(
    kpi('New customers', fmtInt(customers), `${rows.length} cohorts`),
    kpi('Blended CAC', pricedCustomers && spend ? money(spend / pricedCustomers, currency) : '—',
      (spend ? `${money(spend, currency, 0)} ad spend` : 'no ad spend')
        + (unpriced ? ` · ${unpriced} month${unpriced > 1 ? 's' : ''} without an exchange rate left out` : '')),
    kpi('Month-1 retention', m1Base ? percentFormat1.format(m1Active / m1Base) : '—', 'weighted by cohort size'),
    kpi('Oldest cohort LTV', oldestLast ? money(oldestLast.ltv, currency) : '—', oldestLast ? `${monthLabel(oldest.month)}, after ${oldestLast.offset} mo` : ''),
    kpi('Best LTV:CAC', best ? `${ratioFormat.format(best.ratio)}×` : '—', best ? monthLabel(best.month) : 'CAC unknown'),
  );
}

export function renderLtv() {
  const table = el.cohortTable;
  const thead = table.tHead;
  const tbody = table.tBodies[0];
  table.dataset.state = state.ltvState;
  table.dataset.metric = state.metric;
  table.dataset.version = String(state.ltvVersion);
  table.dataset.computedAt = str(state.ltv?.computedAt);
  const currency = str(state.ltv?.currency) || 'USD';
  const rows = state.ltvState === 'ready' || state.ltvState === 'empty' ? cohortRows(state.ltv) : [];
  const computed = time(state.ltv?.computedAt);
  el.computedAt.replaceChildren(
    state.ltvState === 'loading' ? 'Loading cohorts…'
      : state.ltvState === 'error' ? h('span', { class: 'error-text' }, `Could not load cohorts: ${state.ltvError}`)
        : computed ? h('span', {}, 'Computed ', timeEl(computed), ` · ${currency} · net of refunds · cohort = month of first order`)
          : `${currency} · not computed yet`);
  renderKpis(rows, currency);

  if (!rows.length) {
    thead.replaceChildren();
    tbody.replaceChildren();
    el.cohortEmpty.hidden = state.ltvState !== 'empty';
    el.cohortEmpty.textContent = 'No cohorts yet. They appear here the moment the first sync of this store completes.';
    el.legend.hidden = true;
    return;
  }
  el.cohortEmpty.hidden = true;
  el.legend.hidden = false;

  const maxOffset = rows.reduce((m, r) => Math.max(m, ...r.cells.map((c) => c.offset)), 0);
  table.classList.toggle('dense', maxOffset >= 15);  // two years of months still fit a laptop screen
  const metric = state.metric;
  const valueOf = (cell) => (metric === 'retention' ? cell.retention : cell.ltv);
  // Scale: LTV against the largest value; retention against the largest after month 0 (month 0
  // is 100% by definition and would wash out the rest).
  let max = 0;
  for (const r of rows) {
    for (const c of r.cells) {
      if (metric === 'retention' && c.offset === 0) continue;
      max = Math.max(max, valueOf(c));
    }
  }
  const format = (v) => (metric === 'retention' ? percentFormat.format(v) : money(v, currency, 0));
  el.legend.querySelector('.legend-min').textContent = format(0);
  el.legend.querySelector('.legend-max').textContent = format(max);
  el.cohortCaption.textContent = metric === 'retention'
    ? 'Share of each cohort that ordered again, by months since first order'
    : 'Cumulative net revenue per customer, by cohort and months since first order';

  const headRow = h('tr', {},
    h('th', { scope: 'col', class: 'sticky-col' }, 'Cohort'),
    h('th', { scope: 'col', class: 'num' }, 'Customers'),
    h('th', { scope: 'col', class: 'num' }, 'CAC'),
    h('th', { scope: 'col', class: 'num', title: 'Latest cumulative revenue per customer divided by CAC' }, 'LTV:CAC'),
    Array.from({ length: maxOffset + 1 }, (_, k) => h('th', { scope: 'col', class: 'num month-col', title: `${k} months after the first order` }, `M${k}`)));
  thead.replaceChildren(headRow);

  const body = rows.map((r) => {
    const byOffset = new Map(r.cells.map((c) => [c.offset, c]));
    const last = r.cells[r.cells.length - 1];
    const ratio = last ? last.ltvToCac : 0;
    const cells = [];
    for (let k = 0; k <= maxOffset; ++k) {
      const c = byOffset.get(k);
      if (!c) {
        cells.push(h('td', { class: 'heat heat-void', 'aria-label': 'no data yet' }));
        continue;
      }
      const v = valueOf(c);
      const t = max > 0 ? clamp(v / max, 0, 1) : 0;
      const detail = `${monthLabel(r.month)} cohort, month ${k}: ${money(c.ltv, currency)} per customer · `
        + `${percentFormat1.format(c.retention)} active (${fmtInt(c.active)} of ${fmtInt(r.customers)}) · `
        + `${fmtInt(c.orders)} orders · ${money(c.net, currency, 0)} net revenue`
        + (c.ltvToCac > 0 ? ` · LTV:CAC ${ratioFormat.format(c.ltvToCac)}` : '');
      cells.push(h('td', {
        class: `heat num${t > 0.55 ? ' heat-dark' : ''}`,
        style: `--heat: ${Math.round(8 + t * 92)}%`,
        title: detail,
        dataset: { testid: 'cohort-cell', cohort: r.month, offset: String(k), value: String(v) },
      }, format(v)));
    }
    return h('tr', { dataset: { testid: 'cohort-row', cohort: r.month } },
      h('th', { scope: 'row', class: 'sticky-col' }, monthLabel(r.month)),
      h('td', { class: 'num' }, fmtInt(r.customers)),
      r.cacNote
        ? h('td', { class: 'num cac-unknown', title: r.cacNote, 'aria-label': `CAC unknown: ${r.cacNote}`,
          dataset: { testid: 'cac-note' } }, '—')
        : h('td', { class: 'num' }, r.cac > 0 ? money(r.cac, currency) : '—'),
      h('td', { class: 'num', title: r.cacNote || null }, h('span', { class: `ratio ${ratioClass(ratio)}` }, ratio > 0 ? `${ratioFormat.format(ratio)}×` : '—')),
      cells);
  });
  tbody.replaceChildren(...body);
}

let ltvSeq = 0;
export async function loadLtv() {
  const storeId = state.storeId;
  if (!storeId) return;
  const seq = ++ltvSeq;
  try {
    const body = await api(`/api/stores/${storePath(storeId)}/ltv`);
    if (seq !== ltvSeq || storeId !== state.storeId) return;
    state.ltv = body;
    state.ltvVersion += 1;
    state.ltvState = cohortRows(body).length ? 'ready' : 'empty';
  } catch (err) {
    if (seq !== ltvSeq || storeId !== state.storeId) return;
    state.ltvState = 'error';
    state.ltvError = err.message;
  }
  renderLtv();
}

// The metric toggle (LTV | retention) redraws the table.
export function wireMetricToggle() {
  for (const input of document.querySelectorAll('input[name="metric"]')) {
    input.addEventListener('change', () => {
      if (input.checked) {
        state.metric = input.value;
        renderLtv();
      }
    });
  }
}
