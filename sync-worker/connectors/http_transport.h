// The seam between the store-API connectors and the network: one blocking HTTP request (a GET,
// or a POST of a body for GraphQL).
// CurlTransport (curl_transport.h) is the real implementation; tests script a fake one.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace autosync::worker {

struct HttpRequest {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  // Whole-request deadline (connect + send + receive).
  absl::Duration timeout = absl::Seconds(30);
  // Set: a POST of this body (its Content-Type among `headers`); unset: a GET.
  std::optional<std::string> post_body = std::nullopt;
};

struct HttpResponse {
  int status = 0;
  // In arrival order; names lower-cased, values with surrounding whitespace trimmed.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The first value of header `name` (compared case-insensitively, so a hand-built response
  // with mixed-case names also works), or "" when absent.
  absl::string_view Header(absl::string_view name) const {
    for (const auto& [key, value] : headers) {
      if (absl::EqualsIgnoreCase(key, name)) return value;
    }
    return {};
  }

  // All values of header `name` joined with ", " — the combined form RFC 9110 allows for list
  // headers such as Link, which a server may split over several lines.
  std::string JoinedHeader(absl::string_view name) const {
    std::vector<absl::string_view> values;
    for (const auto& [key, value] : headers) {
      if (absl::EqualsIgnoreCase(key, name)) values.push_back(value);
    }
    return absl::StrJoin(values, ", ");
  }
};

// Performs requests. Any HTTP answer, whatever its status, is an OK result; a non-OK Status
// means no answer arrived: UNAVAILABLE (refused, reset, DNS, TLS), DEADLINE_EXCEEDED (timeout), or
// FAILED_PRECONDITION (the body was larger than the transport accepts; retrying will not help).
// Error messages name the URL without its query string, so a token passed as a query parameter
// never reaches a log.
class HttpTransport {
 public:
  // Takes the next piece of a body; false stops the transfer.
  using BodySink = std::function<bool(absl::string_view piece)>;

  virtual ~HttpTransport() = default;
  virtual absl::StatusOr<HttpResponse> Send(const HttpRequest& request) = 0;

  // Send for a large download: a 2xx answer's body goes to `sink` piece by piece as it arrives
  // (HttpResponse::body stays empty) and has no size cap; other answers keep theirs in `body` as
  // Send does. The sink returning false ends the transfer with CANCELLED. A transfer cut off
  // after some pieces is an error (UNAVAILABLE) like any other: the sink has then seen only a
  // prefix. This default sends, then hands the whole body over in one piece (test fakes).
  virtual absl::StatusOr<HttpResponse> Stream(const HttpRequest& request, const BodySink& sink) {
    absl::StatusOr<HttpResponse> response = Send(request);
    if (!response.ok() || response->status < 200 || response->status > 299) return response;
    std::string body = std::move(response->body);
    response->body.clear();
    if (!body.empty() && !sink(body)) {
      return absl::CancelledError("the download was stopped by its reader");
    }
    return response;
  }
};

}  // namespace autosync::worker
