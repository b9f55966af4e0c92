#include "tools/store-sim/server.h"

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <csignal>
#include <iostream>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/listener.h"

namespace autosync::storesim {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr size_t kBodyLimit = 64 * 1024;
constexpr size_t kHeaderLimit = 16 * 1024;

class Session final : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Simulator& sim, std::chrono::seconds idle_timeout)
      : stream_(std::move(socket)), sim_(sim), idle_timeout_(idle_timeout) {}

  void Start() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&Session::DoRead, shared_from_this()));
  }

 private:
  void DoRead() {
    parser_.emplace();
    parser_->body_limit(kBodyLimit);
    parser_->header_limit(kHeaderLimit);
    stream_.expires_after(idle_timeout_);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream) return Close();
    if (ec) {
      if (ec == http::error::body_limit || ec == http::error::header_limit) {
        return SendError(http::status::payload_too_large, "{\"error\":\"request too large\"}");
      }
      return Close();
    }
    http::request<http::string_body> req = parser_->release();
    Request r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    for (const auto& field : req) {
      r.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    r.body = std::move(req.body());
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    Response resp = sim_.Handle(r);
    if (resp.drop_connection) return Close();
    if (resp.shared_body || resp.cut_body_at) {
      PrepareSpan(std::move(resp));
    } else {
      span_res_.reset();
      res_.emplace();
      res_->result(static_cast<unsigned>(resp.status));
      res_->version(version_);
      res_->keep_alive(keep_alive_);
      res_->set(http::field::server, "store-sim");
      for (auto& [k, v] : resp.headers) res_->set(k, v);
      res_->body() = std::move(resp.body);
      res_->prepare_payload();
    }
    if (resp.delay_ms > 0) {
      timer_.emplace(stream_.get_executor());
      timer_->expires_after(std::chrono::milliseconds(resp.delay_ms));
      timer_->async_wait(beast::bind_front_handler(&Session::OnDelay, shared_from_this()));
      return;
    }
    DoWrite();
  }

  // A shared body goes out as a span over the owner's bytes, kept alive by span_owner_ until
  // the write completes: a bulk file of hundreds of MB is never copied per download. A cut body
  // announces its whole length, sends the first cut_body_at bytes and closes.
  void PrepareSpan(Response resp) {
    res_.reset();
    span_owner_ = resp.shared_body ? std::move(resp.shared_body)
                                   : std::make_shared<const std::string>(std::move(resp.body));
    const size_t full = span_owner_->size();
    const size_t send = std::min(full, resp.cut_body_at.value_or(full));
    close_after_write_ = send < full;
    span_res_.emplace();
    span_res_->result(static_cast<unsigned>(resp.status));
    span_res_->version(version_);
    span_res_->keep_alive(keep_alive_ && !close_after_write_);
    span_res_->set(http::field::server, "store-sim");
    for (auto& [k, v] : resp.headers) span_res_->set(k, v);
    span_res_->body() = beast::span<const char>(span_owner_->data(), send);
    span_res_->content_length(full);
  }

  void OnDelay(beast::error_code) { DoWrite(); }

  // The response goes out chunk by chunk (each async_write_some ends once the socket took some
  // bytes), each chunk with a fresh idle timeout: a reader that keeps taking bytes may need far
  // longer than the timeout for a large file, one that stops taking them is cut off after it.
  void DoWrite() {
    if (span_res_) return WriteSome(span_sr_.emplace(*span_res_));
    WriteSome(sr_.emplace(*res_));
  }

  template <typename Body>
  void WriteSome(http::response_serializer<Body>& sr) {
    stream_.expires_after(idle_timeout_);
    http::async_write_some(stream_, sr,
                           [self = shared_from_this(), &sr](beast::error_code ec, std::size_t) {
                             if (!ec && !sr.is_done()) return self->WriteSome(sr);
                             self->OnWrite(ec);
                           });
  }

  void OnWrite(beast::error_code ec) {
    sr_.reset();
    span_sr_.reset();
    span_res_.reset();
    span_owner_.reset();
    if (ec || close_after_write_ || !keep_alive_) return Close();
    DoRead();
  }

  void SendError(http::status status, std::string body) {
    keep_alive_ = false;
    span_res_.reset();
    res_.emplace();
    res_->result(status);
    res_->version(11);
    res_->keep_alive(false);
    res_->set(http::field::content_type, "application/json; charset=utf-8");
    res_->body() = std::move(body);
    res_->prepare_payload();
    DoWrite();
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  Simulator& sim_;
  const std::chrono::seconds idle_timeout_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> res_;
  std::optional<http::response<http::span_body<const char>>> span_res_;
  // The serializer of the response being written (res_ or span_res_), as long as it is.
  std::optional<http::response_serializer<http::string_body>> sr_;
  std::optional<http::response_serializer<http::span_body<const char>>> span_sr_;
  std::shared_ptr<const std::string> span_owner_;
  bool close_after_write_ = false;
  std::optional<asio::steady_timer> timer_;
  bool keep_alive_ = true;
  unsigned version_ = 11;
};

}  // namespace

struct Server::Impl {
  Impl(Simulator& s, const ServerOptions& o)
      : sim(s),
        options(o),
        ioc(std::max(1, o.threads)),
        acceptor(asio::make_strand(ioc)),
        signals(acceptor.get_executor(), SIGINT, SIGTERM),
        live_timer(acceptor.get_executor()) {}

  void DoAccept() {
    acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (!acceptor.is_open()) return;  // stopping
      } else {
        std::make_shared<Session>(std::move(socket), sim,
                                  std::chrono::seconds(options.idle_timeout_seconds))
            ->Start();
      }
      DoAccept();
    });
  }

  void ScheduleTick() {
    live_timer.expires_after(std::chrono::milliseconds(options.live_interval_ms));
    live_timer.async_wait([this](beast::error_code ec) {
      if (ec) return;
      sim.TickAll();
      ScheduleTick();
    });
  }

  void StopNow() {
    // The acceptor, signals and live timer share one strand; touch them only from it.
    asio::post(acceptor.get_executor(), [this] {
      beast::error_code ec;
      acceptor.close(ec);
      live_timer.cancel();
      signals.cancel(ec);
    });
    // Sessions end when their in-flight work completes; stop() bounds the wait.
    ioc.stop();
  }

  Simulator& sim;
  ServerOptions options;
  asio::io_context ioc;
  tcp::acceptor acceptor;
  asio::signal_set signals;
  asio::steady_timer live_timer;
};

absl::StatusOr<std::pair<std::string, uint16_t>> ParseListen(const std::string& listen,
                                                             bool allow_non_loopback) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return absl::InvalidArgumentError(absl::StrCat("--listen: '", listen, "' is not host:port"));
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host == "localhost") host = "127.0.0.1";
  int port = 0;
  if (!absl::SimpleAtoi(listen.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("--listen: bad port in '", listen, "'"));
  }
  beast::error_code ec;
  asio::ip::address addr = asio::ip::make_address(host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("--listen: bad address '", host, "'"));
  if (!addr.is_loopback() && !allow_non_loopback) {
    return absl::InvalidArgumentError(
        absl::StrCat("--listen: ", host,
                     " is not a loopback address; store-sim is a test tool without real "
                     "security (pass --allow_non_loopback to insist)"));
  }
  return std::make_pair(host, static_cast<uint16_t>(port));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

absl::StatusOr<std::unique_ptr<Server>> Server::Start(Simulator& sim,
                                                      const ServerOptions& options) {
  auto impl = std::make_unique<Impl>(sim, options);
  if (absl::Status s = common::OpenListener(impl->acceptor, options.address, options.port);
      !s.ok()) {
    return s;
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

uint16_t Server::port() const { return impl_->acceptor.local_endpoint().port(); }

void Server::Run() {
  Impl& s = *impl_;
  s.signals.async_wait([&s](beast::error_code ec, int) {
    if (!ec) s.StopNow();
  });
  s.DoAccept();
  if (s.options.live) s.ScheduleTick();
  std::vector<std::thread> workers;
  for (int i = 1; i < s.options.threads; ++i) workers.emplace_back([&s] { s.ioc.run(); });
  s.ioc.run();
  for (auto& t : workers) t.join();
}

void Server::Stop() { impl_->StopNow(); }

}  // namespace autosync::storesim
