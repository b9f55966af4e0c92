// Small DOM helpers: look an element up by its data-testid, build elements (h), a <time> that
// keeps saying how long ago it was, and localStorage that never throws.
import { absFormat, relTime } from './format.js';

export const byTestId = (id, root = document) => root.querySelector(`[data-testid="${id}"]`);

// Builds an element: h('td', {class: 'x', dataset: {a: 1}}, 'text', child).
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'class') el.className = value;
    else if (key === 'style') el.setAttribute('style', value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export const storage = {
  get(key) {
    try { return window.localStorage.getItem(key) ?? ''; } catch { return ''; }
  },
  set(key, value) {
    try {
      if (value) window.localStorage.setItem(key, value);
      else window.localStorage.removeItem(key);
    } catch { /* private mode: remember nothing */ }
  },
};

export function timeEl(date) {
  return h('time', { datetime: date.toISOString(), title: absFormat.format(date), dataset: { rel: '' } },
    relTime(date));
}

// Relative times ("3 min ago") stay true without re-rendering everything.
export function keepRelativeTimesFresh() {
  setInterval(() => {
    const now = Date.now();
    for (const t of document.querySelectorAll('time[data-rel]')) {
      const d = new Date(t.getAttribute('datetime'));
      if (!Number.isNaN(d.getTime())) t.textContent = relTime(d, now);
    }
  }, 1000);
}
