#include "ws-gateway/codec/socketio.h"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "ws-gateway/codec/json_parser.h"
#include "ws-gateway/codec/ws_message.h"
#include "ws-gateway/sv.h"

namespace autosync::gateway::socketio {
namespace {

constexpr size_t kMaxAckIdDigits = 16;  // kMaxAckId has 16 digits
constexpr size_t kQuoteLimit = 32;      // how much of an offending input an error message shows

// Reserved by socket.io: emitting them would collide with the library's own lifecycle events.
constexpr std::array<std::string_view, 6> kReservedEvents = {
    "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"};

bool IsBinaryType(PacketType type) {
  return type == PacketType::kBinaryEvent || type == PacketType::kBinaryAck;
}
bool IsEventType(PacketType type) {
  return type == PacketType::kEvent || type == PacketType::kBinaryEvent;
}
bool IsAckType(PacketType type) {
  return type == PacketType::kAck || type == PacketType::kBinaryAck;
}

// A short, quoted, escaped excerpt of untrusted input for an error message.
std::string Excerpt(std::string_view text) {
  if (text.size() <= kQuoteLimit) return JsonQuote(text);
  return absl::StrCat(JsonQuote(text.substr(0, kQuoteLimit)), "…");
}

absl::Status Invalid(PacketType type, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("bad Socket.IO ", Av(PacketTypeName(type)), " packet: ", Av(what)));
}

// Namespaces are path-like names ("/admin"). Refusing JSON punctuation catches a missing ','
// between namespace and payload with a message that says so.
absl::Status CheckNamespace(PacketType type, std::string_view nsp) {
  if (nsp.size() > kMaxNamespaceBytes) {
    return Invalid(type, absl::StrCat("namespace longer than ", kMaxNamespaceBytes, " bytes"));
  }
  for (const char c : nsp) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F || c == '[' || c == ']' || c == '{' || c == '}' || c == '"') {
      return Invalid(type, absl::StrCat("bad namespace ", Excerpt(nsp), ": character ",
                                        JsonQuote(std::string_view(&c, 1)),
                                        " is not allowed (missing ',' after the namespace?)"));
    }
  }
  return absl::OkStatus();
}

// Checks every `{"_placeholder":...}` object below `element` against the attachment count.
absl::Status CheckPlaceholders(PacketType type, simdjson::dom::element element,
                               size_t attachment_count) {
  simdjson::dom::array array;
  if (element.get_array().get(array) == simdjson::SUCCESS) {
    for (const simdjson::dom::element child : array) {
      if (absl::Status s = CheckPlaceholders(type, child, attachment_count); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  simdjson::dom::object object;
  if (element.get_object().get(object) != simdjson::SUCCESS) return absl::OkStatus();
  simdjson::dom::element marker;
  if (object.at_key("_placeholder").get(marker) == simdjson::SUCCESS) {
    bool is_placeholder = false;
    uint64_t num = 0;
    if (marker.get_bool().get(is_placeholder) != simdjson::SUCCESS || !is_placeholder ||
        object.at_key("num").get_uint64().get(num) != simdjson::SUCCESS) {
      return Invalid(type, "binary placeholder must be {\"_placeholder\":true,\"num\":<index>}");
    }
    if (num >= attachment_count) {
      return Invalid(type, absl::StrCat("binary placeholder num ", num, " but only ",
                                        attachment_count, " attachment(s) announced"));
    }
    return absl::OkStatus();
  }
  for (const simdjson::dom::key_value_pair field : object) {
    if (absl::Status s = CheckPlaceholders(type, field.value, attachment_count); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// Parses and checks the payload's shape for the packet type; fills data, event and args.
absl::Status DecodeJsonPayload(std::string_view payload, Packet* packet) {
  const PacketType type = packet->type;
  if (type == PacketType::kDisconnect) {
    if (!payload.empty()) {
      return Invalid(type, absl::StrCat("trailing data ", Excerpt(payload)));
    }
    return absl::OkStatus();
  }
  if (payload.empty()) {
    switch (type) {
      case PacketType::kConnect:
        return absl::OkStatus();  // no auth data
      case PacketType::kConnectError:
        return Invalid(type, "payload missing (expected an object)");
      default:
        return Invalid(type, "payload missing (expected a JSON array)");
    }
  }
  simdjson::dom::element root;
  if (auto error = json_internal::ThreadParser().parse(payload.data(), payload.size()).get(root);
      error) {
    // Name the common case precisely: a complete value followed by garbage.
    const size_t start = json_internal::SkipWhitespace(payload, 0);
    const size_t end =
        json_internal::SkipWhitespace(payload, json_internal::SkipValue(payload, start));
    if (end > start && end < payload.size()) {
      return Invalid(type, absl::StrCat("trailing garbage ", Excerpt(payload.substr(end)),
                                        " after the JSON payload"));
    }
    return Invalid(type, absl::StrCat("payload is not valid JSON (", simdjson::error_message(error),
                                      "): ", Excerpt(payload)));
  }
  const std::string_view trimmed = payload.substr(json_internal::SkipWhitespace(payload, 0));
  const std::string_view actual = json_internal::TypeName(trimmed);
  if (type == PacketType::kConnect || type == PacketType::kConnectError) {
    if (!root.is_object()) {
      return Invalid(type, absl::StrCat("payload must be a JSON object, got ", Av(actual)));
    }
    packet->data = std::string(payload);
    return absl::OkStatus();
  }
  // EVENT, ACK and their binary forms carry an array.
  simdjson::dom::array array;
  if (root.get_array().get(array) != simdjson::SUCCESS) {
    return Invalid(type, absl::StrCat("payload must be a JSON array, got ", Av(actual)));
  }
  std::vector<std::string_view> elements = json_internal::ArrayElements(trimmed);
  size_t first_arg = 0;
  if (IsEventType(type)) {
    if (array.size() == 0) return Invalid(type, "event payload is an empty array (no event name)");
    std::string_view name;
    if (array.at(0).get_string().get(name) != simdjson::SUCCESS) {
      return Invalid(type, absl::StrCat("event name must be a string, got ",
                                        Av(json_internal::TypeName(elements.front()))));
    }
    if (IsReservedEventName(name)) {
      return Invalid(type, absl::StrCat("event name ", JsonQuote(name), " is reserved"));
    }
    packet->event = std::string(name);
    first_arg = 1;
  }
  if (IsBinaryType(type)) {
    if (absl::Status s = CheckPlaceholders(type, root, packet->attachment_count); !s.ok()) {
      return s;
    }
  }
  packet->args.reserve(elements.size() - first_arg);
  for (size_t i = first_arg; i < elements.size(); ++i) packet->args.emplace_back(elements[i]);
  packet->data = std::string(payload);
  return absl::OkStatus();
}

void AppendNamespace(std::string* out, std::string_view nsp) {
  if (nsp.empty() || nsp == kMainNamespace) return;
  out->append(nsp);
  out->push_back(',');
}

char TypeDigit(PacketType type) { return static_cast<char>('0' + static_cast<int>(type)); }

// Appends `<type>[<nsp>,][<id>]["<name>",<json_args>]`.
void AppendEvent(std::string* out, std::string_view nsp, std::string_view name,
                 std::string_view json_args, std::optional<uint64_t> ack_id) {
  out->push_back(TypeDigit(PacketType::kEvent));
  AppendNamespace(out, nsp);
  if (ack_id.has_value()) absl::StrAppend(out, *ack_id);
  out->push_back('[');
  AppendJsonString(out, name);
  if (!json_args.empty()) {
    out->push_back(',');
    out->append(json_args);
  }
  out->push_back(']');
}

// Room for type, namespace, a 20-digit id and JSON punctuation: encoders allocate once.
size_t HeaderReserve(std::string_view nsp) { return 2 + nsp.size() + 1 + 20 + 8; }

}  // namespace

std::string_view PacketTypeName(PacketType type) {
  switch (type) {
    case PacketType::kConnect:
      return "CONNECT";
    case PacketType::kDisconnect:
      return "DISCONNECT";
    case PacketType::kEvent:
      return "EVENT";
    case PacketType::kAck:
      return "ACK";
    case PacketType::kConnectError:
      return "CONNECT_ERROR";
    case PacketType::kBinaryEvent:
      return "BINARY_EVENT";
    case PacketType::kBinaryAck:
      return "BINARY_ACK";
  }
  return "UNKNOWN";
}

bool IsReservedEventName(std::string_view name) {
  for (const std::string_view reserved : kReservedEvents) {
    if (name == reserved) return true;
  }
  return false;
}

absl::StatusOr<Packet> Decode(std::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError("empty Socket.IO packet");
  if (text.front() < '0' || text.front() > '6') {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown Socket.IO packet type ", JsonQuote(text.substr(0, 1)), " (expected 0-6)"));
  }
  Packet packet;
  packet.type = static_cast<PacketType>(text.front() - '0');
  size_t pos = 1;

  if (IsBinaryType(packet.type)) {
    const size_t dash = text.find('-', pos);
    const std::string_view count =
        text.substr(pos, dash == std::string_view::npos ? 0 : dash - pos);
    if (dash == std::string_view::npos || count.empty() || count.size() > 3 ||
        !std::all_of(count.begin(), count.end(), absl::ascii_isdigit)) {
      return Invalid(packet.type, "attachment count missing (expected <n>- after the type)");
    }
    for (const char c : count) packet.attachment_count = packet.attachment_count * 10 + (c - '0');
    if (packet.attachment_count > kMaxAttachments) {
      return Invalid(packet.type, absl::StrCat(packet.attachment_count,
                                               " attachments announced, more than the limit of ",
                                               kMaxAttachments));
    }
    pos = dash + 1;
  }

  if (pos < text.size() && text[pos] == '/') {
    size_t comma = text.find(',', pos);
    const size_t end = comma == std::string_view::npos ? text.size() : comma;
    const std::string_view nsp = text.substr(pos, end - pos);
    if (absl::Status s = CheckNamespace(packet.type, nsp); !s.ok()) return s;
    packet.nsp = std::string(nsp);
    pos = comma == std::string_view::npos ? text.size() : comma + 1;
  }

  size_t digits_end = pos;
  while (digits_end < text.size() &&
         absl::ascii_isdigit(static_cast<unsigned char>(text[digits_end]))) {
    ++digits_end;
  }
  if (digits_end > pos) {
    const std::string_view digits = text.substr(pos, digits_end - pos);
    if (!IsEventType(packet.type) && !IsAckType(packet.type)) {
      return Invalid(packet.type, absl::StrCat("unexpected ack id or data ", Excerpt(digits)));
    }
    if (digits.size() > kMaxAckIdDigits) {
      return Invalid(packet.type, absl::StrCat("ack id ", Excerpt(digits), " is too large"));
    }
    uint64_t id = 0;
    for (const char c : digits) id = id * 10 + static_cast<uint64_t>(c - '0');
    if (id > kMaxAckId) {
      return Invalid(packet.type, absl::StrCat("ack id ", id, " is larger than ", kMaxAckId));
    }
    packet.ack_id = id;
    pos = digits_end;
  }
  const std::string_view payload = text.substr(pos);
  if ((IsEventType(packet.type) || IsAckType(packet.type)) && !payload.empty() &&
      (absl::ascii_isalpha(static_cast<unsigned char>(payload.front())) || payload.front() == '-' ||
       payload.front() == '+' || payload.front() == '.')) {
    // `42abc[...]`: the reference server refuses this as an invalid ack id.
    return Invalid(packet.type, absl::StrCat("bad ack id ", Excerpt(payload),
                                             " (expected digits, then the JSON array)"));
  }
  if (IsAckType(packet.type) && !packet.ack_id.has_value()) {
    return Invalid(packet.type, "ack id missing");
  }
  if (absl::Status s = DecodeJsonPayload(payload, &packet); !s.ok()) return s;
  return packet;
}

std::string Encode(const Packet& packet) {
  std::string out;
  out.reserve(HeaderReserve(packet.nsp) + packet.data.size());
  out.push_back(TypeDigit(packet.type));
  if (IsBinaryType(packet.type)) absl::StrAppend(&out, packet.attachment_count, "-");
  AppendNamespace(&out, packet.nsp);
  if (packet.ack_id.has_value()) absl::StrAppend(&out, *packet.ack_id);
  out.append(packet.data);
  return out;
}

std::string EncodeEvent(std::string_view nsp, std::string_view name, std::string_view json_args,
                        std::optional<uint64_t> ack_id) {
  std::string out;
  out.reserve(HeaderReserve(nsp) + name.size() + json_args.size());
  AppendEvent(&out, nsp, name, json_args, ack_id);
  return out;
}

std::string EncodeEventFrame(std::string_view nsp, std::string_view name,
                             std::string_view json_args, std::optional<uint64_t> ack_id) {
  std::string out;
  out.reserve(1 + HeaderReserve(nsp) + name.size() + json_args.size());
  out.push_back('4');  // Engine.IO message packet
  AppendEvent(&out, nsp, name, json_args, ack_id);
  return out;
}

std::string EncodeAck(std::string_view nsp, uint64_t ack_id, std::string_view json_args) {
  std::string out;
  out.reserve(HeaderReserve(nsp) + json_args.size());
  out.push_back(TypeDigit(PacketType::kAck));
  AppendNamespace(&out, nsp);
  absl::StrAppend(&out, ack_id);
  out.push_back('[');
  out.append(json_args);
  out.push_back(']');
  return out;
}

std::string EncodeConnect(std::string_view nsp, std::string_view sid) {
  std::string out;
  out.reserve(HeaderReserve(nsp) + sid.size());
  out.push_back(TypeDigit(PacketType::kConnect));
  AppendNamespace(&out, nsp);
  out.append("{\"sid\":");
  AppendJsonString(&out, sid);
  out.push_back('}');
  return out;
}

std::string EncodeConnectError(std::string_view nsp, std::string_view message) {
  std::string out;
  out.reserve(HeaderReserve(nsp) + 12 + message.size());
  out.push_back(TypeDigit(PacketType::kConnectError));
  AppendNamespace(&out, nsp);
  out.append("{\"message\":");
  AppendJsonString(&out, message);
  out.push_back('}');
  return out;
}

std::string EncodeDisconnect(std::string_view nsp) {
  std::string out;
  out.reserve(HeaderReserve(nsp));
  out.push_back(TypeDigit(PacketType::kDisconnect));
  AppendNamespace(&out, nsp);
  return out;
}

std::optional<size_t> PlaceholderIndex(std::string_view raw_json) {
  simdjson::dom::element root;
  if (json_internal::ThreadParser().parse(raw_json.data(), raw_json.size()).get(root) !=
      simdjson::SUCCESS) {
    return std::nullopt;
  }
  bool marker = false;
  uint64_t num = 0;
  if (root["_placeholder"].get_bool().get(marker) != simdjson::SUCCESS || !marker ||
      root["num"].get_uint64().get(num) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  return static_cast<size_t>(num);
}

absl::StatusOr<std::optional<Packet>> BinaryReassembler::AddText(std::string_view text) {
  if (pending_.has_value()) {
    const size_t missing = pending_->attachment_count - pending_->attachments.size();
    const std::string_view type = PacketTypeName(pending_->type);
    Reset();
    return absl::FailedPreconditionError(absl::StrCat("text packet arrived while ", missing,
                                                      " binary attachment(s) of a ", Av(type),
                                                      " packet were still missing"));
  }
  absl::StatusOr<Packet> packet = Decode(text);
  if (!packet.ok()) return packet.status();
  if (IsBinaryType(packet->type) && packet->attachment_count > 0) {
    packet->attachments.reserve(packet->attachment_count);
    pending_ = *std::move(packet);
    return std::optional<Packet>();
  }
  return std::optional<Packet>(*std::move(packet));
}

absl::StatusOr<std::optional<Packet>> BinaryReassembler::AddBinary(std::string_view bytes) {
  if (!pending_.has_value()) {
    return absl::FailedPreconditionError(
        "binary message arrived but no BINARY_EVENT or BINARY_ACK packet awaits an attachment");
  }
  pending_->attachments.emplace_back(bytes);
  if (pending_->attachments.size() < pending_->attachment_count) return std::optional<Packet>();
  std::optional<Packet> complete = std::move(pending_);
  pending_.reset();
  return complete;
}

}  // namespace autosync::gateway::socketio
