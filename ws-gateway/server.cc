#include "ws-gateway/server.h"

#include <atomic>
#include <functional>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "boost/asio.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "common/log.h"

namespace autosync::gateway {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr size_t kMaxRequestBodyBytes = 64 * 1024;
constexpr auto kReadTimeout = std::chrono::seconds(30);

// Live sessions, so Shutdown can wait for them to drain.
struct SessionCount {
  std::atomic<int> live{0};
};

class HttpSession final : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket socket, Router& router, asio::thread_pool& pool, SessionCount& count)
      : stream_(std::move(socket)), router_(router), pool_(pool), count_(count) {
    ++count_.live;
  }
  ~HttpSession() { --count_.live; }

  void Start() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&HttpSession::Read, shared_from_this()));
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(kMaxRequestBodyBytes);
    stream_.expires_after(kReadTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&HttpSession::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec == http::error::end_of_stream) return Close();
    if (ec == http::error::body_limit) {
      HttpResponse res = JsonError(413, "request body too large");
      return Write(std::move(res), false, 11);
    }
    if (ec) return;  // timeout, reset, garbage: drop the connection
    http::request<http::string_body> req = parser_->release();
    HttpRequest request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    for (const auto& field : req) {
      request.headers.emplace_back(absl::AsciiStrToLower(std::string(field.name_string())),
                                   std::string(field.value()));
    }
    request.body = std::move(req.body());
    const bool keep_alive = req.keep_alive();
    const unsigned version = req.version();
    const bool head = req.method() == http::verb::head;
    // Route handlers may block on the scheduler: run them off the io threads.
    asio::post(pool_, [self = shared_from_this(), request = std::move(request), keep_alive,
                       version, head]() mutable {
      HttpResponse res = self->router_.Handle(request);
      if (head) res.body.clear();
      asio::post(self->stream_.get_executor(),
                 [self, res = std::move(res), keep_alive, version]() mutable {
                   self->Write(std::move(res), keep_alive, version);
                 });
    });
  }

  void Write(HttpResponse res, bool keep_alive, unsigned version) {
    auto msg = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(res.status), version);
    msg->set(http::field::server, "autosync-ws-gateway");
    msg->set(http::field::content_type, res.content_type);
    for (const auto& [name, value] : res.headers) msg->set(name, value);
    msg->body() = std::move(res.body);
    msg->keep_alive(keep_alive);
    msg->prepare_payload();
    http::async_write(stream_, *msg,
                      [self = shared_from_this(), msg](beast::error_code ec, size_t) {
                        if (ec) return;
                        if (!msg->keep_alive()) return self->Close();
                        self->Read();
                      });
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Router& router_;
  asio::thread_pool& pool_;
  SessionCount& count_;
};

}  // namespace

struct GatewayServer::Impl {
  explicit Impl(int thread_count) : ioc(thread_count), pool(2) {}
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  asio::thread_pool pool;
  std::vector<std::thread> threads;
  SessionCount sessions;
  Router* router = nullptr;
  bool stopped = false;

  void Accept() {
    acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) std::make_shared<HttpSession>(std::move(s), *router, pool, sessions)->Start();
      Accept();
    });
  }
};

GatewayServer::GatewayServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

absl::StatusOr<std::unique_ptr<GatewayServer>> GatewayServer::Start(
    const common::HostPort& listen, int threads, Router& router) {
  auto impl = std::make_unique<Impl>(threads);
  impl->router = &router;
  beast::error_code ec;
  const auto address =
      asio::ip::make_address(listen.host == "localhost" ? "127.0.0.1" : listen.host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("bad address ", listen.host));
  const tcp::endpoint endpoint(address, listen.port);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", listen.ToString(), ": ", ec.message()));
  }
  impl->Accept();
  Impl* raw = impl.get();
  for (int i = 0; i < threads; ++i) raw->threads.emplace_back([raw] { raw->ioc.run(); });
  return std::unique_ptr<GatewayServer>(new GatewayServer(std::move(impl)));
}

uint16_t GatewayServer::port() const { return impl_->acceptor.local_endpoint().port(); }

void GatewayServer::Shutdown(absl::Duration grace) {
  if (impl_->stopped) return;
  impl_->stopped = true;
  asio::post(impl_->ioc, [this] {
    beast::error_code ec;
    impl_->acceptor.close(ec);
  });
  // Sessions in flight get up to `grace` to finish; idle keep-alive ones are cut at the end.
  const auto deadline = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(grace);
  asio::steady_timer timer(impl_->ioc);
  std::function<void()> check = [&] {
    if (impl_->sessions.live.load() == 0 || std::chrono::steady_clock::now() >= deadline) {
      impl_->ioc.stop();
      return;
    }
    timer.expires_after(std::chrono::milliseconds(20));
    timer.async_wait([&](beast::error_code) { check(); });
  };
  asio::post(impl_->ioc, check);
  impl_->pool.join();
  for (std::thread& t : impl_->threads) t.join();
  impl_->threads.clear();
}

GatewayServer::~GatewayServer() { Shutdown(absl::ZeroDuration()); }

}  // namespace autosync::gateway
