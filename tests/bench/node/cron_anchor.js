// The scheduler's anchor: node-cron 3 holding one job per store, as the prototype did. STORES
// hourly jobs, FIRING of which share the next minute boundary far enough away (the others spread
// over the other 59 minutes, as scheduler_bench spreads them). The firing stores are spread evenly
// through the creation order, as a real store list would have them: node-cron polls each job once
// a second on its own timer, so jobs created together are polled together, and a block of firing
// jobs would be all polled in, or all miss, the boundary's second. Prints one JSON line: the time to
// create every job, RSS, idle CPU over a window before the boundary, and the fire lateness of
// each due job (time its callback ran minus the boundary) as percentiles.
//   node --max-old-space-size=8192 cron_anchor.js [--stores=100000] [--firing=10000]
//        [--margin-seconds=100] [--idle-seconds=10] [--timeout-seconds=120]
'use strict';
const path = require('path');
const { performance } = require('perf_hooks');
const cron = require(require.resolve('node-cron', { paths: [__dirname] }));

const args = Object.fromEntries(process.argv.slice(2).map((a) => {
  const [k, ...v] = a.replace(/^--/, '').split('=');
  return [k, v.length ? v.join('=') : 'true'];
}));
const stores = Number(args.stores || 100000);
const firing = Math.min(Number(args.firing || 10000), stores);
const marginS = Number(args['margin-seconds'] || 100);
const idleS = Number(args['idle-seconds'] || 10);
const timeoutS = Number(args['timeout-seconds'] || 120);

const wallMs = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rssMb = () => process.memoryUsage().rss / (1024 * 1024);
const cpuS = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };

// The first whole minute at least marginS away (UTC; minutes agree in every whole-hour zone).
const boundaryMs = (Math.floor((Date.now() + marginS * 1000) / 60000) + 1) * 60000;
const boundaryMinute = new Date(boundaryMs).getUTCMinutes();

async function main() {
  const lateness = [];
  const loadStart = wallMs();
  const every = firing > 0 ? stores / firing : Infinity;
  let fires = 0;
  for (let i = 1; i <= stores; i++) {
    const fires_here = fires < firing && i >= (fires + 1) * every;
    if (fires_here) fires++;
    const minute = fires_here ? boundaryMinute : (boundaryMinute + 1 + (i % 59)) % 60;
    const store = 's' + i;
    cron.schedule(`${minute} * * * *`, () => {
      const now = wallMs();
      // Only the fires of the measured boundary (a job of another minute cannot fire before it).
      if (now >= boundaryMs && now < boundaryMs + 59000) lateness.push(now - boundaryMs);
      void store;
    }, { timezone: 'UTC' });  // each store has a time zone, as in the prototype
  }
  const loadS = (wallMs() - loadStart) / 1000;
  await sleep(2000);
  const rssIdle = rssMb();
  const cpuA = cpuS();
  const idleStart = wallMs();
  await sleep(idleS * 1000);
  const idleCores = (cpuS() - cpuA) / ((wallMs() - idleStart) / 1000);
  if (wallMs() >= boundaryMs) {
    console.log(JSON.stringify({ error: 'creating the jobs took past the boundary; raise --margin-seconds',
                                 loadS }));
    process.exit(1);
  }
  const deadline = boundaryMs + timeoutS * 1000;
  while (lateness.length < firing && wallMs() < deadline) await sleep(200);
  await sleep(1500);  // late stragglers of the same boundary
  const sorted = lateness.slice().sort((a, b) => a - b);
  const pct = (p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : null);
  console.log(JSON.stringify({
    anchor: `node-cron ${require(require.resolve('node-cron/package.json', { paths: [__dirname] })).version} (node ${process.version})`,
    stores, firing, boundary: new Date(boundaryMs).toISOString(), loadS, rssIdleMb: rssIdle,
    rssAfterMb: rssMb(), idleCores, fired: sorted.length,
    p50Ms: pct(0.5), p90Ms: pct(0.9), p99Ms: pct(0.99), maxMs: sorted.length ? sorted[sorted.length - 1] : null,
  }));
  process.exit(sorted.length >= firing ? 0 : 1);
}
main();
