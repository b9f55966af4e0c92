// The "Live progress" card: which run is shown, the progress bar (standing still while the run
// waits in the run queue), the stage list, the counts and the server's messages.
import { h } from './dom.js';
import { el } from './elements.js';
import { clamp, clockFormat, fmtInt, num, queuedLabel } from './format.js';
import { kStageLabel, kStages, kTriggerLabel, state } from './state.js';

function stageStates(run) {
  const states = Object.fromEntries(kStages.map((s) => [s, 'pending']));
  if (run.stage === 'completed') kStages.forEach((s) => { states[s] = 'done'; });
  else if (run.stage === 'skipped') kStages.forEach((s) => { states[s] = 'skipped'; });
  else {
    const current = run.stage === 'failed' ? run.workStage || 'starting' : run.stage;
    const index = kStages.indexOf(current);
    kStages.forEach((s, i) => {
      if (i < index) states[s] = 'done';
      else if (i === index) states[s] = run.stage === 'failed' ? 'failed' : 'active';
    });
  }
  return states;
}

export function stageLabel(run) {
  return run.stage === 'queued' ? queuedLabel(run.queue) : kStageLabel[run.stage] ?? run.stage;
}

export function renderProgress() {
  const { run } = state;
  const queued = run.stage === 'queued';
  const percent = Math.round(clamp(run.progress, 0, 100));
  const bar = el.progressBar;
  bar.dataset.stage = run.stage;
  bar.dataset.percent = String(percent);
  bar.dataset.runId = run.runId;
  // A queued run is in flight but nothing moves until a worker slot takes it.
  bar.dataset.live = String(run.live && !queued);
  bar.setAttribute('aria-valuenow', String(percent));
  bar.setAttribute('aria-valuetext', `${stageLabel(run)}, ${percent}%`);
  bar.style.setProperty('--percent', `${percent}%`);
  el.progressStage.textContent = stageLabel(run);
  el.progressPercent.textContent = queued ? '' : `${percent}%`;

  el.progressRun.dataset.runId = run.runId;
  if (!run.runId) el.progressRun.textContent = run.live ? 'Waiting in the run queue' : 'No run yet';
  else {
    const who = kTriggerLabel[run.trigger] ?? run.trigger;
    const prefix = run.live ? (queued ? 'Queued' : 'Running') : run.source === 'last' ? 'Last run' : 'Run';
    el.progressRun.replaceChildren(`${prefix} `, h('code', { title: run.runId }, run.runId.slice(0, 16)),
      who && who !== '—' ? ` · ${who}` : '');
  }

  const states = stageStates(run);
  const c = run.counts;
  const details = {
    starting: run.startedAt ? clockFormat.format(run.startedAt) : '',
    orders: num(c.ordersFetched) ? `${fmtInt(c.ordersFetched)} fetched` : '',
    ads: num(c.adsFetched) ? `${fmtInt(c.adsFetched)} rows` : '',
    ltv: num(c.cohortRows) ? `${fmtInt(c.cohortRows)} rows` : '',
  };
  for (const li of el.stageList.children) {
    const stage = li.dataset.stage;
    li.dataset.state = states[stage];
    li.querySelector('.stage-detail').textContent = details[stage] ?? '';
    if (states[stage] === 'active') li.setAttribute('aria-current', 'step');
    else li.removeAttribute('aria-current');
  }
  el.progressBar.closest('.progress-wrap').dataset.outcome = run.stage;

  for (const dd of el.counts.querySelectorAll('[data-count]')) {
    dd.textContent = fmtInt(c[dd.dataset.count]);
  }

  el.log.replaceChildren(...run.messages.map((m) => h('li', { dataset: { stage: m.stage }, class: m.error ? 'log-error' : '' },
    h('time', { datetime: m.time.toISOString() }, clockFormat.format(m.time)),
    h('span', { class: `log-stage stage-${m.stage}` }, m.stage),
    h('span', { class: 'log-text' }, m.text))));
  if (!run.messages.length) {
    el.log.append(h('li', { class: 'log-empty' }, 'Messages from the server appear here while a sync runs.'));
  }
}
