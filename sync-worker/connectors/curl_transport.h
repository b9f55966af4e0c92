// HttpTransport over libcurl: HTTPS with certificate verification on by default, keep-alive
// through one reused easy handle, response headers collected with lower-cased names, and a cap on
// the body size so a misbehaving server cannot exhaust memory.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sync-worker/connectors/http_transport.h"

namespace autosync::worker {

struct CurlOptions {
  absl::Duration connect_timeout = absl::Seconds(10);
  bool verify_tls = true;            // peer certificate and host name; off only for local tests
  std::string ca_file;               // PEM bundle; empty: the system's default
  size_t max_body_bytes = 64 << 20;  // larger bodies are refused with FAILED_PRECONDITION
  std::string user_agent = "autosync-sync-worker/0.1";
};

// Not thread-safe: one instance per run (or per thread). The easy handle is reused across
// requests so connections to the same host stay open between pages. libcurl's global init runs
// once per process, the first time a transport is created (thread-safe).
// Transport failures: UNAVAILABLE (DNS, refused, reset, TLS), DEADLINE_EXCEEDED (timeout),
// FAILED_PRECONDITION (body over max_body_bytes), INVALID_ARGUMENT (malformed URL). Messages name
// the URL without its query string, so tokens in query parameters stay out of logs.
class CurlTransport final : public HttpTransport {
 public:
  static absl::StatusOr<std::unique_ptr<CurlTransport>> Create(CurlOptions options = {});
  ~CurlTransport() override;
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  absl::StatusOr<HttpResponse> Send(const HttpRequest& request) override;
  absl::StatusOr<HttpResponse> Stream(const HttpRequest& request, const BodySink& sink) override;

 private:
  CurlTransport(CurlOptions options, void* easy);
  absl::StatusOr<HttpResponse> Perform(const HttpRequest& request, const BodySink* sink);

  CurlOptions options_;
  void* easy_;  // CURL*; kept opaque so this header does not pull in <curl/curl.h>
};

}  // namespace autosync::worker
