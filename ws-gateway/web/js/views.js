// The two views (tabs): the dashboard of one store, and store management (#stores).
import { el } from './elements.js';
import { emit } from './events.js';
import { state } from './state.js';

// The view the address asks for: #stores, else the dashboard.
export function viewFromHash() {
  return window.location.hash === '#stores' ? 'stores' : 'dashboard';
}

// Shows one view; the Stores tab refreshes itself only while it is open (it follows 'view').
export function setView(view) {
  state.view = view;
  for (const tab of document.querySelectorAll('[role="tab"][data-view]')) {
    const on = tab.dataset.view === view;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
  }
  el.dashboardView.hidden = view !== 'dashboard';
  el.storesView.hidden = view !== 'stores';
  const hash = view === 'stores' ? '#stores' : '';
  if (window.location.hash !== hash) {
    window.history.replaceState(null, '', `${window.location.pathname}${window.location.search}${hash}`);
  }
  emit('view', view);
}

// Tabs: click, or arrow keys / Home / End between them (the WAI-ARIA tabs pattern); the address's
// hash follows the view and the view follows the hash.
export function wireTabs() {
  const tabs = [...document.querySelectorAll('[role="tab"][data-view]')];
  for (const tab of tabs) {
    tab.addEventListener('click', () => setView(tab.dataset.view));
    tab.addEventListener('keydown', (event) => {
      const i = tabs.indexOf(tab);
      const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[event.key];
      if (to === undefined) return;
      event.preventDefault();
      const next = tabs[(to + tabs.length) % tabs.length];
      setView(next.dataset.view);
      next.focus();
    });
  }
  window.addEventListener('hashchange', () => setView(viewFromHash()));
}
