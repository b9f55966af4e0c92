// The page's messages: the banner (one page-level problem at a time), the answer to the last
// trigger (sync-feedback), the polite live region (progress-announcer) and the test panel's output.
import { h } from './dom.js';
import { el } from './elements.js';

// One page-level message at a time; `action` is an optional {label, run} button; `key` names the
// message so that hideBanner(key) removes it and nothing else.
export function showBanner(kind, text, action, key = '') {
  el.banner.replaceChildren(h('span', {}, text));
  if (action) {
    const button = h('button', { type: 'button', class: 'btn btn-small btn-secondary' }, action.label);
    button.addEventListener('click', action.run);
    el.banner.append(button);
  }
  el.banner.dataset.kind = kind;
  el.banner.dataset.key = key;
  el.banner.hidden = false;
}
export function hideBanner(key) {
  if (key && el.banner.dataset.key !== key) return;
  el.banner.hidden = true;
  el.banner.replaceChildren();
}

// The answer to the last "Sync now" (data-kind = info | ok | error).
export function setFeedback(kind, text) {
  el.feedback.dataset.kind = kind;
  el.feedback.textContent = text;
}

// Read out by screen readers: stage changes and outcomes.
export function announce(text) {
  el.announcer.textContent = text;
}

// The test panel's <pre>: the last raw answer of the gateway.
export function showOutput(value) {
  el.output.textContent = JSON.stringify(value, null, 2);
}
