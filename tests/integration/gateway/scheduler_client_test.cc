// The gateway's gRPC client of the scheduler (ws-gateway/scheduler_client.h) against the
// in-process fake scheduler on 127.0.0.1: destroying the client first ends every callback call
// it still has open, so no completion it owes runs after it (and its channel) are gone. At the
// gateway's exit such a late completion tore gRPC's callback queue down during exit.
#include "ws-gateway/scheduler_client.h"

#include <grpcpp/grpcpp.h>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "tests/integration/gateway/fake_scheduler.h"

namespace autosync::gateway {
namespace {

// What a callback reported, written from gRPC's threads.
struct Outcome {
  void Set(const absl::Status& s) {
    absl::MutexLock lock(&mu);
    done = true;
    status = s;
  }
  bool Done() {
    absl::MutexLock lock(&mu);
    return done;
  }
  absl::StatusCode Code() {
    absl::MutexLock lock(&mu);
    return status.code();
  }
  absl::Mutex mu;
  bool done ABSL_GUARDED_BY(mu) = false;
  absl::Status status ABSL_GUARDED_BY(mu);
};

TEST(SchedulerClientTest, DestroyingTheClientEndsItsOpenCallsFirst) {
  testing::FakeScheduler fake({"a"});
  fake.HoldReports();  // the report stays unanswered
  std::unique_ptr<SchedulerClient> client =
      MakeGrpcSchedulerClient(fake.target(), absl::Seconds(60), grpc::InsecureChannelCredentials());

  Outcome report;
  autosync::v1::ReportConnectionsRequest request;
  request.set_gateway_id("gw");
  client->ReportConnections(request, [&report](absl::Status s) { report.Set(s); });
  Outcome watch;
  std::shared_ptr<WatchStream> stream =
      client->Watch("a", "watcher-1",
                    {.on_event = {}, .on_done = [&watch](const absl::Status& s) { watch.Set(s); }});
  ASSERT_TRUE(fake.WaitForHeldReports(1, absl::Seconds(10)));
  ASSERT_TRUE(fake.WaitForWatchers("a", 1, absl::Seconds(10)));
  ASSERT_FALSE(report.Done());
  ASSERT_FALSE(watch.Done());

  client.reset();
  EXPECT_TRUE(report.Done()) << "the report's callback had not run when the client was gone";
  EXPECT_EQ(report.Code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(watch.Done()) << "the watch's on_done had not run when the client was gone";
  EXPECT_EQ(watch.Code(), absl::StatusCode::kCancelled);
  stream->Cancel();  // the handle outlives the client: a late Cancel is harmless
}

}  // namespace
}  // namespace autosync::gateway
