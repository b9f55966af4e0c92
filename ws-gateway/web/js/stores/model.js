// Reading the store JSON of /api/stores (plain numbers, docs/STORES-HTTP.md) the way the picker,
// the list and the form all need it.
import { num, str } from '../format.js';

// "Display name (store-id)", or the id alone when the name adds nothing.
export const storeLabel = (s) => {
  const id = str(s?.storeId);
  const name = str(s?.displayName);
  return name && name !== id ? `${name} (${id})` : id;
};

// The cron expression per data type; an older store JSON had `schedule` and `adsSchedule`.
export const storeSchedules = (s) => ({
  orders: str(s?.schedules?.orders) || str(s?.schedule),
  ads: str(s?.schedules?.ads) || str(s?.adsSchedule),
});
// stalenessSeconds is {orders, ads}; an older store JSON had one number for both.
export function stalenessOf(s, type) {
  const v = s?.stalenessSeconds;
  return num(v && typeof v === 'object' ? v[type] : v);
}
