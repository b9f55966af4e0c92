// The test panel: trigger a sync over HTTP, fetch the store's status (both answers shown raw),
// reconnect the socket, and the access token form (the token is kept in localStorage and sent
// from the next request and connection on).
import { fetchStatus } from './api.js';
import { reconnectSocket } from './connection.js';
import { byTestId } from './dom.js';
import { el } from './elements.js';
import { applyStatus } from './live-run.js';
import { showOutput } from './notices.js';
import { setToken, state, token } from './state.js';
import { triggerOverHttp } from './trigger.js';

// `onToken()` runs after a token was saved (or cleared): what was loaded with the old one again.
export function wireTestPanel(onToken) {
  if (token) el.tokenInput.placeholder = 'Token saved';
  byTestId('test-trigger-http').addEventListener('click', () => {
    if (state.storeId) triggerOverHttp();
  });
  byTestId('test-fetch-status').addEventListener('click', async () => {
    if (!state.storeId) return;
    try {
      const body = await fetchStatus(state.storeId);
      showOutput(body);
      applyStatus(body.status ?? {});
    } catch (err) {
      showOutput(err.body ?? { success: false, error: err.message });
    }
  });
  byTestId('test-reconnect').addEventListener('click', reconnectSocket);
  byTestId('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    setToken(el.tokenInput.value.trim());
    el.tokenInput.value = '';
    el.tokenInput.placeholder = token ? 'Token saved' : 'Only when the gateway requires one';
    onToken();
  });
}
