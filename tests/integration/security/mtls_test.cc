// mTLS between the services (issue 19): the real sync-worker (and scheduler, gateway) started with
// the --tls_* files, certificates made at test time with the openssl CLI, and real gRPC clients:
// who is served, who is refused in the handshake, rotation without a restart, expiry while
// running, bad files at start, and a manual trigger through gateway -> scheduler -> worker.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <grpcpp/support/channel_arguments.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "autosync/v1/sync_worker.grpc.pb.h"
#include "common/grpc_tls.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/security/security_support.h"
#include "tests/support/grpc_probe.h"
#include "tests/support/migrated_db.h"
#include "tests/support/process.h"

namespace autosync::testing {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(20);

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteAll(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

std::string OpenSslTime(absl::Time t) {
  return absl::FormatTime("%Y%m%d%H%M%SZ", t, absl::UTCTimeZone());
}

struct KeyPair {
  std::string cert;  // path of the PEM certificate
  std::string key;   // path of the PEM private key
};

// A CA made with `openssl req -x509`, issuing leaves with `openssl ca` (which, unlike
// `openssl x509 -req` in OpenSSL 3.0, takes any validity window: expired ones included).
class TestCa final {
 public:
  static absl::StatusOr<TestCa> Create(const std::string& dir, const std::string& name) {
    TestCa ca;
    ca.dir_ = absl::StrCat(dir, "/", name);
    ::mkdir(ca.dir_.c_str(), 0700);
    ca.pair_ = {.cert = ca.dir_ + "/ca.pem", .key = ca.dir_ + "/ca.key"};
    auto made = RunCommand({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", ca.pair_.key,
                            "-out", ca.pair_.cert, "-days", "2", "-subj", "/CN=" + name});
    if (!made.ok()) return made.status();
    WriteAll(ca.dir_ + "/index.txt", "");
    WriteAll(ca.dir_ + "/serial", "1000\n");
    WriteAll(
        ca.dir_ + "/ca.cnf",
        absl::StrCat("[ca]\ndefault_ca = d\n[d]\ndatabase = ", ca.dir_,
                     "/index.txt\nnew_certs_dir = ", ca.dir_, "\nserial = ", ca.dir_,
                     "/serial\ncertificate = ", ca.pair_.cert, "\nprivate_key = ", ca.pair_.key,
                     "\ndefault_md = sha256\npolicy = p\nunique_subject = no\n"
                     "[p]\ncommonName = supplied\n"));
    return ca;
  }

  // A leaf whose DNS SAN is `dns_name`, valid from `not_before` to `not_after`.
  absl::StatusOr<KeyPair> Issue(const std::string& dns_name, const std::string& stem,
                                absl::Time not_before = absl::Now() - absl::Hours(1),
                                absl::Time not_after = absl::Now() + absl::Hours(24)) const {
    const std::string base = absl::StrCat(dir_, "/", stem);
    KeyPair pair{.cert = base + ".pem", .key = base + ".key"};
    auto csr = RunCommand({"openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                           "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", pair.key, "-out",
                           base + ".csr", "-subj", "/CN=" + dns_name});
    if (!csr.ok()) return csr.status();
    WriteAll(base + ".ext", absl::StrCat("subjectAltName = DNS:", dns_name,
                                         "\nbasicConstraints = CA:FALSE\n"
                                         "extendedKeyUsage = serverAuth, clientAuth\n"));
    auto signed_cert =
        RunCommand({"openssl", "ca", "-batch", "-notext", "-config", dir_ + "/ca.cnf", "-in",
                    base + ".csr", "-out", pair.cert, "-extfile", base + ".ext", "-startdate",
                    OpenSslTime(not_before), "-enddate", OpenSslTime(not_after)});
    if (!signed_cert.ok()) return signed_cert.status();
    return pair;
  }

  const KeyPair& pair() const { return pair_; }

 private:
  std::string dir_;
  KeyPair pair_;
};

// An independent client: gRPC's stock SSL credentials (no code of ours), with `client` as its
// certificate (none when empty) and the server's certificate checked for `server_name`. A
// channel of its own (no shared subchannel), so each one makes a new handshake.
std::shared_ptr<grpc::Channel> SslChannel(const std::string& target, const std::string& ca_file,
                                          const KeyPair* client,
                                          const std::string& server_name = "autosync-worker") {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadAll(ca_file);
  if (client != nullptr) {
    ssl.pem_cert_chain = ReadAll(client->cert);
    ssl.pem_private_key = ReadAll(client->key);
  }
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(server_name);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(target, grpc::SslCredentials(ssl), args);
}

// A client that accepts any server certificate (to ask a server whose own certificate has
// expired for its health), presenting `client`.
std::shared_ptr<grpc::Channel> UncheckedChannel(const std::string& target, const KeyPair& client) {
  auto provider = std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
      std::vector<grpc::experimental::IdentityKeyCertPair>{
          {.private_key = ReadAll(client.key), .certificate_chain = ReadAll(client.cert)}});
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(provider);
  options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(false);
  options.set_check_call_host(false);
  options.set_certificate_verifier(std::make_shared<grpc::experimental::NoOpCertificateVerifier>());
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(target, grpc::experimental::TlsCredentials(options), args);
}

// One GetCapacity call; OK, or the error. On success `peer_cert` gets the server's PEM.
absl::Status CallWorker(const std::shared_ptr<grpc::Channel>& channel,
                        std::string* peer_cert = nullptr) {
  auto stub = v1::SyncWorker::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  v1::GetCapacityRequest request;
  v1::GetCapacityResponse response;
  const grpc::Status status = stub->GetCapacity(&context, request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  if (peer_cert != nullptr) {
    const auto values = context.auth_context()->FindPropertyValues("x509_pem_cert");
    *peer_cert = values.empty() ? "" : std::string(values[0].data(), values[0].size());
  }
  return absl::OkStatus();
}

std::string Trimmed(const std::string& pem) { return std::string(absl::StripAsciiWhitespace(pem)); }

class MtlsTest : public MigratedDatabaseTest {
 protected:
  void SetUp() override {
    MigratedDatabaseTest::SetUp();
    if (HasFatalFailure()) return;
    char pattern[] = "/tmp/autosync-mtls-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    auto ca = TestCa::Create(dir_, "ca");
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = std::make_unique<TestCa>(*ca);
    auto wrong_ca = TestCa::Create(dir_, "wrong-ca");
    ASSERT_TRUE(wrong_ca.ok()) << wrong_ca.status();
    wrong_ca_ = std::make_unique<TestCa>(*wrong_ca);
    for (const char* name :
         {"autosync-worker", "autosync-scheduler", "autosync-gateway", "autosync-operator"}) {
      auto pair = ca_->Issue(name, name);
      ASSERT_TRUE(pair.ok()) << pair.status();
      pairs_[name] = *pair;
    }
  }

  void TearDown() override {
    if (!dir_.empty()) RunCommand({"rm", "-rf", dir_}).IgnoreError();
  }

  // Starts sync-worker serving with `pair` (re-read every second) and waits until an operator
  // client expecting `name` in its certificate is served.
  std::unique_ptr<ChildProcess> StartWorker(const KeyPair& pair,
                                            const std::string& name = "autosync-worker") {
    port_ = FreePort();
    metrics_port_ = FreePort();
    target_ = absl::StrCat("127.0.0.1:", port_);
    auto worker = ChildProcess::Start(
        BinaryPath("sync-worker"),
        {.args = {"--database_url=" + url_, absl::StrCat("--listen=", target_),
                  absl::StrCat("--metrics_listen=127.0.0.1:", metrics_port_),
                  "--tls_cert_file=" + pair.cert, "--tls_key_file=" + pair.key,
                  "--tls_ca_file=" + ca_->pair().cert, "--tls_refresh_seconds=1"}});
    EXPECT_TRUE(worker.ok()) << worker.status();
    if (!worker.ok()) return nullptr;
    const absl::Time deadline = absl::Now() + kWait;
    absl::StatusOr<std::string> health = absl::UnavailableError("not asked");
    while (absl::Now() < deadline) {
      health =
          HealthCheck(SslChannel(target_, ca_->pair().cert, &pairs_["autosync-operator"], name), "",
                      absl::Seconds(1));
      if (health.ok()) break;
      absl::SleepFor(absl::Milliseconds(50));  // paces reconnects to a process still starting
    }
    EXPECT_TRUE(health.ok()) << health.status() << (*worker)->Output();
    return std::move(*worker);
  }

  std::string dir_;
  std::unique_ptr<TestCa> ca_;
  std::unique_ptr<TestCa> wrong_ca_;
  std::map<std::string, KeyPair> pairs_;
  int port_ = 0;
  int metrics_port_ = 0;
  std::string target_;
};

TEST_F(MtlsTest, AllowedClientWithACertificateFromTheCaIsServed) {
  auto worker = StartWorker(pairs_["autosync-worker"]);
  ASSERT_NE(worker, nullptr);
  for (const char* client : {"autosync-operator", "autosync-scheduler"}) {
    auto channel = SslChannel(target_, ca_->pair().cert, &pairs_[client]);
    auto health = HealthCheck(channel, "autosync.v1.SyncWorker", absl::Seconds(5));
    ASSERT_TRUE(health.ok()) << client << ": " << health.status();
    EXPECT_EQ(*health, "SERVING") << client;
    EXPECT_TRUE(CallWorker(channel).ok()) << client;
  }
  // The worker's own certificate's notAfter, as a gauge.
  auto not_after = common::CertificateNotAfter(pairs_["autosync-worker"].cert);
  ASSERT_TRUE(not_after.ok());
  auto metrics = ScrapeMetrics(metrics_port_);
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_EQ(SeriesValue(*metrics, "autosync_tls_certificate_expiry_timestamp_seconds"),
            static_cast<double>(absl::ToUnixSeconds(*not_after)));
}

TEST_F(MtlsTest, RefusesClientsWithoutAnAllowedValidCertificateFromTheCa) {
  auto wrong = wrong_ca_->Issue("autosync-scheduler", "wrong-scheduler");
  ASSERT_TRUE(wrong.ok()) << wrong.status();
  auto expired = ca_->Issue("autosync-scheduler", "expired-scheduler",
                            absl::Now() - absl::Hours(48), absl::Now() - absl::Hours(24));
  ASSERT_TRUE(expired.ok()) << expired.status();
  auto worker = StartWorker(pairs_["autosync-worker"]);
  ASSERT_NE(worker, nullptr);

  const std::vector<std::pair<std::string, const KeyPair*>> refused = {
      {"no client certificate", nullptr},
      {"a certificate from another CA", &*wrong},
      {"a name the worker does not accept", &pairs_["autosync-gateway"]},
      {"an expired certificate", &*expired}};
  for (const auto& [why, client] : refused) {
    auto channel = SslChannel(target_, ca_->pair().cert, client);
    const absl::Status call = CallWorker(channel);
    EXPECT_EQ(call.code(), absl::StatusCode::kUnavailable) << why << ": " << call;
    EXPECT_FALSE(HealthCheck(channel, "", absl::Seconds(5)).ok()) << why;
  }
  // The name refusal is the worker's own verifier, and its log says why.
  EXPECT_THAT(worker->Output(),
              HasSubstr("tls: refused client certificate: its DNS names [autosync-gateway] are "
                        "not autosync-scheduler or autosync-operator"));
  // The same client with the allowed certificate is served: the refusals are the certificates.
  EXPECT_TRUE(
      CallWorker(SslChannel(target_, ca_->pair().cert, &pairs_["autosync-scheduler"])).ok());
}

TEST_F(MtlsTest, ClientRefusesAServerNamingAnotherServiceWhateverTheTargetHost) {
  // A "worker" presenting the gateway's certificate (valid, from the CA).
  auto impostor = StartWorker(pairs_["autosync-gateway"], "autosync-gateway");
  ASSERT_NE(impostor, nullptr);
  // The scheduler's channel credentials, as scheduler-service builds them.
  const KeyPair& scheduler = pairs_["autosync-scheduler"];
  const common::GrpcSecurity security{.files = {.cert_file = scheduler.cert,
                                                .key_file = scheduler.key,
                                                .ca_file = ca_->pair().cert},
                                      .refresh = absl::Seconds(1)};
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto expecting_worker =
      grpc::CreateCustomChannel(target_, security.ChannelCredentials("autosync-worker"), args);
  EXPECT_FALSE(
      expecting_worker->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(3))));
  EXPECT_EQ(CallWorker(expecting_worker).code(), absl::StatusCode::kUnavailable);
  // The same credentials expecting the name it does carry connect (to 127.0.0.1, not a name).
  auto expecting_gateway =
      grpc::CreateCustomChannel(target_, security.ChannelCredentials("autosync-gateway"), args);
  EXPECT_TRUE(CallWorker(expecting_gateway).ok());
}

TEST_F(MtlsTest, RotatedCertificateServesNewHandshakesWithoutARestart) {
  auto worker = StartWorker(pairs_["autosync-worker"]);
  ASSERT_NE(worker, nullptr);
  const KeyPair& client = pairs_["autosync-operator"];
  std::string seen;
  ASSERT_TRUE(CallWorker(SslChannel(target_, ca_->pair().cert, &client), &seen).ok());
  EXPECT_EQ(Trimmed(seen), Trimmed(ReadAll(pairs_["autosync-worker"].cert)));

  // A new key and certificate (new serial) moved over the served files, key first.
  auto next = ca_->Issue("autosync-worker", "worker-next");
  ASSERT_TRUE(next.ok()) << next.status();
  const std::string next_pem = ReadAll(next->cert);
  ASSERT_NE(Trimmed(next_pem), Trimmed(seen));
  ASSERT_EQ(std::rename(next->key.c_str(), pairs_["autosync-worker"].key.c_str()), 0);
  ASSERT_EQ(std::rename(next->cert.c_str(), pairs_["autosync-worker"].cert.c_str()), 0);

  const absl::Time deadline = absl::Now() + kWait;
  while (Trimmed(seen) != Trimmed(next_pem) && absl::Now() < deadline) {
    ASSERT_TRUE(CallWorker(SslChannel(target_, ca_->pair().cert, &client), &seen).ok());
  }
  EXPECT_EQ(Trimmed(seen), Trimmed(next_pem));
  EXPECT_TRUE(worker->running());
}

TEST_F(MtlsTest, OwnCertificateExpiringWhileRunningIsRefusedAndMakesTheWorkerUnready) {
  auto short_lived = ca_->Issue("autosync-worker", "short-lived", absl::Now() - absl::Hours(1),
                                absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(short_lived.ok()) << short_lived.status();
  auto worker = StartWorker(*short_lived);
  ASSERT_NE(worker, nullptr);
  const KeyPair& client = pairs_["autosync-operator"];

  // Once the certificate has expired, a new handshake is refused by the client's default
  // verification (no code of ours)...
  const absl::Time deadline = absl::Now() + kWait;
  absl::Status call = absl::OkStatus();
  while (call.ok() && absl::Now() < deadline) {
    call = CallWorker(SslChannel(target_, ca_->pair().cert, &client));
  }
  EXPECT_EQ(call.code(), absl::StatusCode::kUnavailable) << call;
  // ... and the worker says it is not ready, and why.
  absl::StatusOr<std::string> health = absl::UnavailableError("not asked");
  while (absl::Now() < deadline) {
    health =
        HealthCheck(UncheckedChannel(target_, client), "autosync.v1.SyncWorker", absl::Seconds(2));
    if (health.ok() && *health == "NOT_SERVING") break;
  }
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, "NOT_SERVING");
  EXPECT_THAT(worker->Output(),
              HasSubstr(absl::StrCat("tls: certificate ", short_lived->cert, " expired at")));
}

TEST_F(MtlsTest, BadFilesStopTheServiceAtStartNamingTheFlag) {
  const std::string not_pem = dir_ + "/not.pem";
  WriteAll(not_pem, "this is not a certificate\n");
  const KeyPair& worker = pairs_["autosync-worker"];
  const KeyPair& other = pairs_["autosync-gateway"];
  struct Case {
    std::string cert, key, ca, expected;
  };
  const std::vector<Case> cases = {
      {dir_ + "/missing.pem", worker.key, ca_->pair().cert,
       "invalid --tls_cert_file: cannot read " + dir_ + "/missing.pem"},
      {not_pem, worker.key, ca_->pair().cert,
       "invalid --tls_cert_file: " + not_pem + " holds no PEM certificate"},
      {worker.cert, not_pem, ca_->pair().cert,
       "invalid --tls_key_file: " + not_pem + " holds no PEM private key"},
      {worker.cert, other.key, ca_->pair().cert,
       "invalid --tls_key_file: " + other.key + " is not the private key of " + worker.cert},
      {worker.cert, worker.key, not_pem,
       "invalid --tls_ca_file: " + not_pem + " holds no PEM certificate"}};
  for (const Case& c : cases) {
    auto out = RunCommand({BinaryPath("sync-worker"), "--database_url=" + url_,
                           "--listen=127.0.0.1:0", "--tls_cert_file=" + c.cert,
                           "--tls_key_file=" + c.key, "--tls_ca_file=" + c.ca});
    ASSERT_FALSE(out.ok()) << c.expected;
    EXPECT_THAT(std::string(out.status().message()), HasSubstr(c.expected));
  }
}

// gateway -> scheduler -> worker, every link mTLS: a manual trigger through the gateway's HTTP
// route completes a run.
TEST_F(MtlsTest, ManualTriggerThroughTheGatewayCompletesWithEveryLinkOnMtls) {
  const std::string ca = ca_->pair().cert;
  const auto tls_args = [&](const std::string& name) {
    const KeyPair& pair = pairs_[name];
    return std::vector<std::string>{"--tls_cert_file=" + pair.cert, "--tls_key_file=" + pair.key,
                                    "--tls_ca_file=" + ca, "--tls_refresh_seconds=1"};
  };
  const KeyPair& operator_pair = pairs_["autosync-operator"];
  const common::GrpcSecurity operator_security{
      .files = {.cert_file = operator_pair.cert, .key_file = operator_pair.key, .ca_file = ca}};
  auto system = System::Start(
      {.sim_args = {"--stores=tlsstore:50"},
       .database_url = url_,
       .tls = {.scheduler_args = tls_args("autosync-scheduler"),
               .worker_args = tls_args("autosync-worker"),
               .gateway_args = tls_args("autosync-gateway"),
               .scheduler_credentials = operator_security.ChannelCredentials("autosync-scheduler"),
               .worker_credentials = operator_security.ChannelCredentials("autosync-worker")}});
  ASSERT_TRUE(system.ok()) << system.status();
  ASSERT_TRUE((*system)->RegisterStore("tlsstore").ok());

  auto reply = HttpCall("POST", (*system)->GatewayUrl("/api/test/trigger-sync/tlsstore"));
  ASSERT_TRUE(reply.ok()) << reply.status();
  ASSERT_EQ(reply->status, 200) << reply->body << (*system)->AllOutput();
  const std::string key = "\"runId\":\"";
  const size_t at = reply->body.find(key);
  ASSERT_NE(at, std::string::npos) << reply->body;
  const size_t from = at + key.size();
  const std::string run_id = reply->body.substr(from, reply->body.find('"', from) - from);
  auto run = (*system)->WaitForRun("tlsstore", run_id);
  ASSERT_TRUE(run.ok()) << run.status() << (*system)->AllOutput();
  EXPECT_EQ(run->status(), "completed") << run->error() << (*system)->AllOutput();
}

}  // namespace
}  // namespace autosync::testing
