// Plain request/response values for the gateway's routes, so route logic is a pure function
// testable without sockets (Beast stays inside server.cc, http_session.cc and ws_connection.cc).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace autosync::gateway {

struct HttpRequest {
  std::string method;                                        // "GET", "POST", …
  std::string target;                                        // path and query, as received
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string remote_address;  // peer IP, for per-client limits and loopback-only routes
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// {"success":false,"error":"…"} with the given status: the error shape of every API route.
HttpResponse JsonError(int status, absl::string_view message);

}  // namespace autosync::gateway
