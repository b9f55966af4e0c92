#include "sync-worker/connectors/bulk_orders.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "sync-worker/connectors/json_util.h"
#include "sync-worker/connectors/record_rules.h"

namespace autosync::worker {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

// The refunded amount comes from the refunds' transactions, as REST computes it.
constexpr char kRefundFields[] =
    "refunds { id transactions { edges { node { id kind status "
    "amountSet { shopMoney { amount } } } } } }";

constexpr char kOperationFields[] =
    "id status errorCode createdAt completedAt objectCount fileSize url partialDataUrl";

absl::StatusOr<BulkOperation> ParseOperation(object op, absl::string_view path) {
  BulkOperation out;
  AUTOSYNC_ASSIGN_OR_RETURN(out.id, json::String(op, "id", path));
  AUTOSYNC_ASSIGN_OR_RETURN(out.status, json::String(op, "status", path));
  AUTOSYNC_ASSIGN_OR_RETURN(out.error_code, json::OptionalString(op, "errorCode", path));
  if (std::optional<element> count = json::Member(op, "objectCount")) {
    AUTOSYNC_ASSIGN_OR_RETURN(out.object_count,
                              json::Count(*count, json::Path(path, "objectCount")));
  }
  AUTOSYNC_ASSIGN_OR_RETURN(out.url, json::OptionalString(op, "url", path));
  return out;
}

}  // namespace

std::string BulkOrdersQuery(absl::string_view filter) {
  return absl::StrCat("{ orders(query: ", json::Quote(filter), ", sortKey: UPDATED_AT) { edges { ",
                      "node { ", GraphqlOrderFields(), " ", kRefundFields, " } } } }");
}

std::string BulkRunBody(absl::string_view filter) {
  return absl::StrCat(
      "{\"query\":\"mutation($q: String!) { bulkOperationRunQuery(query: $q) { "
      "bulkOperation { id status } userErrors { field message } } }\",\"variables\":{\"q\":",
      json::Quote(BulkOrdersQuery(filter)), "}}");
}

std::string BulkPollBody(absl::string_view operation_id) {
  return absl::StrCat("{\"query\":\"query($id: ID!) { node(id: $id) { ... on BulkOperation { ",
                      kOperationFields,
                      " } } }\",\"variables\":{\"id\":", json::Quote(operation_id), "}}");
}

std::string BulkCurrentBody() {
  return absl::StrCat("{\"query\":\"query { currentBulkOperation { ", kOperationFields, " } }\"}");
}

std::string BulkCancelBody(absl::string_view operation_id) {
  return absl::StrCat(
      "{\"query\":\"mutation($id: ID!) { bulkOperationCancel(id: $id) { "
      "bulkOperation { id status } userErrors { field message } } }\",\"variables\":{\"id\":",
      json::Quote(operation_id), "}}");
}

absl::StatusOr<BulkAnswer> ParseBulkAnswer(absl::string_view body, absl::string_view field) {
  thread_local simdjson::dom::parser parser;
  AUTOSYNC_ASSIGN_OR_RETURN(element root_value, json::Parse(parser, body, "GraphQL answer"));
  AUTOSYNC_ASSIGN_OR_RETURN(object root, json::Object(root_value, "GraphQL answer"));
  BulkAnswer out;
  AUTOSYNC_ASSIGN_OR_RETURN(static_cast<GraphqlEnvelope&>(out), ParseGraphqlEnvelope(root));
  if (out.throttled || !out.errors.empty()) return out;
  AUTOSYNC_ASSIGN_OR_RETURN(element data_value, json::Required(root, "data", ""));
  AUTOSYNC_ASSIGN_OR_RETURN(object data, json::Object(data_value, "data"));
  const std::string path = json::Path("data", field);
  std::optional<element> value = json::Member(data, field);
  if (field == "node" || field == "currentBulkOperation") {
    if (value) {
      AUTOSYNC_ASSIGN_OR_RETURN(object op, json::Object(*value, path));
      AUTOSYNC_ASSIGN_OR_RETURN(out.operation, ParseOperation(op, path));
    }
    return out;
  }
  if (!value) return absl::InvalidArgumentError(absl::StrCat(path, ": missing"));
  AUTOSYNC_ASSIGN_OR_RETURN(object payload, json::Object(*value, path));
  if (std::optional<element> op = json::Member(payload, "bulkOperation")) {
    const std::string op_path = json::Path(path, "bulkOperation");
    AUTOSYNC_ASSIGN_OR_RETURN(object op_obj, json::Object(*op, op_path));
    AUTOSYNC_ASSIGN_OR_RETURN(out.operation, ParseOperation(op_obj, op_path));
  }
  if (std::optional<element> errors_value = json::Member(payload, "userErrors")) {
    array errors;
    if (errors_value->get(errors) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(absl::StrCat(path, ".userErrors: expected an array"));
    }
    size_t i = 0;
    for (element e : errors) {
      const std::string error_path = json::Path(json::Path(path, "userErrors"), i++);
      AUTOSYNC_ASSIGN_OR_RETURN(object error, json::Object(e, error_path));
      AUTOSYNC_ASSIGN_OR_RETURN(std::string message,
                                json::OptionalString(error, "message", error_path));
      std::vector<std::string> fields;
      array field_list;
      if (std::optional<element> f = json::Member(error, "field");
          f && f->get(field_list) == simdjson::SUCCESS) {
        for (element part : field_list) {
          absl::string_view text;
          if (json::GetString(part, text)) fields.emplace_back(text);
        }
      }
      if (message.size() > 300) message = absl::StrCat(message.substr(0, 300), "…");
      out.user_errors.push_back(
          fields.empty() ? message : absl::StrCat(absl::StrJoin(fields, "."), ": ", message));
    }
  }
  return out;
}

BulkOrdersReader::BulkOrdersReader(size_t max_line_bytes, const RecordScreen* screen)
    : max_line_bytes_(max_line_bytes), screen_(screen) {}

absl::Status BulkOrdersReader::Fail(absl::Status status) {
  failed_ = status;
  current_.reset();
  partial_.clear();
  return status;
}

absl::Status BulkOrdersReader::Feed(absl::string_view bytes, std::vector<Order>& complete) {
  if (!failed_.ok()) return failed_;
  while (!bytes.empty()) {
    const char* newline = static_cast<const char*>(std::memchr(bytes.data(), '\n', bytes.size()));
    const size_t take =
        newline == nullptr ? bytes.size() : static_cast<size_t>(newline - bytes.data());
    if (partial_.size() + take > max_line_bytes_) {
      return Fail(absl::DataLossError(absl::StrCat("bulk result line ", lines_ + 1,
                                                   " is longer than ", max_line_bytes_, " bytes")));
    }
    if (newline == nullptr) {
      partial_.append(bytes.data(), bytes.size());
      return absl::OkStatus();
    }
    absl::Status s;
    if (partial_.empty()) {
      s = Line(bytes.substr(0, take), complete);
    } else {
      partial_.append(bytes.data(), take);
      s = Line(partial_, complete);
      partial_.clear();
    }
    if (!s.ok()) return Fail(std::move(s));
    bytes.remove_prefix(take + 1);
  }
  return absl::OkStatus();
}

absl::Status BulkOrdersReader::Finish(std::vector<Order>& complete) {
  if (!failed_.ok()) return failed_;
  if (!partial_.empty()) {
    absl::Status s = Line(partial_, complete);
    partial_.clear();
    if (!s.ok()) return Fail(std::move(s));
  }
  Complete(complete);
  return absl::OkStatus();
}

absl::Status BulkOrdersReader::Line(absl::string_view line, std::vector<Order>& complete) {
  ++lines_;
  const std::string where = absl::StrCat("bulk result line ", lines_);
  if (line.empty()) return absl::OkStatus();  // tolerated, as a trailing newline
  absl::StatusOr<element> parsed = json::Parse(parser_, line, where);
  if (!parsed.ok()) return parsed.status();
  absl::StatusOr<object> obj = json::Object(*parsed, where);
  if (!obj.ok()) return obj.status();
  if (std::optional<element> parent = json::Member(*obj, "__parentId")) {
    absl::string_view parent_gid;
    if (!json::GetString(*parent, parent_gid)) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": __parentId is not a string"));
    }
    absl::Status s = Child(*obj, parent_gid);
    if (!s.ok()) return absl::Status(s.code(), absl::StrCat(where, ": ", s.message()));
    KeepRaw(line);
    return absl::OkStatus();
  }
  absl::StatusOr<Order> order = ParseGraphqlOrderNode(*parsed, where);
  if (!order.ok()) return order.status();
  std::vector<int64_t> refunds;
  if (std::optional<element> refunds_value = json::Member(*obj, "refunds")) {
    const std::string refunds_path = json::Path(where, "refunds");
    array list;
    if (refunds_value->get(list) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(absl::StrCat(refunds_path, ": expected an array"));
    }
    size_t i = 0;
    for (element refund_value : list) {
      const std::string refund_path = json::Path(refunds_path, i++);
      AUTOSYNC_ASSIGN_OR_RETURN(object refund, json::Object(refund_value, refund_path));
      AUTOSYNC_ASSIGN_OR_RETURN(std::string gid, json::String(refund, "id", refund_path));
      AUTOSYNC_ASSIGN_OR_RETURN(int64_t id, ParseGid(gid, "Refund", json::Path(refund_path, "id")));
      refunds.push_back(id);
    }
    // Refunds are listed: the transactions that follow say what was refunded.
    order->refunded_cents = 0;
  }
  Complete(complete);
  current_ = *std::move(order);
  current_refunds_ = std::move(refunds);
  current_line_ = lines_;
  current_raw_.clear();
  KeepRaw(line);
  return absl::OkStatus();
}

void BulkOrdersReader::KeepRaw(absl::string_view line) {
  // One byte past the cap is kept so that RecordScreen sees the raw JSON was cut.
  if (screen_ == nullptr || current_raw_.size() > kMaxRawBytes) return;
  if (!current_raw_.empty()) current_raw_.push_back('\n');
  const size_t room = kMaxRawBytes + 1 - std::min(current_raw_.size(), kMaxRawBytes + 1);
  const absl::string_view kept = line.substr(0, room);
  current_raw_.append(kept.data(), kept.size());
}

void BulkOrdersReader::Complete(std::vector<Order>& complete) {
  if (!current_.has_value()) return;
  if (screen_ == nullptr ||
      screen_->Admit(*current_, absl::StrCat("bulk result line ", current_line_),
                     [&] { return std::move(current_raw_); })) {
    complete.push_back(*std::move(current_));
  }
  current_.reset();
  current_raw_.clear();
}

absl::Status BulkOrdersReader::Child(object child, absl::string_view parent_gid) {
  if (!current_.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("a child line (__parentId ", parent_gid.substr(0, 80),
                     ") before any order line: children must follow their parent"));
  }
  if (!absl::StartsWith(parent_gid, "gid://shopify/Refund/")) {
    return absl::InvalidArgumentError(
        absl::StrCat("a child of ", parent_gid.substr(0, 80),
                     ": the bulk query asks only for refund transactions (children of a Refund)"));
  }
  AUTOSYNC_ASSIGN_OR_RETURN(int64_t refund_id, ParseGid(parent_gid, "Refund", "__parentId"));
  if (std::find(current_refunds_.begin(), current_refunds_.end(), refund_id) ==
      current_refunds_.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "its parent ", parent_gid, " is not a refund of order ", current_->id,
        " on the line before it (a child ahead of its parent, or a parent that never came)"));
  }
  AUTOSYNC_ASSIGN_OR_RETURN(std::string gid, json::String(child, "id", ""));
  AUTOSYNC_ASSIGN_OR_RETURN(int64_t transaction_id, ParseGid(gid, "OrderTransaction", "id"));
  (void)transaction_id;  // read to check the line's type; the tables keep only the sum
  AUTOSYNC_ASSIGN_OR_RETURN(std::string kind, json::OptionalString(child, "kind", ""));
  AUTOSYNC_ASSIGN_OR_RETURN(std::string status, json::OptionalString(child, "status", ""));
  AUTOSYNC_ASSIGN_OR_RETURN(std::optional<int64_t> amount, ParseShopMoney(child, "amountSet", ""));
  if (!amount.has_value()) return absl::InvalidArgumentError("amountSet: missing");
  if (absl::EqualsIgnoreCase(kind, "REFUND") && absl::EqualsIgnoreCase(status, "SUCCESS")) {
    current_->refunded_cents += *amount;
  }
  return absl::OkStatus();
}

}  // namespace autosync::worker
