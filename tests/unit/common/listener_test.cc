#include "common/listener.h"

#include "absl/strings/str_cat.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/io_context.hpp"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace autosync::common {
namespace {

using ::autosync::testing::IsOk;
using ::autosync::testing::StatusIs;
using ::testing::HasSubstr;
using tcp = boost::asio::ip::tcp;

TEST(ListenerTest, ListensOnAFreePortThatAcceptsConnections) {
  boost::asio::io_context ioc;
  tcp::acceptor acceptor(ioc);
  ASSERT_THAT(OpenListener(acceptor, "127.0.0.1", 0), IsOk());
  const uint16_t port = acceptor.local_endpoint().port();
  EXPECT_NE(port, 0);
  tcp::socket client(ioc);
  boost::system::error_code ec;
  client.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port), ec);
  EXPECT_FALSE(ec) << ec.message();
  tcp::socket accepted(ioc);
  acceptor.accept(accepted, ec);
  EXPECT_FALSE(ec) << ec.message();
}

TEST(ListenerTest, LocalhostMeansTheIpv4Loopback) {
  boost::asio::io_context ioc;
  tcp::acceptor acceptor(ioc);
  ASSERT_THAT(OpenListener(acceptor, "localhost", 0), IsOk());
  EXPECT_EQ(acceptor.local_endpoint().address().to_string(), "127.0.0.1");
}

TEST(ListenerTest, APortInUseIsUnavailableAndNamed) {
  boost::asio::io_context ioc;
  tcp::acceptor first(ioc);
  ASSERT_THAT(OpenListener(first, "127.0.0.1", 0), IsOk());
  const uint16_t port = first.local_endpoint().port();
  tcp::acceptor second(ioc);
  EXPECT_THAT(OpenListener(second, "127.0.0.1", port),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr(absl::StrCat("cannot listen on 127.0.0.1:", port, ": "))));
}

TEST(ListenerTest, AHostNameIsABadAddress) {
  boost::asio::io_context ioc;
  tcp::acceptor acceptor(ioc);
  EXPECT_THAT(OpenListener(acceptor, "example.com", 0),
              StatusIs(absl::StatusCode::kInvalidArgument, "bad address example.com"));
  EXPECT_FALSE(acceptor.is_open());
}

}  // namespace
}  // namespace autosync::common
