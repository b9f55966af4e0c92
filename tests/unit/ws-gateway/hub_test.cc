// The hub without sockets: a fake scheduler whose WatchStore streams the test feeds by hand,
// recording clients, and manual timers.
#include "ws-gateway/hub.h"

#include <deque>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/ws-gateway/fake_scheduler_client.h"

namespace autosync::gateway {
namespace {

using ::testing::HasSubstr;
namespace v1 = autosync::v1;

class RecordingClient final : public HubClient {
 public:
  void Deliver(const EncodedEvent& event) override {
    ws.push_back(event.ws);
    sio.push_back(event.sio);
  }
  std::vector<std::shared_ptr<const std::string>> ws, sio;
};

v1::WatchEvent Status(bool syncing) {
  v1::WatchEvent e;
  e.mutable_status()->set_is_syncing(syncing);
  return e;
}

v1::WatchEvent Progress(const std::string& store, v1::Stage stage) {
  v1::WatchEvent e;
  e.set_store_id(store);
  e.mutable_progress()->set_store_id(store);
  e.mutable_progress()->set_run_id("run_1");
  e.mutable_progress()->set_stage(stage);
  return e;
}

class HubTest : public ::testing::Test {
 protected:
  void TearDown() override {
    // Streams the hub cancelled end the way gRPC ends them.
    for (auto& s : scheduler_.streams) {
      if (!s->done) s->End(absl::CancelledError());
    }
    hub_.Shutdown();
  }
  std::shared_ptr<RecordingClient> Client() { return std::make_shared<RecordingClient>(); }

  FakeScheduler scheduler_;
  ManualTimers timers_;
  Hub hub_{scheduler_, timers_, nullptr, {.gateway_id = "gw-test"}};
};

TEST_F(HubTest, OneUpstreamPerStoreOpenedOnFirstSelect) {
  auto a1 = Client(), a2 = Client(), b1 = Client();
  hub_.Select(1, a1, "a");
  hub_.Select(2, a2, "a");
  hub_.Select(3, b1, "b");
  ASSERT_EQ(scheduler_.streams.size(), 2u);
  EXPECT_EQ(scheduler_.streams[0]->store, "a");
  EXPECT_EQ(scheduler_.streams[1]->store, "b");
  EXPECT_EQ(hub_.open_streams(), 2);
  EXPECT_EQ(hub_.ClientCounts(), (std::map<std::string, int>{{"a", 2}, {"b", 1}}));
}

TEST_F(HubTest, EventsReachOnlyTheStoresClientsEncodedOnce) {
  auto a1 = Client(), a2 = Client(), b1 = Client();
  hub_.Select(1, a1, "a");
  hub_.Select(2, a2, "a");
  hub_.Select(3, b1, "b");
  scheduler_.streams[0]->Event(Progress("a", v1::STAGE_ORDERS));
  ASSERT_EQ(a1->ws.size(), 1u);
  ASSERT_EQ(a2->ws.size(), 1u);
  EXPECT_TRUE(b1->ws.empty());
  // The same bytes, shared: one encoding per framing.
  EXPECT_EQ(a1->ws[0].get(), a2->ws[0].get());
  EXPECT_EQ(a1->sio[0].get(), a2->sio[0].get());
  EXPECT_THAT(*a1->ws[0], HasSubstr("\"event\":\"autoSyncProgress\""));
  EXPECT_THAT(*a1->ws[0], HasSubstr("\"stage\":\"orders\""));
  EXPECT_THAT(*a1->sio[0], HasSubstr("42[\"autoSyncProgress\""));
}

TEST_F(HubTest, SwitchingStoresStopsTheOldStoresEventsAndClosesItsStream) {
  auto c = Client();
  hub_.Select(1, c, "a");
  hub_.Select(1, c, "b");
  ASSERT_EQ(scheduler_.streams.size(), 2u);
  EXPECT_TRUE(scheduler_.streams[0]->cancelled);  // nobody watches a any more
  scheduler_.streams[0]->Event(Progress("a", v1::STAGE_ORDERS));
  EXPECT_TRUE(c->ws.empty());
  scheduler_.streams[1]->Event(Progress("b", v1::STAGE_ADS));
  EXPECT_EQ(c->ws.size(), 1u);
  EXPECT_EQ(hub_.ClientCounts(), (std::map<std::string, int>{{"b", 1}}));
}

TEST_F(HubTest, LastClientLeavingCancelsTheStream) {
  auto c1 = Client(), c2 = Client();
  hub_.Select(1, c1, "a");
  hub_.Select(2, c2, "a");
  hub_.Remove(1);
  EXPECT_FALSE(scheduler_.streams[0]->cancelled);
  hub_.Remove(2);
  EXPECT_TRUE(scheduler_.streams[0]->cancelled);
  scheduler_.streams[0]->End(absl::CancelledError());
  EXPECT_EQ(hub_.open_streams(), 0);
  EXPECT_TRUE(hub_.ClientCounts().empty());
  // Re-selecting opens a fresh stream.
  hub_.Select(3, c1, "a");
  EXPECT_EQ(scheduler_.streams.size(), 2u);
}

TEST_F(HubTest, BrokenStreamReopensWithBackoffAndClientsGetAFreshStatus) {
  auto c = Client();
  hub_.Select(1, c, "a");
  scheduler_.streams[0]->Event(Status(false));
  ASSERT_EQ(c->ws.size(), 1u);
  scheduler_.streams[0]->End(absl::UnavailableError("scheduler restarted"));
  EXPECT_EQ(scheduler_.streams.size(), 1u);
  timers_.Advance(absl::Milliseconds(199));
  EXPECT_EQ(scheduler_.streams.size(), 1u);  // not before the backoff
  timers_.Advance(absl::Milliseconds(1));
  ASSERT_EQ(scheduler_.streams.size(), 2u);
  // Fails again: the delay doubles.
  scheduler_.streams[1]->End(absl::UnavailableError("still down"));
  timers_.Advance(absl::Milliseconds(399));
  EXPECT_EQ(scheduler_.streams.size(), 2u);
  timers_.Advance(absl::Milliseconds(1));
  ASSERT_EQ(scheduler_.streams.size(), 3u);
  scheduler_.streams[2]->Event(Status(true));
  ASSERT_EQ(c->ws.size(), 2u);
  EXPECT_THAT(*c->ws[1], HasSubstr("\"isSyncing\":true"));
}

TEST_F(HubTest, ReselectingTheSameStoreKeepsTheStreamAndResendsTheStatus) {
  auto c = Client();
  hub_.Select(1, c, "a");
  scheduler_.streams[0]->Event(Status(false));
  hub_.Select(1, c, "a");
  EXPECT_EQ(scheduler_.streams.size(), 1u);
  EXPECT_FALSE(scheduler_.streams[0]->cancelled);
  EXPECT_EQ(c->ws.size(), 2u);
}

TEST_F(HubTest, UnknownStoreIsNotRetriedAndClientsAreTold) {
  auto c = Client();
  hub_.Select(1, c, "ghost");
  scheduler_.streams[0]->End(absl::NotFoundError("no store ghost"));
  ASSERT_EQ(c->ws.size(), 1u);
  EXPECT_THAT(*c->ws[0], HasSubstr(R"({"event":"error","data":{"message":"unknown store ghost)"));
  EXPECT_THAT(*c->sio[0], HasSubstr(R"(42["error",)"));
  timers_.Advance(absl::Seconds(60));
  EXPECT_EQ(scheduler_.streams.size(), 1u);
  EXPECT_TRUE(hub_.ClientCounts().empty());
  // The client may pick another store.
  hub_.Select(1, c, "a");
  EXPECT_EQ(scheduler_.streams.size(), 2u);
}

TEST_F(HubTest, LateJoinerGetsTheLastStatusAtOnce) {
  auto c1 = Client(), c2 = Client();
  hub_.Select(1, c1, "a");
  scheduler_.streams[0]->Event(Status(true));
  hub_.Select(2, c2, "a");
  ASSERT_EQ(c2->ws.size(), 1u);
  EXPECT_THAT(*c2->ws[0], HasSubstr("\"syncStatus\""));
  EXPECT_THAT(*c2->ws[0], HasSubstr("\"storeId\":\"a\""));
}

TEST_F(HubTest, ReportsCountsDebouncedAndPeriodically) {
  hub_.Start();
  auto c1 = Client(), c2 = Client();
  hub_.Select(1, c1, "a");
  hub_.Select(2, c2, "b");
  EXPECT_TRUE(scheduler_.reports.empty());
  timers_.Advance(absl::Milliseconds(500));
  ASSERT_EQ(scheduler_.reports.size(), 1u);  // two changes, one report
  const auto& r = scheduler_.reports[0];
  EXPECT_EQ(r.gateway_id(), "gw-test");
  ASSERT_EQ(r.stores_size(), 2);
  EXPECT_EQ(r.stores(0).store_id(), "a");
  EXPECT_EQ(r.stores(0).connections(), 1);
  timers_.Advance(absl::Seconds(15));
  EXPECT_GE(scheduler_.reports.size(), 2u);  // the periodic one
}

TEST_F(HubTest, DeadClientsAreSkipped) {
  auto c1 = Client();
  hub_.Select(1, c1, "a");
  {
    auto gone = Client();
    hub_.Select(2, gone, "a");
  }
  scheduler_.streams[0]->Event(Progress("a", v1::STAGE_LTV));
  EXPECT_EQ(c1->ws.size(), 1u);
  EXPECT_EQ(hub_.Broadcast("a", EncodeForClients("x", "1")), 1u);
  EXPECT_EQ(hub_.Broadcast("nobody", EncodeForClients("x", "1")), 0u);
}

// A client that leaves the hub from inside its delivery (as a session closing itself would).
class LeavingClient final : public HubClient {
 public:
  LeavingClient(Hub& hub, uint64_t id) : hub_(hub), id_(id) {}
  void Deliver(const EncodedEvent&) override {
    ++delivered;
    hub_.Remove(id_);
  }
  int delivered = 0;

 private:
  Hub& hub_;
  const uint64_t id_;
};

// The broadcast loop delivers outside the hub's lock, once per client, and drops its reference
// to each client as it goes: a client may call back into the hub, and none is kept alive.
TEST_F(HubTest, ABroadcastReachesEveryClientOnceAndKeepsNoReference) {
  constexpr int kClients = 100;
  std::vector<std::shared_ptr<RecordingClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(Client());
    hub_.Select(static_cast<uint64_t>(i + 1), clients.back(), "a");
  }
  auto leaving = std::make_shared<LeavingClient>(hub_, 1000);
  hub_.Select(1000, leaving, "a");
  EXPECT_EQ(hub_.Broadcast("a", EncodeForClients("x", "1")), static_cast<size_t>(kClients + 1));
  EXPECT_EQ(leaving->delivered, 1);
  EXPECT_EQ(leaving.use_count(), 1);
  for (const auto& c : clients) {
    ASSERT_EQ(c->sio.size(), 1u);
    EXPECT_EQ(*c->sio[0], R"(42["x",1])");
    EXPECT_EQ(c.use_count(), 1);
  }
  EXPECT_EQ(hub_.Broadcast("a", EncodeForClients("x", "2")), static_cast<size_t>(kClients));
  EXPECT_EQ(leaving->delivered, 1);
  EXPECT_EQ(hub_.ClientCounts()["a"], kClients);
}

}  // namespace
}  // namespace autosync::gateway
