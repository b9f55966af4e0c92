// What the e2e spec files share: where Chromium and the artifacts are, the suite's settings from
// the environment (run-with-system.sh sets them for the real system), and the real ws-gateway as
// a child process (AUTOSYNC_E2E_GATEWAY_ARGV) that a spec can start, kill and restart.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const kArtifacts = path.join(here, 'artifacts');
export const kChromium = process.env.AUTOSYNC_E2E_CHROMIUM || '/usr/bin/chromium';
export const kChromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];
export const kExternalUrl = process.env.AUTOSYNC_E2E_URL || '';
export const kToken = process.env.AUTOSYNC_E2E_TOKEN || '';
export const kWaitMs = Number(process.env.AUTOSYNC_E2E_TIMEOUT_MS || 60000);
export const kGatewayArgv = process.env.AUTOSYNC_E2E_GATEWAY_ARGV ? JSON.parse(process.env.AUTOSYNC_E2E_GATEWAY_ARGV) : null;
export const kViewport = { width: 1440, height: 1000 };
export const tid = (id) => `[data-testid="${id}"]`;

// Debian's chromium, headless; fails naming the package when it is missing.
export async function launchBrowser() {
  if (!fs.existsSync(kChromium)) {
    throw new Error(`${kChromium} not found: apt-get install -y chromium (or set AUTOSYNC_E2E_CHROMIUM)`);
  }
  fs.mkdirSync(kArtifacts, { recursive: true });
  return chromium.launch({ executablePath: kChromium, args: kChromiumArgs, timeout: 30000 });
}

// Whether a gateway answers /health at `url` (200, or 503 while its scheduler is away).
export async function gatewayAnswers(url) {
  try {
    const res = await fetch(new URL('/health', url), { signal: AbortSignal.timeout(1000) });
    return res.status === 200 || res.status === 503;
  } catch {
    return false;
  }
}

// Starts ws-gateway from AUTOSYNC_E2E_GATEWAY_ARGV (its log appended to artifacts/ws-gateway.log)
// and waits, at most 30 s, until it answers at `baseUrl`. The child's `exited` promise resolves
// with {code, signal}.
export async function startGateway(baseUrl) {
  assert.ok(Array.isArray(kGatewayArgv) && kGatewayArgv.length > 0, 'AUTOSYNC_E2E_GATEWAY_ARGV: a JSON array');
  const logPath = path.join(kArtifacts, 'ws-gateway.log');
  const log = fs.openSync(logPath, 'a');
  const child = spawn(kGatewayArgv[0], kGatewayArgv.slice(1), { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  let gone = null;
  child.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  child.exited.then((e) => { gone = e; });
  const deadline = Date.now() + 30000;
  for (;;) {
    if (gone) throw new Error(`ws-gateway exited (${JSON.stringify(gone)}) before answering; see ${logPath}`);
    if (await gatewayAnswers(baseUrl)) return child;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`ws-gateway did not answer ${baseUrl}health within 30 s; see ${logPath}`);
    }
    await new Promise((resolve) => { setTimeout(resolve, 100); });  // poll interval, bounded by the deadline
  }
}

// Stops a gateway started above (SIGKILL after 10 s); nothing when it has already exited.
export async function stopGateway(child, signal = 'SIGTERM') {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
  await child.exited;
  clearTimeout(timer);
}
