#include "tests/support/grpc_probe.h"

#include <curl/curl.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"

namespace autosync::testing {

absl::StatusOr<std::string> HealthCheck(const std::shared_ptr<grpc::Channel>& channel,
                                        const std::string& service, absl::Duration timeout) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
}

absl::StatusOr<std::string> HealthCheck(const std::string& target, const std::string& service,
                                        absl::Duration timeout) {
  return HealthCheck(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()), service,
                     timeout);
}

absl::Status WaitForServing(const std::string& target,
                            const std::shared_ptr<grpc::ChannelCredentials>& credentials,
                            absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<std::string> last = absl::DeadlineExceededError("not tried");
  while (absl::Now() < deadline) {
    // A fresh channel each time: a reused one would back off after the first refused connect.
    last = HealthCheck(grpc::CreateChannel(target, credentials), "", absl::Milliseconds(500));
    if (last.ok() && *last == "SERVING") return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(50));
  }
  if (!last.ok()) return last.status();
  return absl::UnavailableError(absl::StrCat("health answered ", *last));
}

absl::Status WaitForServing(const std::string& target, absl::Duration timeout) {
  return WaitForServing(target, grpc::InsecureChannelCredentials(), timeout);
}

absl::StatusOr<std::vector<std::string>> ListServices(const std::string& target) {
  using grpc::reflection::v1alpha::ServerReflection;
  using grpc::reflection::v1alpha::ServerReflectionRequest;
  using grpc::reflection::v1alpha::ServerReflectionResponse;
  auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  auto stub = ServerReflection::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  auto stream = stub->ServerReflectionInfo(&context);
  ServerReflectionRequest request;
  request.set_list_services("*");
  if (!stream->Write(request)) return absl::UnavailableError("reflection stream closed");
  stream->WritesDone();
  std::vector<std::string> services;
  ServerReflectionResponse response;
  while (stream->Read(&response)) {
    for (const auto& s : response.list_services_response().service()) {
      services.push_back(s.name());
    }
  }
  const grpc::Status status = stream->Finish();
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  return services;
}

namespace {

size_t Collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

absl::StatusOr<HttpResult> Perform(const std::string& url, const std::string* post_body,
                                   absl::Duration timeout) {
  CURL* curl = curl_easy_init();
  HttpResult result;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &result.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(absl::ToInt64Milliseconds(timeout)));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  if (post_body != nullptr) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, post_body->c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(post_body->size()));
  }
  const CURLcode rc = curl_easy_perform(curl);
  if (rc != CURLE_OK) {
    curl_easy_cleanup(curl);
    return absl::UnavailableError(absl::StrCat(url, ": ", curl_easy_strerror(rc)));
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
  char* type = nullptr;
  curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type);
  if (type != nullptr) result.content_type = type;
  curl_easy_cleanup(curl);
  return result;
}

}  // namespace

absl::StatusOr<HttpResult> HttpGet(const std::string& url, absl::Duration timeout) {
  return Perform(url, nullptr, timeout);
}

absl::StatusOr<HttpResult> HttpPost(const std::string& url, const std::string& body,
                                    absl::Duration timeout) {
  return Perform(url, &body, timeout);
}

absl::StatusOr<HttpResult> WaitForHttp(const std::string& url, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<HttpResult> last = HttpGet(url, absl::Seconds(2));
  while (!last.ok() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
    last = HttpGet(url, absl::Seconds(2));
  }
  return last;
}

absl::StatusOr<MetricValues> ScrapeMetrics(int port, absl::Duration timeout) {
  absl::StatusOr<HttpResult> m =
      HttpGet(absl::StrCat("http://127.0.0.1:", port, "/metrics"), timeout);
  if (!m.ok()) return m.status();
  if (m->status != 200) {
    return absl::UnavailableError(absl::StrCat("/metrics answered ", m->status));
  }
  MetricValues values;
  for (absl::string_view line : absl::StrSplit(m->body, '\n', absl::SkipEmpty())) {
    if (line.front() == '#') continue;
    // The value follows the last space (label values may hold spaces).
    const size_t space = line.rfind(' ');
    double value = 0;
    if (space == absl::string_view::npos || !absl::SimpleAtod(line.substr(space + 1), &value)) {
      return absl::DataLossError(absl::StrCat("not a metric line: ", line));
    }
    values[std::string(line.substr(0, space))] = value;
  }
  return values;
}

double SeriesValue(const MetricValues& values, const std::string& series) {
  auto it = values.find(series);
  return it == values.end() ? 0 : it->second;
}

}  // namespace autosync::testing
