#include "common/grpc_tls.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <ctime>

#include "absl/algorithm/container.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/file.h"
#include "common/log.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM certificate of this service for gRPC mTLS (with --tls_key_file, --tls_ca_file); "
          "its DNS SAN names the service (autosync-scheduler, autosync-worker, autosync-gateway)");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key of --tls_cert_file");
ABSL_FLAG(std::string, tls_ca_file, "",
          "PEM CA bundle that gRPC peers' certificates must chain to");
ABSL_FLAG(int32_t, tls_refresh_seconds, 60,
          "How often the --tls_* files are re-read, so rotated certificates serve new handshakes "
          "without a restart (1-86400)");
ABSL_FLAG(std::string, tls_allowed_clients, "",
          "Comma list of client certificate names (DNS SAN) this gRPC server accepts (default: "
          "scheduler-service autosync-gateway,autosync-operator; sync-worker "
          "autosync-scheduler,autosync-operator)");
ABSL_FLAG(bool, insecure_grpc, false,
          "Plaintext, unauthenticated gRPC instead of mTLS (tests and loopback only); excludes "
          "the --tls_* files");

namespace autosync::common {
namespace {

using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;
using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "no PEM data";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

BioPtr MemBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
}

// Every certificate in a PEM text; an error when there is none.
absl::StatusOr<std::vector<X509Ptr>> ParseCertificates(const std::string& pem,
                                                       const std::string& path) {
  BioPtr bio = MemBio(pem);
  std::vector<X509Ptr> certs;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certs.emplace_back(cert, &X509_free);
  }
  ERR_clear_error();  // the read past the last certificate
  if (certs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, " holds no PEM certificate"));
  }
  return certs;
}

absl::StatusOr<absl::Time> NotAfter(const X509& cert) {
  std::tm tm = {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(&cert), &tm) != 1) {
    return absl::InvalidArgumentError("unreadable notAfter");
  }
  return absl::FromTimeT(timegm(&tm));
}

std::vector<std::string> SplitNames(absl::string_view list) {
  return absl::StrSplit(list, ',', absl::SkipWhitespace());
}

// Accepts a peer whose certificate (already verified against the CA by gRPC) carries one of
// `names` as a DNS SAN; refuses it in the handshake otherwise, and logs why.
class ServiceNameVerifier final : public grpc::experimental::ExternalCertificateVerifier {
 public:
  ServiceNameVerifier(std::vector<std::string> names, std::string role)
      : names_(std::move(names)), role_(std::move(role)) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> /*callback*/, grpc::Status* sync_status) override {
    std::vector<std::string> presented;
    for (const grpc::string_ref& name : request->dns_names()) {
      presented.emplace_back(name.data(), name.size());
      if (absl::c_linear_search(names_, presented.back())) {
        *sync_status = grpc::Status::OK;
        return true;  // synchronous
      }
    }
    const std::string reason =
        absl::StrCat("tls: refused ", role_, " certificate: its DNS names [",
                     absl::StrJoin(presented, ","), "] are not ", absl::StrJoin(names_, " or "));
    LogWarn(reason);
    *sync_status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, reason);
    return true;
  }

  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest* /*request*/) override {}

 private:
  const std::vector<std::string> names_;
  const std::string role_;
};

std::shared_ptr<grpc::experimental::CertificateProviderInterface> FileProvider(
    const GrpcSecurity& security) {
  return std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      security.files.key_file, security.files.cert_file, security.files.ca_file,
      static_cast<unsigned int>(absl::ToInt64Seconds(security.refresh)));
}

}  // namespace

namespace {

// Loads the three files; on a problem, `flag` names the flag whose file it is.
absl::Status CheckTlsFiles(const TlsFiles& files, std::string& flag) {
  flag = "tls_cert_file";
  auto cert_pem = ReadFile(files.cert_file);
  if (!cert_pem.ok()) return cert_pem.status();
  auto certs = ParseCertificates(*cert_pem, files.cert_file);
  if (!certs.ok()) return certs.status();
  flag = "tls_key_file";
  auto key_pem = ReadFile(files.key_file);
  if (!key_pem.ok()) return key_pem.status();
  BioPtr bio = MemBio(*key_pem);
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(files.key_file, " holds no PEM private key (", OpenSslError(), ")"));
  }
  if (X509_check_private_key(certs->front().get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat(files.key_file, " is not the private key of ", files.cert_file));
  }
  flag = "tls_ca_file";
  auto ca_pem = ReadFile(files.ca_file);
  if (!ca_pem.ok()) return ca_pem.status();
  return ParseCertificates(*ca_pem, files.ca_file).status();
}

}  // namespace

absl::Status ValidateTlsFiles(const TlsFiles& files) {
  std::string flag;
  const absl::Status s = CheckTlsFiles(files, flag);
  if (s.ok()) return s;
  return absl::InvalidArgumentError(absl::StrCat("invalid --", flag, ": ", s.message()));
}

absl::StatusOr<absl::Time> CertificateNotAfter(const std::string& path) {
  auto pem = ReadFile(path);
  if (!pem.ok()) return pem.status();
  auto certs = ParseCertificates(*pem, path);
  if (!certs.ok()) return certs.status();
  return NotAfter(*certs->front());
}

GrpcSecurity GrpcSecurityFromFlags(std::vector<std::string> default_allowed_clients,
                                   ConfigErrors& errors) {
  GrpcSecurity security;
  security.insecure = absl::GetFlag(FLAGS_insecure_grpc);
  security.files = {.cert_file = absl::GetFlag(FLAGS_tls_cert_file),
                    .key_file = absl::GetFlag(FLAGS_tls_key_file),
                    .ca_file = absl::GetFlag(FLAGS_tls_ca_file)};
  const int refresh = absl::GetFlag(FLAGS_tls_refresh_seconds);
  errors.Require(refresh >= 1 && refresh <= 86400, "tls_refresh_seconds",
                 "must be between 1 and 86400");
  security.refresh = absl::Seconds(refresh);
  security.allowed_clients = SplitNames(absl::GetFlag(FLAGS_tls_allowed_clients));
  if (security.allowed_clients.empty())
    security.allowed_clients = std::move(default_allowed_clients);

  const int given = !security.files.cert_file.empty() + !security.files.key_file.empty() +
                    !security.files.ca_file.empty();
  if (security.insecure && given > 0) {
    errors.Require(false, "insecure_grpc",
                   "excludes --tls_cert_file, --tls_key_file and --tls_ca_file: give either "
                   "the three TLS files or --insecure_grpc, not both");
  } else if (!security.insecure && given < 3) {
    errors.Require(false, "tls_cert_file",
                   "gRPC needs mTLS: give all of --tls_cert_file, --tls_key_file and "
                   "--tls_ca_file, or --insecure_grpc for plaintext (tests, loopback)");
  } else if (!security.insecure) {
    std::string flag;
    const absl::Status files = CheckTlsFiles(security.files, flag);
    errors.Check(files, flag);
  }
  if (security.insecure && errors.ok()) {
    LogWarn(
        "--insecure_grpc: this service's gRPC is plaintext and unauthenticated; use the "
        "--tls_* files outside tests and loopback");
  }
  return security;
}

std::shared_ptr<grpc::ServerCredentials> GrpcSecurity::ServerCredentials() const {
  if (insecure) return grpc::InsecureServerCredentials();
  grpc::experimental::TlsServerCredentialsOptions options(FileProvider(*this));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.set_certificate_verifier(
      grpc::experimental::ExternalCertificateVerifier::Create<ServiceNameVerifier>(allowed_clients,
                                                                                   "client"));
  return grpc::experimental::TlsServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> GrpcSecurity::ChannelCredentials(
    const std::string& server_name) const {
  if (insecure) return grpc::InsecureChannelCredentials();
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(FileProvider(*this));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(true);  // the chain to the CA, and its validity dates
  // The target's host is an IP or a Kubernetes DNS name: the service name is checked instead.
  options.set_check_call_host(false);
  options.set_certificate_verifier(
      grpc::experimental::ExternalCertificateVerifier::Create<ServiceNameVerifier>(
          std::vector<std::string>{server_name}, "server"));
  return grpc::experimental::TlsCredentials(options);
}

CertificateExpiryCheck::CertificateExpiryCheck(std::string cert_file,
                                               prometheus::Registry& registry)
    : cert_file_(std::move(cert_file)),
      gauge_(prometheus::BuildGauge()
                 .Name("autosync_tls_certificate_expiry_timestamp_seconds")
                 .Help("notAfter of this service's own gRPC TLS certificate (--tls_cert_file), "
                       "in Unix seconds; re-read as the file is rotated")
                 .Register(registry)
                 .Add({})) {
  Check().IgnoreError();  // sets the gauge; the readiness loop reports expiry
}

absl::Status CertificateExpiryCheck::Check() {
  absl::MutexLock lock(&mu_);
  if (auto not_after = CertificateNotAfter(cert_file_); not_after.ok()) {
    not_after_ = *not_after;
    gauge_.Set(static_cast<double>(absl::ToUnixSeconds(not_after_)));
  }
  if (absl::Now() < not_after_) return absl::OkStatus();
  return absl::UnavailableError(
      absl::StrCat("tls: certificate ", cert_file_, " expired at ",
                   absl::FormatTime(absl::RFC3339_sec, not_after_, absl::UTCTimeZone())));
}

}  // namespace autosync::common
