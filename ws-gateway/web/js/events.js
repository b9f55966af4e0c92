// The page's events: a module tells the modules above it what happened without importing them,
// so that the imports stay one-way (tests/e2e/module-graph.spec.mjs fails on a cycle). Listeners
// are added at start-up (app.js) and run synchronously where emit is called, in the order added.
//   'view'           the view shown changed (views.js); detail 'dashboard' | 'stores'
//   'stores-loaded'  the first store list, or the one after a new token, is in state.stores
//                    (store-picker.js)
//   'store-status'   a status of a store arrived (live-run.js); detail {storeId, status}
const listeners = new Map();  // name -> [fn]

export function on(name, fn) {
  if (!listeners.has(name)) listeners.set(name, []);
  listeners.get(name).push(fn);
}

export function emit(name, detail) {
  for (const fn of listeners.get(name) ?? []) fn(detail);
}
