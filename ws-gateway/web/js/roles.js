// The caller's role (GET /api/me) and what it may do. What the role cannot do is not offered
// (viewer: read only; operator: also Sync now, pause, resume, re-sync; admin: also add, edit,
// backfill, delete); the gateway enforces it anyway, and a gateway without /api/me gets every
// control and decides itself.
import { api } from './api.js';
import { str } from './format.js';
import { state } from './state.js';

const kRoleRank = { viewer: 0, operator: 1, admin: 2 };
// The role each action needs (docs/STORES-HTTP.md, "Roles").
const kNeeds = {
  trigger: 'operator', pause: 'operator', resume: 'operator', resync: 'operator',
  create: 'admin', edit: 'admin', delete: 'admin', backfill: 'admin',
};
export const kRoleSummary = {
  viewer: 'read only',
  operator: 'you can sync, pause, resume and re-sync stores',
  admin: 'you can also add, edit, backfill and delete stores',
};

// Whether the caller's role allows `action`; true while the role is not known (the gateway decides).
export function can(action) {
  const rank = kRoleRank[state.me.role];
  if (rank === undefined) return true;
  return rank >= kRoleRank[kNeeds[action] ?? 'viewer'];
}

// Reads GET /api/me into state.me; on any failure (e.g. a gateway without /api/me) the role stays
// unknown.
export async function loadRole() {
  try {
    const body = await api('/api/me');
    state.me = { loaded: true, role: str(body.role), subject: str(body.subject),
      stores: Array.isArray(body.stores) ? body.stores.map(str).filter(Boolean) : [] };
  } catch {
    state.me = { loaded: true, role: '', subject: '', stores: [] };  // e.g. a gateway without /api/me
  }
}
