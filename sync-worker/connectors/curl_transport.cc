#include "sync-worker/connectors/curl_transport.h"

#include <curl/curl.h>

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/curl_init.h"
#include "sync-worker/connectors/url.h"

namespace autosync::worker {
namespace {

struct Receiver {
  HttpResponse* response;
  size_t max_body_bytes;
  CURL* easy = nullptr;
  const HttpTransport::BodySink* sink = nullptr;  // set: a 2xx body goes here (Stream)
  bool too_large = false;
  bool stopped = false;  // the sink said stop
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* receiver = static_cast<Receiver*>(user);
  const size_t bytes = size * count;
  if (receiver->sink != nullptr) {
    long status = 0;
    curl_easy_getinfo(receiver->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status <= 299) {
      if (!(*receiver->sink)(absl::string_view(data, bytes))) {
        receiver->stopped = true;
        return 0;  // CURLE_WRITE_ERROR
      }
      return bytes;
    }
  }
  if (receiver->response->body.size() + bytes > receiver->max_body_bytes) {
    receiver->too_large = true;
    return 0;  // makes libcurl stop with CURLE_WRITE_ERROR
  }
  receiver->response->body.append(data, bytes);
  return bytes;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* receiver = static_cast<Receiver*>(user);
  const size_t bytes = size * count;
  const absl::string_view line(data, bytes);
  // A new status line starts a new response (after "100 Continue" or a proxy CONNECT): only the
  // final response's headers count.
  if (absl::StartsWith(line, "HTTP/")) {
    receiver->response->headers.clear();
    return bytes;
  }
  const size_t colon = line.find(':');
  if (colon == absl::string_view::npos) return bytes;  // the blank line ending the headers
  receiver->response->headers.emplace_back(
      absl::AsciiStrToLower(absl::StripAsciiWhitespace(line.substr(0, colon))),
      std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  return bytes;
}

absl::StatusCode CodeFor(CURLcode code) {
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return absl::StatusCode::kDeadlineExceeded;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return absl::StatusCode::kInvalidArgument;
    default:
      // Refused, reset, DNS, TLS handshake or verification, empty reply, ...: no answer arrived.
      return absl::StatusCode::kUnavailable;
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<CurlTransport>> CurlTransport::Create(CurlOptions options) {
  if (absl::Status init = common::EnsureCurlGlobalInit(); !init.ok()) return init;
  CURL* easy = curl_easy_init();
  if (easy == nullptr) return absl::InternalError("curl_easy_init failed");
  return std::unique_ptr<CurlTransport>(new CurlTransport(std::move(options), easy));
}

CurlTransport::CurlTransport(CurlOptions options, void* easy)
    : options_(std::move(options)), easy_(easy) {}

CurlTransport::~CurlTransport() { curl_easy_cleanup(static_cast<CURL*>(easy_)); }

absl::StatusOr<HttpResponse> CurlTransport::Send(const HttpRequest& request) {
  return Perform(request, nullptr);
}

absl::StatusOr<HttpResponse> CurlTransport::Stream(const HttpRequest& request,
                                                   const BodySink& sink) {
  return Perform(request, &sink);
}

absl::StatusOr<HttpResponse> CurlTransport::Perform(const HttpRequest& request,
                                                    const BodySink* sink) {
  CURL* easy = static_cast<CURL*>(easy_);
  // Reset clears per-request options but keeps the connection cache: keep-alive survives.
  curl_easy_reset(easy);

  HttpResponse response;
  Receiver receiver{&response, options_.max_body_bytes, easy, sink};
  char error_buffer[CURL_ERROR_SIZE] = {0};

  curl_slist* headers = nullptr;
  for (const auto& [name, value] : request.headers) {
    headers = curl_slist_append(headers, absl::StrCat(name, ": ", value).c_str());
  }
  const auto clamp_ms = [](absl::Duration d) {
    return static_cast<long>(std::clamp<int64_t>(absl::ToInt64Milliseconds(d), 1, 86'400'000));
  };

  curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
  if (request.post_body.has_value()) {
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.post_body->data());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.post_body->size()));
  } else {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  }
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);  // a redirect could carry the token elsewhere
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);        // required when used off the main thread
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, clamp_ms(request.timeout));
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, clamp_ms(options_.connect_timeout));
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, options_.verify_tls ? 1L : 0L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, options_.verify_tls ? 2L : 0L);
  if (!options_.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, options_.ca_file.c_str());
  curl_easy_setopt(easy, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");  // whatever this libcurl can decode
  if (sink == nullptr) {  // a streamed body's reader bounds its own memory
    curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE,
                     static_cast<curl_off_t>(options_.max_body_bytes));
  }
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &receiver);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &receiver);

  const CURLcode result = curl_easy_perform(easy);
  curl_slist_free_all(headers);
  // The buffer lives on this stack frame: detach it before returning.
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, nullptr);

  const absl::string_view where = UrlWithoutQuery(request.url);
  if (receiver.stopped) {
    return absl::CancelledError(absl::StrCat("GET ", where, ": stopped by its reader"));
  }
  if (receiver.too_large || result == CURLE_FILESIZE_EXCEEDED) {
    return absl::FailedPreconditionError(absl::StrCat("GET ", where, ": response body larger than ",
                                                      options_.max_body_bytes, " bytes"));
  }
  if (result != CURLE_OK) {
    const std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(result);
    // libcurl's message may quote the URL; strip any query it carries before reporting.
    std::string message = absl::StrCat("GET ", where, ": ", detail);
    if (const size_t q = request.url.find('?'); q != std::string::npos) {
      message = absl::StrReplaceAll(message, {{request.url.substr(q), "?…"}});
    }
    return absl::Status(CodeFor(result), message);
  }
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  return response;
}

}  // namespace autosync::worker
