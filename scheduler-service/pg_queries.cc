// PgRepository: gateway connection reports, quarantined records, LTV cohorts, fx rates, and NOTIFY.
// Contracts: repository.h.
#include <algorithm>
#include <pqxx/pqxx>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/pg_pool.h"
#include "scheduler-service/pg_sql.h"
#include "scheduler-service/repository.h"
#include "scheduler-service/store_validation.h"

namespace autosync::scheduler {

#define MICROS(col) AUTOSYNC_MICROS(col)
using pg::TextArray;
using pg::TimeFrom;

absl::StatusOr<std::vector<std::string>> PgRepository::ReportConnections(
    absl::string_view gateway_id, const std::vector<std::pair<std::string, int>>& stores,
    absl::Duration ttl) {
  std::vector<std::string> ids;
  std::vector<std::string> counts;
  for (const auto& [id, n] : stores) {
    ids.push_back(id);
    counts.push_back(absl::StrCat(n));
  }
  // What the table held for each store (this gateway's rows and every expired one), to tell
  // which stores' totals moved.
  absl::flat_hash_map<std::string, int64_t> before;
  absl::Status s = pool_.Run([&](pqxx::connection_base& c) {
    pqxx::work tx(c);
    for (const auto& row : tx.exec_params(
             "DELETE FROM gateway_connections WHERE gateway_id = $1 OR "
             "reported_at < now() - $2 * interval '1 second' RETURNING store_id, connections",
             std::string(gateway_id), absl::ToDoubleSeconds(ttl))) {
      before[row[0].as<std::string>()] += row[1].as<int64_t>();
    }
    if (!ids.empty()) {
      tx.exec_params(
          "INSERT INTO gateway_connections (gateway_id, store_id, connections) "
          "SELECT $1, s, n FROM unnest($2::text[], $3::int[]) AS t(s, n) "
          "ON CONFLICT (store_id, gateway_id) DO UPDATE SET connections = EXCLUDED.connections, "
          "reported_at = now()",
          std::string(gateway_id), TextArray(ids),
          absl::StrCat("{", absl::StrJoin(counts, ","), "}"));
    }
    tx.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  std::vector<std::string> changed;
  for (const auto& [id, n] : stores) {
    auto it = before.find(id);
    if (it == before.end() || it->second != n) changed.push_back(id);
    if (it != before.end()) before.erase(it);
  }
  for (const auto& [id, n] : before) {
    if (n != 0) changed.push_back(id);
  }
  return changed;
}

absl::StatusOr<autosync::v1::ListQuarantineResponse> PgRepository::ListQuarantine(
    absl::string_view store_id, absl::string_view kind,
    const std::optional<QuarantineCursor>& after, int limit) {
  autosync::v1::ListQuarantineResponse out;
  absl::Status s =
      pg::ReadOneStore(pool_, store_id, [&](pqxx::read_transaction& tx, const std::string& id) {
        out.Clear();
        const std::string k(kind);
        for (const auto& row :
             tx.exec_params("SELECT rule, count(*) FROM quarantined_records WHERE store_id = $1 "
                            "AND ($2 = '' OR kind = $2) GROUP BY rule",
                            id, k)) {
          (*out.mutable_by_rule())[row[0].as<std::string>()] = row[1].as<int64_t>();
          out.set_total(out.total() + row[1].as<int64_t>());
        }
        // Keyset paging: every column of the order is descending, so one row comparison does.
        const pqxx::result r = tx.exec_params(
        "SELECT kind, record_key, rule, detail, run_id, source, raw, raw_truncated, "
        MICROS("first_seen") ", " MICROS("last_seen") ", times_seen "
        "FROM quarantined_records WHERE store_id = $1 AND ($2 = '' OR kind = $2) "
        "AND (NOT $3 OR (last_seen, kind, record_key) < "
        "('epoch'::timestamptz + $4::bigint * interval '1 microsecond', $5, $6)) "
        "ORDER BY last_seen DESC, kind DESC, record_key DESC LIMIT $7",
        id, k, after.has_value(),
        after.has_value() ? absl::ToUnixMicros(after->last_seen) : int64_t{0},
        after.has_value() ? after->kind : std::string(),
        after.has_value() ? after->record_key : std::string(), limit);
        for (const auto& row : r) {
          autosync::v1::QuarantinedRecord* q = out.add_records();
          q->set_kind(row[0].as<std::string>());
          q->set_record_key(row[1].as<std::string>());
          q->set_rule(row[2].as<std::string>());
          q->set_detail(row[3].as<std::string>());
          q->set_run_id(row[4].as<std::string>());
          q->set_source(row[5].as<std::string>());
          q->set_raw(row[6].as<std::string>());
          q->set_raw_truncated(row[7].as<bool>());
          ToProto(TimeFrom(row[8]), q->mutable_first_seen());
          ToProto(TimeFrom(row[9]), q->mutable_last_seen());
          q->set_times_seen(row[10].as<int64_t>());
        }
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<autosync::v1::GetLtvCohortsResponse> PgRepository::LtvCohorts(
    absl::string_view store_id) {
  autosync::v1::GetLtvCohortsResponse out;
  absl::Status s =
      pg::ReadOneStore(pool_, store_id, [&](pqxx::read_transaction& tx, const std::string& id) {
        out.set_store_id(id);
        // The shop's currency as the worker's cohort statement takes it (pg_sync_store.cc): that
        // of the most recently updated order.
        const pqxx::result currency = tx.exec_params(
            "SELECT currency FROM orders WHERE store_id = $1 AND currency <> '' "
            "ORDER BY updated_at DESC LIMIT 1",
            id);
        if (!currency.empty()) out.set_currency(currency[0][0].as<std::string>());
        const pqxx::result r = tx.exec_params(
        "SELECT to_char(cohort_month, 'YYYY-MM'), month_offset, cohort_customers, "
        "active_customers, orders, net_revenue::float8, cumulative_revenue_per_customer::float8, "
        "retention, coalesce(ad_spend, 0)::float8, coalesce(cac, 0)::float8, "
        "coalesce(ltv_to_cac, 0), " MICROS("computed_at") ", cac_note "
        "FROM customer_ltv_cohorts WHERE store_id = $1 "
        "ORDER BY cohort_month, month_offset",
        id);
        autosync::v1::Cohort* cohort = nullptr;
        absl::Time computed = absl::InfinitePast();
        for (const auto& row : r) {
          const std::string month = row[0].as<std::string>();
          if (cohort == nullptr || cohort->cohort_month() != month) {
            cohort = out.add_cohorts();
            cohort->set_cohort_month(month);
            cohort->set_customers(row[2].as<int64_t>());
            cohort->set_ad_spend(row[8].as<double>());
            cohort->set_cac(row[9].as<double>());
            cohort->set_cac_note(row[12].as<std::string>());
          }
          autosync::v1::CohortCell* cell = cohort->add_cells();
          cell->set_month_offset(row[1].as<int32_t>());
          cell->set_active_customers(row[3].as<int64_t>());
          cell->set_orders(row[4].as<int64_t>());
          cell->set_net_revenue(row[5].as<double>());
          cell->set_cumulative_revenue_per_customer(row[6].as<double>());
          cell->set_retention(row[7].as<double>());
          cell->set_ltv_to_cac(row[10].as<double>());
          computed = std::max(computed, TimeFrom(row[11]));
        }
        if (computed != absl::InfinitePast()) ToProto(computed, out.mutable_computed_at());
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<int64_t> PgRepository::ImportFxRates(const FxRatesTable& table,
                                                    const AuditEntry* audit) {
  // Array literals of values the parser validated (dates, [A-Z]{3}, plain decimals), sent in
  // statements of at most kChunk rates, all in one transaction.
  constexpr size_t kChunk = 20'000;
  int64_t stored = 0;
  absl::Status s = pool_.Run([&](pqxx::connection_base& c) {
    stored = 0;
    pqxx::work tx(c, "import_fx_rates");
    for (size_t from = 0; from < table.rates.size(); from += kChunk) {
      const size_t to = std::min(table.rates.size(), from + kChunk);
      std::string days = "{", currencies = "{", rates = "{";
      for (size_t i = from; i < to; ++i) {
        const char* sep = i == from ? "" : ",";
        const FxRate& r = table.rates[i];
        absl::StrAppend(&days, sep, absl::FormatCivilTime(r.day));
        absl::StrAppend(&currencies, sep, r.currency);
        absl::StrAppend(&rates, sep, r.per_eur);
      }
      for (std::string* a : {&days, &currencies, &rates}) a->push_back('}');
      stored += static_cast<int64_t>(
          tx.exec_params("INSERT INTO fx_rates (day, currency, per_eur) "
                         "SELECT * FROM unnest($1::date[], $2::text[], $3::numeric[]) "
                         "ON CONFLICT (day, currency) DO UPDATE SET "
                         "per_eur = excluded.per_eur, loaded_at = now()",
                         days, currencies, rates)
              .affected_rows());
    }
    pg::InsertAudit(tx, audit, absl::StrCat("{\"days\":", table.days, ",\"rates\":", stored, "}"));
    tx.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return stored;
}

absl::Status PgRepository::Notify(absl::string_view channel, absl::string_view payload) {
  return pool_.Run([&](pqxx::connection_base& c) {
    pqxx::nontransaction tx(c);
    tx.exec_params("SELECT pg_notify($1, $2)", std::string(channel), std::string(payload));
    return absl::OkStatus();
  });
}

}  // namespace autosync::scheduler
