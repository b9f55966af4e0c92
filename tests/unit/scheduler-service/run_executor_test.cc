// RunExecutor end to end without a database: runs taken from an in-memory run queue are streamed
// from a real in-process SyncWorker service on 127.0.0.1 that plays a script (events, then a
// status), and what each stream's end means lands in the fake repository and queue: completed,
// retried later, followed up at once, given back, or failed for good -- and the run_failed
// notification fires only when nothing follows the run.
#include "scheduler-service/run_executor.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "autosync/v1/sync_worker.grpc.pb.h"
#include "common/ids.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scheduler-service/store_validation.h"
#include "tests/unit/scheduler-service/scheduler_fakes.h"

namespace autosync::scheduler {
namespace {

using autosync::v1::SyncProgress;
using ::testing::Contains;
using ::testing::ElementsAre;
using testing::FakeClock;
using testing::FakeRepository;
using testing::FakeRunQueue;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Property;
using testing::RecordingEvents;
using ::testing::SizeIs;

SyncProgress Event(autosync::v1::Stage stage, int64_t orders = 0) {
  SyncProgress p;
  p.set_stage(stage);
  p.mutable_counts()->set_orders_fetched(orders);
  return p;
}

SyncProgress Failed(absl::string_view error, bool retryable) {
  SyncProgress p = Event(autosync::v1::STAGE_FAILED);
  p.set_error(std::string(error));
  p.set_retryable(retryable);
  return p;
}

// A SyncWorker that answers each RunSync with the next script: its events, then its status.
class ScriptedWorker final : public autosync::v1::SyncWorker::Service {
 public:
  struct Script {
    std::vector<SyncProgress> events;
    grpc::Status status = grpc::Status::OK;
  };
  void Push(Script script) {
    absl::MutexLock lock(&mu_);
    scripts_.push_back(std::move(script));
  }
  std::vector<autosync::v1::RunSyncRequest> requests() {
    absl::MutexLock lock(&mu_);
    return requests_;
  }

  grpc::Status RunSync(grpc::ServerContext*, const autosync::v1::RunSyncRequest* request,
                       grpc::ServerWriter<SyncProgress>* writer) override {
    Script script;
    {
      absl::MutexLock lock(&mu_);
      requests_.push_back(*request);
      if (scripts_.empty()) return grpc::Status(grpc::StatusCode::INTERNAL, "no script");
      script = std::move(scripts_.front());
      scripts_.pop_front();
    }
    for (const SyncProgress& p : script.events) writer->Write(p);
    return script.status;
  }

 private:
  absl::Mutex mu_;
  std::deque<Script> scripts_ ABSL_GUARDED_BY(mu_);
  std::vector<autosync::v1::RunSyncRequest> requests_ ABSL_GUARDED_BY(mu_);
};

class RunExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.replica_id = "replica-a";
    config_.max_concurrent_runs = 4;
    config_.adaptive_dispatch = false;
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&worker_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port, 0);
    executor_ = std::make_unique<RunExecutor>(
        config_, clock_, repo_, queue_, metrics_, events_,
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    executor_->Stop();
    executor_.reset();
    server_->Shutdown();
  }

  // Queues `run`, lets the executor take it, and waits until its stream's end was acted on (the
  // store's status published, or the run given back); then stops the executor so that every
  // effect of the run is visible.
  void Execute(const DispatchedRun& run, ScriptedWorker::Script script, bool given_back = false) {
    worker_.Push(std::move(script));
    queue_.With([&] { queue_.ready.push_back(run); });
    executor_->Start();
    executor_->Wake();
    if (given_back) {
      ASSERT_TRUE(queue_.Await([&] { return !queue_.given_back.empty(); }));
    } else {
      ASSERT_TRUE(events_.Await([&] {
        for (const std::string& s : events_.statuses) {
          if (s == run.store_id) return true;
        }
        return false;
      }));
    }
    executor_->Stop();
  }

  DispatchedRun Run(int attempt = 1) const {
    return DispatchedRun{.run_id = "run_000000000000000000000001",
                         .store_id = "shop-1",
                         .trigger = autosync::v1::TRIGGER_CRON,
                         .force = true,
                         .types = kOrdersType,
                         .attempt = attempt,
                         .queued_at = kStart};
  }

  SchedulerConfig config_;
  // The clock is moved by hand, but starts at the real time: the RunSync call's gRPC deadline
  // (the run's budget from the injected clock) is a wall-clock instant.
  const absl::Time kStart = absl::Now();
  FakeClock clock_{kStart};
  FakeRepository repo_;
  FakeRunQueue queue_;
  SchedulerRegistry registry_;
  SchedulerMetrics metrics_{registry_};
  RecordingEvents events_;
  ScriptedWorker worker_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<RunExecutor> executor_;
};

TEST_F(RunExecutorTest, ACompletedRunIsRecordedAndNothingFollows) {
  SyncProgress foreign = Event(autosync::v1::STAGE_ORDERS, 250);
  foreign.set_store_id("someone-else");  // the scheduler is the authority on ids
  Execute(Run(), {.events = {Event(autosync::v1::STAGE_STARTING), foreign,
                             Event(autosync::v1::STAGE_COMPLETED, 250)}});

  ASSERT_THAT(worker_.requests(), SizeIs(1));
  const autosync::v1::RunSyncRequest request = worker_.requests()[0];
  EXPECT_EQ(request.store_id(), "shop-1");
  EXPECT_EQ(request.run_id(), "run_000000000000000000000001");
  EXPECT_EQ(request.trigger(), autosync::v1::TRIGGER_CRON);
  EXPECT_TRUE(request.force());
  EXPECT_THAT(request.data_types(), ElementsAre("orders"));

  repo_.With([&] {
    ASSERT_THAT(repo_.finished, SizeIs(1));
    EXPECT_EQ(repo_.finished[0].run.run_id, "run_000000000000000000000001");
    EXPECT_EQ(repo_.finished[0].run.store_id, "shop-1");
    EXPECT_EQ(repo_.finished[0].status, "completed");
    EXPECT_EQ(repo_.finished[0].stage, autosync::v1::STAGE_COMPLETED);
    EXPECT_EQ(repo_.finished[0].error, "");
    // Progress rows at each stage change.
    ASSERT_THAT(repo_.updates, SizeIs(2));
    EXPECT_EQ(repo_.updates[0].second, autosync::v1::STAGE_STARTING);
    EXPECT_EQ(repo_.updates[1].second, autosync::v1::STAGE_ORDERS);
  });
  events_.With([&] {
    EXPECT_THAT(events_.failed, IsEmpty());
    for (const SyncProgress& p : events_.progress) EXPECT_EQ(p.store_id(), "shop-1");
    EXPECT_THAT(events_.progress,
                Contains(Property(&SyncProgress::stage, autosync::v1::STAGE_COMPLETED)));
  });
  queue_.With([&] {
    EXPECT_THAT(queue_.enqueued, IsEmpty());
    EXPECT_THAT(queue_.given_back, IsEmpty());
  });
  EXPECT_EQ(metrics_.runs_completed.Value(), 1);
}

TEST_F(RunExecutorTest, AFailureThatMayPassIsRetriedLaterWithTheNextAttempt) {
  Execute(Run(), {.events = {Event(autosync::v1::STAGE_STARTING),
                             Failed("the shop API answered 503", /*retryable=*/true)}});
  repo_.With([&] {
    ASSERT_THAT(repo_.finished, SizeIs(1));
    EXPECT_EQ(repo_.finished[0].status, "failed");
    EXPECT_EQ(repo_.finished[0].error, "the shop API answered 503");
  });
  queue_.With([&] {
    ASSERT_THAT(queue_.enqueued, SizeIs(1));
    const EnqueueRequest& next = queue_.enqueued[0];
    EXPECT_EQ(next.store_id, "shop-1");
    EXPECT_NE(next.run_id, "run_000000000000000000000001");
    EXPECT_TRUE(common::ValidateRunId(next.run_id).ok());
    EXPECT_EQ(next.attempt, 2);
    EXPECT_EQ(next.not_before, kStart + RetryBackoff(1));
    EXPECT_EQ(next.trigger, autosync::v1::TRIGGER_CRON);
    EXPECT_EQ(next.priority, RunPriority::kCron);
    EXPECT_TRUE(next.force);
    EXPECT_EQ(next.types, kOrdersType);
    EXPECT_EQ(next.owner, "replica-a");
  });
  events_.With([&] {
    EXPECT_THAT(events_.failed, IsEmpty());  // something follows
    EXPECT_THAT(events_.progress,
                Contains(AllOf(Property(&SyncProgress::stage, autosync::v1::STAGE_QUEUED),
                               Property(&SyncProgress::message, "Queued for a retry"))));
  });
}

TEST_F(RunExecutorTest, AStreamThatBreaksAfterTheStartIsFollowedUpAtOnce) {
  Execute(Run(2),
          {.events = {Event(autosync::v1::STAGE_STARTING), Event(autosync::v1::STAGE_ORDERS, 100)},
           .status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "pod went away")});
  repo_.With([&] {
    ASSERT_THAT(repo_.finished, SizeIs(1));
    EXPECT_EQ(repo_.finished[0].status, "failed");
    EXPECT_EQ(repo_.finished[0].stage, autosync::v1::STAGE_FAILED);
    EXPECT_THAT(repo_.finished[0].error, HasSubstr("stopped in the middle of the run"));
    EXPECT_THAT(repo_.finished[0].error, HasSubstr("pod went away"));
  });
  queue_.With([&] {
    ASSERT_THAT(queue_.enqueued, SizeIs(1));
    EXPECT_EQ(queue_.enqueued[0].attempt, 3);
    EXPECT_EQ(queue_.enqueued[0].not_before, absl::InfinitePast());  // at once
  });
  events_.With([&] {
    EXPECT_THAT(events_.failed, IsEmpty());
    // The executor wrote the FAILED event itself (the worker sent none).
    EXPECT_THAT(events_.progress,
                Contains(AllOf(Property(&SyncProgress::stage, autosync::v1::STAGE_FAILED),
                               Property(&SyncProgress::run_id, "run_000000000000000000000001"))));
  });
}

TEST_F(RunExecutorTest, ARefusedRunIsGivenBackWithItsBackoffAndNotRecorded) {
  DispatchedRun run = Run();
  run.refusals = 2;
  Execute(
      run,
      {.events = {}, .status = grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "no free slot")},
      /*given_back=*/true);
  queue_.With([&] {
    ASSERT_THAT(queue_.given_back, SizeIs(1));
    EXPECT_EQ(queue_.given_back[0].first.run_id, "run_000000000000000000000001");
    EXPECT_EQ(queue_.given_back[0].first.store_id, "shop-1");
    EXPECT_EQ(queue_.given_back[0].second, kStart + RefusalBackoff(3));
    EXPECT_THAT(queue_.enqueued, IsEmpty());
  });
  repo_.With([&] { EXPECT_THAT(repo_.finished, IsEmpty()); });
  events_.With([&] {
    EXPECT_THAT(events_.failed, IsEmpty());
    EXPECT_THAT(events_.statuses, IsEmpty());
  });
  EXPECT_EQ(metrics_.worker_refusals.Value(), 1);
}

TEST_F(RunExecutorTest, AFailureARetryCannotFixIsNotifiedAndNothingFollows) {
  Execute(Run(), {.events = {Failed("the store's credentials were revoked", false)}});
  repo_.With([&] {
    ASSERT_THAT(repo_.finished, SizeIs(1));
    EXPECT_EQ(repo_.finished[0].status, "failed");
  });
  queue_.With([&] { EXPECT_THAT(queue_.enqueued, IsEmpty()); });
  events_.With([&] {
    ASSERT_THAT(events_.failed, SizeIs(1));
    EXPECT_EQ(events_.failed[0].store_id, "shop-1");
    EXPECT_EQ(events_.failed[0].run_id, "run_000000000000000000000001");
    EXPECT_EQ(events_.failed[0].error, "the store's credentials were revoked");
  });
  EXPECT_EQ(metrics_.runs_failed.Value(), 1);
}

TEST_F(RunExecutorTest, TheLastAttemptIsNotRetriedAndIsNotified) {
  Execute(Run(kMaxAttempts), {.events = {Failed("the shop API answered 503", true)}});
  queue_.With([&] { EXPECT_THAT(queue_.enqueued, IsEmpty()); });
  events_.With([&] { EXPECT_THAT(events_.failed, SizeIs(1)); });
}

TEST_F(RunExecutorTest, ARunWhoseOutcomeCannotBeRecordedIsStillAnnounced) {
  repo_.With([&] { repo_.finish_error = absl::InternalError("constraint violated"); });
  Execute(Run(), {.events = {Event(autosync::v1::STAGE_COMPLETED)}});
  repo_.With([&] { EXPECT_THAT(repo_.finished, SizeIs(1)); });  // not retried: not unreachable
  events_.With([&] {
    EXPECT_THAT(events_.progress,
                Contains(Property(&SyncProgress::stage, autosync::v1::STAGE_COMPLETED)));
  });
}

}  // namespace
}  // namespace autosync::scheduler
