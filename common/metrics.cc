#include "common/metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "boost/asio.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "common/listener.h"
#include "prometheus/text_serializer.h"

namespace autosync::common {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

double ProcessStartTimeSeconds() {
  static const double start = [] {
    std::ifstream stat("/proc/self/stat");
    std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    // Field 22 (starttime, in clock ticks since boot) follows the ")" closing the command name.
    const size_t close = content.rfind(')');
    if (close == std::string::npos) return 0.0;
    std::vector<std::string> fields = absl::StrSplit(content.substr(close + 2), ' ');
    if (fields.size() < 20) return 0.0;
    const double ticks = std::stod(fields[19]);
    std::ifstream uptime_file("/proc/uptime");
    double uptime = 0;
    uptime_file >> uptime;
    const double now = static_cast<double>(::time(nullptr));
    return now - uptime + ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
  }();
  return start;
}

std::string ProcessMetrics() {
  std::string out;
  std::ifstream stat("/proc/self/stat");
  std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const size_t close = content.rfind(')');
  if (close != std::string::npos) {
    std::vector<std::string> f = absl::StrSplit(content.substr(close + 2), ' ');
    if (f.size() > 22) {
      const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
      const double cpu = (std::stod(f[11]) + std::stod(f[12])) / ticks;
      const double rss = std::stod(f[21]) * static_cast<double>(sysconf(_SC_PAGESIZE));
      absl::StrAppend(&out,
                      "# HELP process_cpu_seconds_total Total user and system CPU time spent in "
                      "seconds.\n# TYPE process_cpu_seconds_total counter\n"
                      "process_cpu_seconds_total ",
                      cpu, "\n",
                      "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                      "# TYPE process_resident_memory_bytes gauge\n"
                      "process_resident_memory_bytes ",
                      rss, "\n");
    }
  }
  int fds = 0;
  if (DIR* dir = opendir("/proc/self/fd")) {
    while (readdir(dir) != nullptr) ++fds;
    closedir(dir);
    fds -= 3;  // ".", ".." and the directory's own descriptor
  }
  absl::StrAppend(&out,
                  "# HELP process_open_fds Number of open file descriptors.\n"
                  "# TYPE process_open_fds gauge\nprocess_open_fds ",
                  fds, "\n",
                  "# HELP process_start_time_seconds Start time of the process since unix epoch "
                  "in seconds.\n# TYPE process_start_time_seconds gauge\n"
                  "process_start_time_seconds ",
                  ProcessStartTimeSeconds(), "\n");
  return out;
}

}  // namespace

void ReadyState::Set(bool ready, std::string reason) {
  absl::MutexLock lock(&mu_);
  ready_ = ready;
  reason_ = ready ? std::string() : std::move(reason);
}

std::pair<bool, std::string> ReadyState::Get() const {
  absl::MutexLock lock(&mu_);
  return {ready_, reason_};
}

std::string SerializeMetrics(prometheus::Registry& registry) {
  std::string out = prometheus::TextSerializer{}.Serialize(registry.Collect());
  out += ProcessMetrics();
  return out;
}

struct MetricsServer::Impl {
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  std::shared_ptr<prometheus::Registry> registry;
  std::shared_ptr<const ReadyState> ready;
  std::thread thread;
  bool stopped = false;

  void Accept() {
    acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket s) {
      if (ec) return;  // closed by Stop()
      Serve(std::make_shared<beast::tcp_stream>(std::move(s)));
      Accept();
    });
  }

  // One request per connection at a time; Prometheus scrapes are small and rare.
  void Serve(std::shared_ptr<beast::tcp_stream> stream) {
    auto buffer = std::make_shared<beast::flat_buffer>();
    auto req = std::make_shared<http::request<http::empty_body>>();
    stream->expires_after(std::chrono::seconds(30));
    http::async_read(
        *stream, *buffer, *req, [this, stream, buffer, req](beast::error_code ec, size_t) {
          if (ec) return;
          auto res = std::make_shared<http::response<http::string_body>>();
          res->version(req->version());
          res->keep_alive(req->keep_alive());
          const std::string target(req->target());
          if (req->method() != http::verb::get) {
            res->result(http::status::method_not_allowed);
            res->set(http::field::allow, "GET");
            res->body() = "only GET\n";
          } else if (target == "/metrics" || target.rfind("/metrics?", 0) == 0) {
            res->result(http::status::ok);
            res->set(http::field::content_type, std::string(kMetricsContentType));
            res->body() = SerializeMetrics(*registry);
          } else if (target == "/ready" && ready != nullptr) {
            const auto [is_ready, reason] = ready->Get();
            res->result(is_ready ? http::status::ok : http::status::service_unavailable);
            res->set(http::field::content_type, "text/plain; charset=utf-8");
            res->body() =
                is_ready ? std::string("ready\n") : absl::StrCat("not ready: ", reason, "\n");
          } else {
            res->result(http::status::not_found);
            res->body() = "not found: try /metrics\n";
          }
          res->prepare_payload();
          http::async_write(*stream, *res, [this, stream, res](beast::error_code wec, size_t) {
            if (wec || !res->keep_alive()) {
              beast::error_code ignored;
              stream->socket().shutdown(tcp::socket::shutdown_send, ignored);
              return;
            }
            Serve(stream);
          });
        });
  }
};

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const HostPort& listen, std::shared_ptr<prometheus::Registry> registry,
    std::shared_ptr<const ReadyState> ready) {
  auto impl = std::make_unique<Impl>();
  impl->registry = std::move(registry);
  impl->ready = std::move(ready);
  if (absl::Status s = OpenListener(impl->acceptor, listen.host, listen.port); !s.ok()) {
    return s;
  }
  impl->Accept();
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->ioc.run(); });
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(impl)));
}

uint16_t MetricsServer::port() const { return impl_->acceptor.local_endpoint().port(); }

void MetricsServer::Stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  asio::post(impl_->ioc, [this] {
    beast::error_code ec;
    impl_->acceptor.close(ec);
    impl_->ioc.stop();
  });
  if (impl_->thread.joinable()) impl_->thread.join();
}

MetricsServer::~MetricsServer() { Stop(); }

}  // namespace autosync::common
