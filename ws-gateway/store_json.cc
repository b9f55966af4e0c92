#include "ws-gateway/store_json.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <set>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "simdjson.h"
#include "ws-gateway/codec/ws_message.h"

namespace autosync::gateway {
namespace {

namespace v1 = autosync::v1;

absl::Status Bad(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
}

// Member names that carry a secret rather than a reference to one.
bool LooksLikeSecret(absl::string_view name) {
  std::string n = absl::AsciiStrToLower(name);
  n.erase(std::remove_if(n.begin(), n.end(), [](char c) { return c == '_' || c == '-'; }), n.end());
  static const char* const kSecrets[] = {"token",      "accesstoken",   "apitoken", "apikey",
                                         "secret",     "clientsecret",  "password", "apisecret",
                                         "privatekey", "authorization", "bearer"};
  for (const char* s : kSecrets) {
    if (n == s) return true;
  }
  return absl::EndsWith(n, "token") || absl::EndsWith(n, "secret") || absl::EndsWith(n, "password");
}

std::string Path(absl::string_view parent, absl::string_view name) {
  return parent.empty() ? std::string(name) : absl::StrCat(parent, ".", name);
}

using Handler = std::function<absl::Status(simdjson::dom::element, const std::string&)>;

// Walks the members of `object`: each must be known (a handler) and appear once.
absl::Status Members(simdjson::dom::element object, absl::string_view parent,
                     const std::vector<std::pair<absl::string_view, Handler>>& handlers) {
  simdjson::dom::object members;
  if (object.get_object().get(members) != simdjson::SUCCESS) {
    return parent.empty() ? absl::InvalidArgumentError("body: must be a JSON object")
                          : Bad(parent, "must be an object");
  }
  std::set<std::string> seen;
  for (auto [std_key, value] : members) {
    const absl::string_view key(std_key.data(), std_key.size());
    const std::string path = Path(parent, key);
    if (LooksLikeSecret(key)) {
      return Bad(path,
                 "looks like a secret; never send one: set credentialsRef to a reference "
                 "(env:NAME or file:/path) the worker resolves");
    }
    if (!seen.insert(std::string(key)).second) return Bad(path, "appears twice");
    auto it = std::find_if(handlers.begin(), handlers.end(),
                           [&](const auto& h) { return h.first == key; });
    if (it == handlers.end()) return Bad(path, "is not a known member");
    if (absl::Status s = it->second(value, path); !s.ok()) return s;
  }
  return absl::OkStatus();
}

Handler String(std::string* out) {
  return [out](simdjson::dom::element v, const std::string& path) -> absl::Status {
    std::string_view s;
    if (v.get_string().get(s) != simdjson::SUCCESS) return Bad(path, "must be a string");
    out->assign(s);
    return absl::OkStatus();
  };
}

Handler Int(int64_t* out) {
  return [out](simdjson::dom::element v, const std::string& path) -> absl::Status {
    int64_t i = 0;
    if (v.get_int64().get(i) != simdjson::SUCCESS) return Bad(path, "must be an integer");
    *out = i;
    return absl::OkStatus();
  };
}

Handler Bool(bool* out) {
  return [out](simdjson::dom::element v, const std::string& path) -> absl::Status {
    bool b = false;
    if (v.get_bool().get(b) != simdjson::SUCCESS) return Bad(path, "must be true or false");
    *out = b;
    return absl::OkStatus();
  };
}

// Read-only members a client may echo back from a GET: accepted (any string) and ignored.
Handler Ignored() {
  return [](simdjson::dom::element v, const std::string& path) -> absl::Status {
    if (!v.is_string() && !v.is_null()) return Bad(path, "must be a string");
    return absl::OkStatus();
  };
}

absl::StatusOr<simdjson::dom::element> Parse(simdjson::dom::parser& parser, absl::string_view body,
                                             bool allow_empty) {
  if (body.size() > kMaxStoreBodyBytes) {
    return absl::OutOfRangeError(
        absl::StrCat("body: is larger than ", kMaxStoreBodyBytes, " bytes"));
  }
  std::string text(absl::StripAsciiWhitespace(body));
  if (text.empty()) {
    if (allow_empty)
      text = "{}";
    else
      return absl::InvalidArgumentError("body: is empty (send a JSON object)");
  }
  simdjson::dom::element doc;
  if (parser.parse(text).get(doc) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("body: is not valid JSON");
  }
  if (!doc.is_object()) return absl::InvalidArgumentError("body: must be a JSON object");
  return doc;
}

std::string RfcTime(const google::protobuf::Timestamp& ts) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(ts.seconds()),
                          absl::UTCTimeZone());
}

void Str(std::string* out, absl::string_view name, absl::string_view value) {
  absl::StrAppend(out, "\"", name, "\":");
  AppendJsonString(out, std::string_view(value.data(), value.size()));
  out->push_back(',');
}

}  // namespace

std::string StoreToJson(const v1::Store& s) {
  std::string out = "{";
  Str(&out, "storeId", s.store_id());
  Str(&out, "displayName", s.display_name());
  absl::StrAppend(&out, "\"schedules\":{\"orders\":");
  AppendJsonString(&out, s.schedule());
  absl::StrAppend(&out, ",\"ads\":");
  AppendJsonString(&out, s.ads_schedule().empty() ? s.schedule() : s.ads_schedule());
  absl::StrAppend(&out, "},");
  Str(&out, "timezone", s.timezone());
  absl::StrAppend(&out, "\"enabled\":", s.enabled() ? "true" : "false", ",");
  Str(&out, "pauseNote", s.pause_note());
  absl::StrAppend(&out, "\"stalenessSeconds\":{\"orders\":", s.staleness_seconds(),
                  ",\"ads\":", s.ads_staleness_seconds(), "},");
  absl::StrAppend(&out, "\"jitterSeconds\":", s.jitter_seconds(), ",");
  Str(&out, "ordersApi", s.orders_api());
  Str(&out, "ordersApiBase", s.orders_api_base());
  Str(&out, "ordersApiVersion", s.orders_api_version());
  Str(&out, "adsApiBase", s.ads_api_base());
  Str(&out, "adsApiVersion", s.ads_api_version());
  Str(&out, "adAccountId", s.ad_account_id());
  Str(&out, "credentialsRef", s.credentials_ref());
  Str(&out, "notifyWebhookUrl", s.notify_webhook_url());
  Str(&out, "notifySecretRef", s.notify_secret_ref());
  absl::StrAppend(&out, "\"version\":", s.version());
  if (s.has_created_at()) absl::StrAppend(&out, ",\"createdAt\":\"", RfcTime(s.created_at()), "\"");
  if (s.has_updated_at()) absl::StrAppend(&out, ",\"updatedAt\":\"", RfcTime(s.updated_at()), "\"");
  out.push_back('}');
  return out;
}

absl::StatusOr<StoreBody> ParseStoreBody(absl::string_view body) {
  simdjson::dom::parser parser;
  absl::StatusOr<simdjson::dom::element> doc = Parse(parser, body, /*allow_empty=*/false);
  if (!doc.ok()) return doc.status();
  StoreBody out;
  v1::Store& st = out.store;
  st.set_enabled(true);
  std::string id, name, tz, note, oapi, ob, ov, ab, av, account, cred, orders_cron, ads_cron;
  std::string notify_url, notify_ref;
  int64_t so = 0, sa = 0, jitter = 0;
  bool enabled = true;
  auto per_type = [](std::string* orders, std::string* ads) -> Handler {
    return [orders, ads](simdjson::dom::element v, const std::string& path) {
      return Members(v, path, {{"orders", String(orders)}, {"ads", String(ads)}});
    };
  };
  auto per_type_int = [](int64_t* orders, int64_t* ads) -> Handler {
    return [orders, ads](simdjson::dom::element v, const std::string& path) {
      return Members(v, path, {{"orders", Int(orders)}, {"ads", Int(ads)}});
    };
  };
  absl::Status s = Members(*doc, "",
                           {{"storeId", String(&id)},
                            {"displayName", String(&name)},
                            {"schedules", per_type(&orders_cron, &ads_cron)},
                            {"timezone", String(&tz)},
                            {"enabled", Bool(&enabled)},
                            {"pauseNote", String(&note)},
                            {"stalenessSeconds", per_type_int(&so, &sa)},
                            {"jitterSeconds", Int(&jitter)},
                            {"ordersApi", String(&oapi)},
                            {"ordersApiBase", String(&ob)},
                            {"ordersApiVersion", String(&ov)},
                            {"adsApiBase", String(&ab)},
                            {"adsApiVersion", String(&av)},
                            {"adAccountId", String(&account)},
                            {"credentialsRef", String(&cred)},
                            {"notifyWebhookUrl", String(&notify_url)},
                            {"notifySecretRef", String(&notify_ref)},
                            {"version", Int(&out.version)},
                            {"createdAt", Ignored()},
                            {"updatedAt", Ignored()}});
  if (!s.ok()) return s;
  simdjson::dom::element unused;
  out.has_store_id = (*doc)["storeId"].get(unused) == simdjson::SUCCESS;
  st.set_store_id(id);
  st.set_display_name(name);
  st.set_schedule(orders_cron);
  // An explicit ads schedule always: "" would otherwise mean "the same as orders".
  st.set_ads_schedule(ads_cron);
  st.set_timezone(tz);
  st.set_enabled(enabled);
  st.set_pause_note(note);
  st.set_staleness_seconds(so);
  st.set_ads_staleness_seconds(sa);
  st.set_jitter_seconds(jitter);
  st.set_orders_api(oapi);
  st.set_orders_api_base(ob);
  st.set_orders_api_version(ov);
  st.set_ads_api_base(ab);
  st.set_ads_api_version(av);
  st.set_ad_account_id(account);
  st.set_credentials_ref(cred);
  st.set_notify_webhook_url(notify_url);
  st.set_notify_secret_ref(notify_ref);
  if (out.version < 0) return Bad("version", "must not be negative");
  return out;
}

absl::StatusOr<std::string> ParsePauseBody(absl::string_view body) {
  simdjson::dom::parser parser;
  absl::StatusOr<simdjson::dom::element> doc = Parse(parser, body, /*allow_empty=*/true);
  if (!doc.ok()) return doc.status();
  std::string note;
  if (absl::Status s = Members(*doc, "", {{"note", String(&note)}}); !s.ok()) return s;
  return note;
}

absl::StatusOr<std::pair<std::string, std::string>> ParseBackfillBody(absl::string_view body) {
  simdjson::dom::parser parser;
  absl::StatusOr<simdjson::dom::element> doc = Parse(parser, body, /*allow_empty=*/false);
  if (!doc.ok()) return doc.status();
  std::string from, to;
  if (absl::Status s = Members(*doc, "", {{"from", String(&from)}, {"to", String(&to)}}); !s.ok()) {
    return s;
  }
  if (from.empty()) return Bad("from", "is required (YYYY-MM-DD)");
  if (to.empty()) return Bad("to", "is required (YYYY-MM-DD)");
  return std::make_pair(from, to);
}

absl::StatusOr<v1::PreviewScheduleRequest> ParsePreviewBody(absl::string_view body) {
  simdjson::dom::parser parser;
  absl::StatusOr<simdjson::dom::element> doc = Parse(parser, body, /*allow_empty=*/false);
  if (!doc.ok()) return doc.status();
  std::string schedule, tz;
  int64_t count = 0;
  if (absl::Status s = Members(
          *doc, "",
          {{"schedule", String(&schedule)}, {"timezone", String(&tz)}, {"count", Int(&count)}});
      !s.ok()) {
    return s;
  }
  if (count < 0 || count > 100) return Bad("count", "must be between 1 and 100");
  v1::PreviewScheduleRequest req;
  req.set_schedule(schedule);
  req.set_timezone(tz);
  req.set_count(static_cast<int32_t>(count));
  return req;
}

absl::Status ParseEmptyBody(absl::string_view body) {
  simdjson::dom::parser parser;
  absl::StatusOr<simdjson::dom::element> doc = Parse(parser, body, /*allow_empty=*/true);
  if (!doc.ok()) return doc.status();
  return Members(*doc, "", {});
}

std::string JsonFieldFor(absl::string_view message) {
  const size_t colon = message.find(':');
  if (colon == absl::string_view::npos) return "";
  const absl::string_view field = message.substr(0, colon);
  static const std::pair<absl::string_view, absl::string_view> kFields[] = {
      {"store_id", "storeId"},
      {"display_name", "displayName"},
      {"schedule", "schedules.orders"},
      {"ads_schedule", "schedules.ads"},
      {"timezone", "timezone"},
      {"staleness_seconds", "stalenessSeconds.orders"},
      {"ads_staleness_seconds", "stalenessSeconds.ads"},
      {"jitter_seconds", "jitterSeconds"},
      {"orders_api", "ordersApi"},
      {"orders_api_base", "ordersApiBase"},
      {"orders_api_version", "ordersApiVersion"},
      {"ads_api_base", "adsApiBase"},
      {"ads_api_version", "adsApiVersion"},
      {"ad_account_id", "adAccountId"},
      {"credentials_ref", "credentialsRef"},
      {"notify_webhook_url", "notifyWebhookUrl"},
      {"notify_secret_ref", "notifySecretRef"},
      {"pause_note", "pauseNote"},
      {"backfill_from", "from"},
      {"backfill_to", "to"},
      {"count", "count"},
      {"note", "note"},
      {"version", "version"},
      {"from", "from"},
      {"to", "to"},
  };
  for (const auto& [proto, json] : kFields) {
    if (field == proto) return std::string(json);
  }
  // Already a JSON path of ours ("schedules.ads: must be a string").
  if (absl::StrContains(field, '.') ||
      (!field.empty() && std::islower(field[0]) && !absl::StrContains(field, '_') &&
       !absl::StrContains(field, ' '))) {
    return std::string(field);
  }
  return "";
}

}  // namespace autosync::gateway
