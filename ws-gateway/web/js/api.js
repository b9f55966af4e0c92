// The gateway's JSON routes under /api/ (docs/DESIGN.md, "HTTP on the gateway"): fetch with the
// bearer token and a timeout, errors as ApiError (HTTP status and the answer's body), and the
// calls more than one view makes (a store's status, a manual trigger, every store).
import { objects, str } from './format.js';
import { token } from './state.js';

const kFetchTimeoutMs = 10000;

class ApiError extends Error {
  constructor(message, status, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

// `body` (an object) is sent as JSON.
export async function api(path, { method = 'GET', body } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = { method, headers, cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), kFetchTimeoutMs);
  let res;
  try {
    res = await fetch(path, { ...init, signal: controller.signal });
  } catch (err) {
    throw new ApiError(err.name === 'AbortError' ? 'the gateway did not answer in time'
      : 'the gateway cannot be reached', 0, null);
  } finally {
    clearTimeout(timer);
  }
  let answer = null;
  try { answer = await res.json(); } catch { /* not JSON */ }
  if (!res.ok || !answer || answer.success === false) {
    const message = str(answer?.error) || `HTTP ${res.status}`;
    throw new ApiError(message, res.status, answer);
  }
  return answer;
}

export const storePath = (id) => encodeURIComponent(id);

// GET /api/sync/status/:id: {status} of one store.
export const fetchStatus = (storeId) => api(`/api/sync/status/${storePath(storeId)}`);

// POST /api/test/trigger-sync/:id: queues a manual run ({runId, started}; 409 when one is queued
// or running, its runId in the error's body).
export const postTrigger = (storeId) => api(`/api/test/trigger-sync/${storePath(storeId)}`, { method: 'POST' });

// Every registered store, following nextPageToken (bounded).
export async function fetchAllStores() {
  const stores = [];
  let pageToken = '';
  for (let page = 0; page < 50; ++page) {
    const query = new URLSearchParams({ pageSize: '1000' });
    if (pageToken) query.set('pageToken', pageToken);
    const body = await api(`/api/stores?${query}`);
    stores.push(...objects(body.stores).filter((s) => str(s.storeId)));
    pageToken = str(body.nextPageToken);
    if (!pageToken) break;
  }
  return stores;
}
