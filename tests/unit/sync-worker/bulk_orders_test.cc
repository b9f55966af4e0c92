// The bulk operation's JSONL reader and the client that runs an operation (fake transport): what a
// first GraphQL sync and a backfill rely on.
#include "sync-worker/connectors/bulk_orders.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "sync-worker/connectors/graphql_bulk_client.h"
#include "tests/unit/sync-worker/connector_fakes.h"

namespace autosync::worker {
namespace {

using ::testing::ElementsAre;
using testing::FakeSleeper;
using testing::FakeTransport;
using ::testing::HasSubstr;

std::string OrderLine(int64_t id, std::vector<int64_t> refunds = {}) {
  std::string out = absl::StrCat(
      "{\"id\":\"gid://shopify/Order/", id, "\",\"name\":\"#", id,
      "\",\"email\":null,\"createdAt\":\"2025-01-02T03:04:05Z\",\"updatedAt\":\"2025-01-03T00:00:0",
      id % 10,
      "Z\",\"processedAt\":\"2025-01-02T03:04:05Z\",\"cancelledAt\":null,\"test\":false,"
      "\"displayFinancialStatus\":\"PAID\",\"currencyCode\":\"USD\","
      "\"totalPriceSet\":{\"shopMoney\":{\"amount\":\"100.00\",\"currencyCode\":\"USD\"}},"
      "\"customer\":{\"id\":\"gid://shopify/Customer/7\"},\"refunds\":[");
  for (size_t i = 0; i < refunds.size(); ++i) {
    absl::StrAppend(&out, i > 0 ? "," : "", "{\"id\":\"gid://shopify/Refund/", refunds[i], "\"}");
  }
  return out + "]}\n";
}

std::string TransactionLine(int64_t id, int64_t refund, absl::string_view amount,
                            absl::string_view status = "SUCCESS") {
  return absl::StrCat("{\"id\":\"gid://shopify/OrderTransaction/", id,
                      "\",\"kind\":\"REFUND\",\"status\":\"", status,
                      "\",\"amountSet\":{\"shopMoney\":{\"amount\":\"", amount,
                      "\"}},\"__parentId\":\"gid://shopify/Refund/", refund, "\"}\n");
}

std::vector<int64_t> Ids(const std::vector<Order>& orders) {
  std::vector<int64_t> ids;
  for (const Order& o : orders) ids.push_back(o.id);
  return ids;
}

TEST(BulkOrdersReaderTest, ChildrenAddUpToTheirOrdersRefundInAnyChunking) {
  const std::string file = OrderLine(1) + OrderLine(2, {20}) + TransactionLine(201, 20, "5.00") +
                           TransactionLine(202, 20, "7.50", "FAILURE") +
                           TransactionLine(203, 20, "2.25") + OrderLine(3);
  for (size_t chunk : {size_t{1}, size_t{7}, size_t{64}, file.size()}) {
    BulkOrdersReader reader;
    std::vector<Order> orders;
    for (size_t at = 0; at < file.size(); at += chunk) {
      ASSERT_TRUE(reader.Feed(absl::string_view(file).substr(at, chunk), orders).ok());
    }
    // The last order waits for children that could still come.
    EXPECT_THAT(Ids(orders), ElementsAre(1, 2)) << "chunk " << chunk;
    ASSERT_TRUE(reader.Finish(orders).ok());
    ASSERT_THAT(Ids(orders), ElementsAre(1, 2, 3));
    EXPECT_EQ(orders[0].refunded_cents, 0);
    EXPECT_EQ(orders[1].refunded_cents, 725);  // SUCCESS only: 5.00 + 2.25
    EXPECT_EQ(orders[1].customer_id, 7);
    EXPECT_EQ(orders[1].total_price_cents, 10000);
    EXPECT_EQ(reader.lines(), 6);
  }
}

TEST(BulkOrdersReaderTest, AWholeOrderBreakingARuleIsQuarantinedWithItsChildLines) {
  // Order 2's refunds add up to more than it cost: only its children show it.
  const std::string file = OrderLine(1) + OrderLine(2, {20}) + TransactionLine(201, 20, "60.00") +
                           TransactionLine(202, 20, "70.00") + OrderLine(3);
  std::vector<QuarantinedRecord> quarantined;
  RecordScreen screen;
  screen.now = absl::FromUnixSeconds(1800000000);  // 2027
  screen.page = "bulk operation gid://shopify/BulkOperation/9";
  screen.quarantined = &quarantined;
  BulkOrdersReader reader(BulkOrdersReader::kDefaultMaxLineBytes, &screen);
  std::vector<Order> orders;
  ASSERT_TRUE(reader.Feed(file, orders).ok());
  ASSERT_TRUE(reader.Finish(orders).ok());
  EXPECT_THAT(Ids(orders), ElementsAre(1, 3));
  ASSERT_EQ(quarantined.size(), 1u);
  EXPECT_EQ(quarantined[0].kind, "order");
  EXPECT_EQ(quarantined[0].record_key, "2");
  EXPECT_EQ(quarantined[0].rule, "refund_exceeds_total");
  EXPECT_EQ(quarantined[0].source,
            "bulk operation gid://shopify/BulkOperation/9, bulk result line 2");
  // Its own line and both child lines, as they came (without the newlines' trailing one).
  EXPECT_EQ(quarantined[0].raw, absl::StrCat(OrderLine(2, {20}), TransactionLine(201, 20, "60.00"),
                                             TransactionLine(202, 20, "70.00"))
                                    .substr(0, quarantined[0].raw.size()));
  EXPECT_EQ(quarantined[0].raw.size(), OrderLine(2, {20}).size() +
                                           TransactionLine(201, 20, "60.00").size() +
                                           TransactionLine(202, 20, "70.00").size() - 1);
  EXPECT_FALSE(quarantined[0].raw_truncated);
}

TEST(BulkOrdersReaderTest, AFileCutOffNeverYieldsTheOrderWhoseChildrenMayBeMissing) {
  const std::string file = OrderLine(1) + OrderLine(2, {20}) + TransactionLine(201, 20, "5.00");
  BulkOrdersReader reader;
  std::vector<Order> orders;
  ASSERT_TRUE(reader.Feed(file.substr(0, file.size() - 10), orders).ok());
  // Without Finish (the download failed), only order 1 is whole.
  EXPECT_THAT(Ids(orders), ElementsAre(1));
}

TEST(BulkOrdersReaderTest, HostileLinesFailNamingTheLine) {
  struct Case {
    std::string file;
    std::string message;
  };
  const std::vector<Case> cases = {
      {TransactionLine(1, 20, "1.00"), "line 1: a child line"},
      {OrderLine(1, {20}) + TransactionLine(1, 99, "1.00"),
       "line 2: its parent gid://shopify/Refund/99"},
      {OrderLine(1) + OrderLine(2, {20}) +
           "{\"id\":\"gid://shopify/LineItem/1\","
           "\"__parentId\":\"gid://shopify/Order/2\"}\n",
       "line 3: a child of gid://shopify/Order/2"},
      {OrderLine(1) + "{\"id\":\"gid://shopify/Order/2\",\n", "line 2"},
      {OrderLine(1) + "{\"id\":\"gid://shopify/Order/x\",\"createdAt\":\"2025-01-01T00:00:00Z\"}\n",
       "line 2.id"},
      {OrderLine(1) + "[1,2]\n", "line 2: expected an object"},
  };
  for (const Case& c : cases) {
    BulkOrdersReader reader;
    std::vector<Order> orders;
    absl::Status s = reader.Feed(c.file, orders);
    if (s.ok()) s = reader.Finish(orders);
    EXPECT_FALSE(s.ok()) << c.file;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.message)) << c.file;
    for (const Order& o : orders) EXPECT_EQ(o.id, 1) << "only whole orders before the bad line";
    // A failed reader stays failed.
    EXPECT_FALSE(reader.Feed(OrderLine(5), orders).ok());
  }
}

TEST(BulkOrdersReaderTest, ATenMebibyteLineIsRefusedWithoutBeingHeld) {
  BulkOrdersReader reader(size_t{1} << 20);
  std::vector<Order> orders;
  ASSERT_TRUE(reader.Feed(OrderLine(1), orders).ok());
  const std::string piece(64 << 10, 'x');
  absl::Status s;
  int fed = 0;
  for (; fed < 160 && s.ok(); ++fed)
    s = reader.Feed(fed == 0 ? "{\"name\":\"" + piece : piece, orders);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("line 2 is longer than 1048576 bytes"));
  EXPECT_LE(fed, 17) << "refused as soon as the line passed the cap";
  EXPECT_TRUE(orders.empty()) << "order 1 could still have had children";
}

constexpr char kCost[] =
    ",\"extensions\":{\"cost\":{\"requestedQueryCost\":10,\"actualQueryCost\":10,"
    "\"throttleStatus\":{\"maximumAvailable\":2000,\"currentlyAvailable\":1990,"
    "\"restoreRate\":100}}}";

std::string Op(absl::string_view field, absl::string_view status, absl::string_view url = "",
               absl::string_view error_code = "") {
  const std::string op = absl::StrCat(
      "{\"id\":\"gid://shopify/BulkOperation/9\",\"status\":\"", status,
      "\",\"errorCode\":", error_code.empty() ? "null" : absl::StrCat("\"", error_code, "\""),
      ",\"objectCount\":\"3\",\"url\":", url.empty() ? "null" : absl::StrCat("\"", url, "\""), "}");
  if (field == "node" || field == "currentBulkOperation") {
    return absl::StrCat("{\"data\":{\"", field, "\":", op, "}", kCost, "}");
  }
  return absl::StrCat("{\"data\":{\"", field, "\":{\"bulkOperation\":", op, ",\"userErrors\":[]}}",
                      kCost, "}");
}

class BulkOrdersClientTest : public ::testing::Test {
 protected:
  absl::Status Run() {
    BulkOrdersClient client(
        {.base_url = "http://shop.test", .api_version = "2025-10", .access_token = "secret-token"},
        transport_, sleeper_, {}, {}, {.batch_orders = 2});
    GraphqlOrdersRequest request;
    request.updated_min = absl::UnixEpoch();
    return client.Run(
        request,
        [&](std::vector<Order>& batch, std::vector<QuarantinedRecord>& quarantined) {
          if (!batch.empty()) batches_.push_back(Ids(batch));
          for (QuarantinedRecord& q : quarantined) quarantined_.push_back(std::move(q));
          return write_status_;
        },
        [&](const std::string& note) { notes_.push_back(note); });
  }

  FakeTransport transport_;
  FakeSleeper sleeper_;
  std::vector<std::vector<int64_t>> batches_;
  std::vector<QuarantinedRecord> quarantined_;
  std::vector<std::string> notes_;
  absl::Status write_status_;
};

TEST_F(BulkOrdersClientTest, StartsPollsAndStreamsTheFileWithoutTheToken) {
  transport_.Then(200, "{\"data\":{\"currentBulkOperation\":null}}")
      .Then(200, Op("bulkOperationRunQuery", "CREATED"))
      .Then(200, Op("node", "RUNNING"))
      .Then(200, Op("node", "COMPLETED", "http://files.test/r.jsonl?sig=1"))
      .Then(200, OrderLine(1) + OrderLine(2, {20}) + TransactionLine(3, 20, "1.00") + OrderLine(4));
  ASSERT_TRUE(Run().ok());
  EXPECT_THAT(batches_, ElementsAre(ElementsAre(1, 2), ElementsAre(4)));
  ASSERT_EQ(transport_.requests().size(), 5u);
  EXPECT_THAT(*transport_.requests()[1].post_body, HasSubstr("bulkOperationRunQuery"));
  EXPECT_THAT(*transport_.requests()[1].post_body, HasSubstr("updated_at:>='1970-01-01"));
  const HttpRequest& download = transport_.requests()[4];
  EXPECT_EQ(download.url, "http://files.test/r.jsonl?sig=1");
  EXPECT_FALSE(download.post_body.has_value());
  for (const auto& [name, value] : download.headers) EXPECT_NE(value, "secret-token") << name;
  EXPECT_EQ(sleeper_.delays().size(), 2u);  // one wait before each poll
}

TEST_F(BulkOrdersClientTest, ARunningOperationLeftBehindIsCancelledFirst) {
  transport_.Then(200, Op("currentBulkOperation", "RUNNING"))
      .Then(200, Op("bulkOperationCancel", "CANCELING"))
      .Then(200, Op("node", "CANCELED"))
      .Then(200, Op("bulkOperationRunQuery", "CREATED"))
      .Then(200, Op("node", "COMPLETED", ""));  // nothing matched: no file
  ASSERT_TRUE(Run().ok());
  EXPECT_THAT(*transport_.requests()[1].post_body, HasSubstr("bulkOperationCancel"));
  EXPECT_TRUE(batches_.empty());
}

TEST_F(BulkOrdersClientTest, EachEndOfAnOperationIsAClearError) {
  struct Case {
    std::string node;
    absl::StatusCode code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {Op("node", "FAILED", "", "ACCESS_DENIED"), absl::StatusCode::kPermissionDenied,
       "read_all_orders"},
      {Op("node", "FAILED", "", "INTERNAL_SERVER_ERROR"), absl::StatusCode::kUnavailable,
       "the next run starts a new one"},
      {Op("node", "CANCELED"), absl::StatusCode::kAborted, "cancelled by someone else"},
      {Op("node", "EXPIRED"), absl::StatusCode::kUnavailable, "EXPIRED"},
  };
  for (const Case& c : cases) {
    FakeTransport transport;
    transport.Then(200, "{\"data\":{\"currentBulkOperation\":null}}")
        .Then(200, Op("bulkOperationRunQuery", "CREATED"))
        .Then(200, c.node);
    FakeSleeper sleeper;
    BulkOrdersClient client(
        {.base_url = "http://shop.test", .api_version = "2025-10", .access_token = "tok-secret"},
        transport, sleeper);
    const absl::Status s = client.Run(
        {}, [](std::vector<Order>&, std::vector<QuarantinedRecord>&) { return absl::OkStatus(); },
        [](const std::string&) {});
    EXPECT_EQ(s.code(), c.code) << c.node;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.message)) << c.node;
  }
}

TEST_F(BulkOrdersClientTest, AnExpiredUrlIsRetryable) {
  transport_.Then(200, "{\"data\":{\"currentBulkOperation\":null}}")
      .Then(200, Op("bulkOperationRunQuery", "CREATED"))
      .Then(200, Op("node", "COMPLETED", "http://files.test/r.jsonl"))
      .Then(403, "<Error><Code>ExpiredToken</Code></Error>");
  absl::Status s = Run();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(s.message()), HasSubstr("the result URL expired"));
}

// Hands out the first `cut` bytes of a 2xx body, then fails as a connection closed early would.
class CuttingTransport final : public HttpTransport {
 public:
  CuttingTransport(FakeTransport& inner, size_t cut) : inner_(inner), cut_(cut) {}
  absl::StatusOr<HttpResponse> Send(const HttpRequest& request) override {
    return inner_.Send(request);
  }
  absl::StatusOr<HttpResponse> Stream(const HttpRequest& request, const BodySink& sink) override {
    absl::StatusOr<HttpResponse> response = inner_.Send(request);
    if (!response.ok()) return response;
    (void)sink(absl::string_view(response->body).substr(0, cut_));
    return absl::UnavailableError("transfer closed with outstanding read data remaining");
  }

 private:
  FakeTransport& inner_;
  size_t cut_;
};

TEST_F(BulkOrdersClientTest, ACutDownloadIsRetryableAndKeepsTheWholeOrdersBeforeTheCut) {
  transport_.Then(200, "{\"data\":{\"currentBulkOperation\":null}}")
      .Then(200, Op("bulkOperationRunQuery", "CREATED"))
      .Then(200, Op("node", "COMPLETED", "http://files.test/r.jsonl"));
  const std::string file =
      OrderLine(1) + OrderLine(2, {20}) + TransactionLine(3, 20, "1.00") + OrderLine(4);
  transport_.Then(200, file);
  CuttingTransport cutting(transport_, file.find("OrderTransaction"));  // inside order 2's child
  BulkOrdersClient client(
      {.base_url = "http://shop.test", .api_version = "2025-10", .access_token = "tok-secret"},
      cutting, sleeper_, {}, {}, {.batch_orders = 5});
  const absl::Status s = client.Run(
      {},
      [&](std::vector<Order>& batch, std::vector<QuarantinedRecord>&) {
        batches_.push_back(Ids(batch));
        return absl::OkStatus();
      },
      [](const std::string&) {});
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(s.message()), HasSubstr("the next run starts a new operation"));
  EXPECT_THAT(batches_, ElementsAre(ElementsAre(1))) << "order 2 may lack a child: not written";
}

TEST_F(BulkOrdersClientTest, AUserErrorFailsNamingIt) {
  transport_.Then(200, "{\"data\":{\"currentBulkOperation\":null}}")
      .Then(200,
            "{\"data\":{\"bulkOperationRunQuery\":{\"bulkOperation\":null,\"userErrors\":[{"
            "\"field\":[\"query\"],\"message\":\"Invalid bulk query: nope\"}]}}}");
  absl::Status s = Run();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("query: Invalid bulk query: nope"));
}

TEST_F(BulkOrdersClientTest, AFailedWriteStopsTheDownload) {
  transport_.Then(200, "{\"data\":{\"currentBulkOperation\":null}}")
      .Then(200, Op("bulkOperationRunQuery", "CREATED"))
      .Then(200, Op("node", "COMPLETED", "http://files.test/r.jsonl"))
      .Then(200, OrderLine(1) + OrderLine(2) + OrderLine(3) + OrderLine(4) + OrderLine(5));
  write_status_ = absl::UnavailableError("database down");
  absl::Status s = Run();
  EXPECT_EQ(s, absl::UnavailableError("database down"));
  EXPECT_EQ(batches_.size(), 1u);
}

}  // namespace
}  // namespace autosync::worker
