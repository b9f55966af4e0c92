// The common part of the gateway integration tests: the real ws-gateway binary on a free
// loopback port in front of an in-process FakeScheduler, started by the test and stopped with
// SIGTERM afterwards (which must exit 0).
#pragma once

#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/integration/gateway/fake_scheduler.h"
#include "tests/support/grpc_probe.h"
#include "tests/support/process.h"

namespace autosync::testing {

class GatewayFixture : public ::testing::Test {
 protected:
  // Lets one test process hold thousands of sockets (the gateway it starts inherits the limit).
  static void RaiseFileLimit() {
    rlimit limit;
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, 65536);
    setrlimit(RLIMIT_NOFILE, &limit);
  }

  // The stores the fake scheduler knows.
  virtual std::set<std::string> Stores() const { return {"buycosari", "other"}; }

  void SetUp() override { fake_ = std::make_unique<FakeScheduler>(Stores()); }
  void TearDown() override {
    if (!gateway_) return;
    gateway_->Signal(SIGTERM);
    auto code = gateway_->Wait(stop_timeout_);
    const std::string output = gateway_->Output();
    EXPECT_TRUE(code.ok() && *code == 0)
        << output.substr(output.size() > 4000 ? output.size() - 4000 : 0);
  }

  // Starts the gateway with `base_args_` and `extra` and waits until /health answers.
  void StartGateway(std::vector<std::string> extra = {}) {
    port_ = FreePort();
    metrics_port_ = FreePort();
    std::vector<std::string> args = {"--insecure_grpc", absl::StrCat("--listen=127.0.0.1:", port_),
                                     absl::StrCat("--metrics_listen=127.0.0.1:", metrics_port_),
                                     "--scheduler_target=" + fake_->target()};
    args.insert(args.end(), base_args_.begin(), base_args_.end());
    args.insert(args.end(), extra.begin(), extra.end());
    auto gateway = ChildProcess::Start(BinaryPath("ws-gateway"), {.args = args});
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = std::move(*gateway);
    ASSERT_TRUE(WaitForHttp(Url("/health"), absl::Seconds(20)).ok()) << gateway_->Output();
  }

  std::string Url(const std::string& path) const {
    return absl::StrCat("http://127.0.0.1:", port_, path);
  }

  // GET /metrics on the gateway's --metrics_listen port.
  std::string MetricsUrl() const {
    return absl::StrCat("http://127.0.0.1:", metrics_port_, "/metrics");
  }

  std::vector<std::string> base_args_;  // flags every StartGateway of the suite passes
  absl::Duration stop_timeout_ = absl::Seconds(15);
  std::unique_ptr<FakeScheduler> fake_;
  std::unique_ptr<ChildProcess> gateway_;
  int port_ = 0;
  int metrics_port_ = 0;
};

}  // namespace autosync::testing
