#include "common/thread_pool.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace autosync::common {
namespace {

TEST(ThreadPoolTest, StopRunsEveryQueuedTaskBeforeReturning) {
  std::atomic<int> ran{0};
  ThreadPool pool(3);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(pool.Submit([&ran] { ran.fetch_add(1); }));
  pool.Stop();
  EXPECT_EQ(ran.load(), 100);
  EXPECT_EQ(pool.busy(), 0);
}

TEST(ThreadPoolTest, DestructorRunsQueuedTasks) {
  std::atomic<int> ran{0};
  {
    ThreadPool pool(1);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(pool.Submit([&ran] { ran.fetch_add(1); }));
  }
  EXPECT_EQ(ran.load(), 10);
}

TEST(ThreadPoolTest, OneThreadRunsTasksInSubmissionOrder) {
  absl::Mutex mu;
  std::vector<int> order;
  ThreadPool pool(1);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(pool.Submit([&, i] {
      absl::MutexLock lock(&mu);
      order.push_back(i);
    }));
  }
  pool.Stop();
  ASSERT_EQ(order.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(order[static_cast<size_t>(i)], i);
}

TEST(ThreadPoolTest, SubmitRefusesBeyondMaxQueued) {
  absl::Notification started, release;
  ThreadPool pool(1, /*max_queued=*/2);
  ASSERT_TRUE(pool.Submit([&] {
    started.Notify();
    release.WaitForNotification();
  }));
  started.WaitForNotification();  // the only thread is busy: the next tasks wait in the queue
  EXPECT_TRUE(pool.Submit([] {}));
  EXPECT_TRUE(pool.Submit([] {}));
  EXPECT_FALSE(pool.Submit([] {}));
  EXPECT_EQ(pool.queued(), 2u);
  EXPECT_EQ(pool.busy(), 3);
  release.Notify();
  pool.Stop();
  EXPECT_EQ(pool.queued(), 0u);
}

TEST(ThreadPoolTest, TrySubmitRefusesWhenEveryThreadIsTaken) {
  absl::Notification release;
  std::atomic<int> ran{0};
  ThreadPool pool(2);
  const auto task = [&] {
    release.WaitForNotification();
    ran.fetch_add(1);
  };
  EXPECT_TRUE(pool.TrySubmit(task));
  EXPECT_TRUE(pool.TrySubmit(task));
  // Two threads, two tasks running or promised a thread: a third would have to queue.
  EXPECT_FALSE(pool.TrySubmit(task));
  EXPECT_EQ(pool.busy(), 2);
  release.Notify();
  pool.Stop();
  EXPECT_EQ(ran.load(), 2);
}

TEST(ThreadPoolTest, TrySubmitAcceptsAgainOnceAThreadIsFree) {
  ThreadPool pool(1);
  absl::Notification first_done;
  ASSERT_TRUE(pool.TrySubmit([&] { first_done.Notify(); }));
  first_done.WaitForNotification();
  // The task has returned; its thread may still be finishing the bookkeeping, so wait until the
  // pool counts it free (busy() is the contract TrySubmit uses).
  while (pool.busy() != 0) std::this_thread::yield();
  absl::Notification second_done;
  EXPECT_TRUE(pool.TrySubmit([&] { second_done.Notify(); }));
  second_done.WaitForNotification();
}

TEST(ThreadPoolTest, RefusesEverythingAfterStop) {
  ThreadPool pool(2);
  pool.Stop();
  pool.Stop();  // idempotent
  EXPECT_FALSE(pool.Submit([] {}));
  EXPECT_FALSE(pool.TrySubmit([] {}));
}

TEST(ThreadPoolTest, TasksMaySubmitMoreTasks) {
  std::atomic<int> ran{0};
  absl::Notification inner_done;
  ThreadPool pool(1);
  ASSERT_TRUE(pool.Submit([&] {
    ran.fetch_add(1);
    EXPECT_TRUE(pool.Submit([&] {
      ran.fetch_add(1);
      inner_done.Notify();
    }));
  }));
  inner_done.WaitForNotification();
  pool.Stop();
  EXPECT_EQ(ran.load(), 2);
}

}  // namespace
}  // namespace autosync::common
