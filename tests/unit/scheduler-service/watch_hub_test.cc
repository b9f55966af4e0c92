// WatchHub fan-out and the NOTIFY payload codec.
#include "scheduler-service/watch_hub.h"

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace autosync::scheduler {
namespace {

class Collect final : public Subscriber {
 public:
  void Deliver(const std::shared_ptr<const autosync::v1::WatchEvent>& e) override {
    events.push_back(*e);
  }
  std::vector<autosync::v1::WatchEvent> events;
};

autosync::v1::WatchEvent Progress(const std::string& store, const std::string& message) {
  autosync::v1::WatchEvent e;
  e.set_store_id(store);
  e.mutable_progress()->set_store_id(store);
  e.mutable_progress()->set_message(message);
  e.mutable_progress()->set_stage(autosync::v1::STAGE_ORDERS);
  return e;
}

TEST(WatchHubTest, DeliversOnlyToThatStoresWatchers) {
  WatchHub hub;
  auto a = std::make_shared<Collect>();
  auto b = std::make_shared<Collect>();
  hub.Add("a", a);
  hub.Add("b", b);
  hub.Deliver(Progress("a", "x"));
  EXPECT_EQ(a->events.size(), 1u);
  EXPECT_TRUE(b->events.empty());
  hub.Remove("a", a.get());
  hub.Deliver(Progress("a", "y"));
  EXPECT_EQ(a->events.size(), 1u);
  EXPECT_EQ(hub.size(), 1u);
  // A subscriber that is gone is skipped.
  b.reset();
  hub.Deliver(Progress("b", "z"));
}

TEST(EventCodecTest, RoundTripsAndFitsNotifyLimit) {
  auto e = Progress("shop", "Fetched 250 orders");
  auto payload = EncodeEvent(e);
  ASSERT_TRUE(payload.has_value());
  auto back = DecodeEvent(*payload);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->event.progress().message(), "Fetched 250 orders");
  EXPECT_EQ(back->origin, "");

  auto big = Progress("shop", std::string(20000, 'm'));
  big.mutable_progress()->set_error(std::string(20000, 'e'));
  payload = EncodeEvent(big);
  ASSERT_TRUE(payload.has_value());
  EXPECT_LE(payload->size(), kMaxNotifyPayload);
  back = DecodeEvent(*payload);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->event.progress().stage(), autosync::v1::STAGE_ORDERS);
}

// The publisher's origin rides along as an unknown field: it comes back from DecodeEvent and is
// stripped from the event; a replica that predates it (a plain WatchEvent parse) still reads
// the event; and a too-large event keeps its origin after being cut.
TEST(EventCodecTest, CarriesTheOriginCompatibly) {
  const auto e = Progress("shop", "Fetched 250 orders");
  auto payload = EncodeEvent(e, "run_0123456789abcdef01234567");
  ASSERT_TRUE(payload.has_value());
  auto back = DecodeEvent(*payload);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->origin, "run_0123456789abcdef01234567");
  EXPECT_EQ(back->event.SerializeAsString(), e.SerializeAsString());
  std::string bytes;
  ASSERT_TRUE(absl::Base64Unescape(*payload, &bytes));
  autosync::v1::WatchEvent old_reader;
  ASSERT_TRUE(old_reader.ParseFromString(bytes));
  EXPECT_EQ(old_reader.store_id(), "shop");
  EXPECT_EQ(old_reader.progress().message(), "Fetched 250 orders");

  auto big = Progress("shop", std::string(20000, 'm'));
  payload = EncodeEvent(big, "origin-b");
  ASSERT_TRUE(payload.has_value());
  EXPECT_LE(payload->size(), kMaxNotifyPayload);
  back = DecodeEvent(*payload);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->origin, "origin-b");
}

TEST(EventCodecTest, RefusesForeignPayloads) {
  EXPECT_FALSE(DecodeEvent("hello world").ok());
  EXPECT_FALSE(DecodeEvent("").ok());
  EXPECT_FALSE(DecodeEvent(std::string(9000, 'A')).ok());
}

}  // namespace
}  // namespace autosync::scheduler
