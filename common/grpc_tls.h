// mTLS between autosync's services: the flags every binary shares (--tls_cert_file,
// --tls_key_file, --tls_ca_file, --tls_refresh_seconds, --tls_allowed_clients, --insecure_grpc),
// the gRPC server and channel credentials built from them, and the certificate-expiry check.
//
// Names: each service's certificate carries one DNS SAN naming it (kSchedulerName, …). A server
// accepts a client whose certificate is from the CA and names an allowed client; a client accepts
// a server whose certificate is from the CA and names the service it expects, whatever the host
// in the target. Both are refused during the TLS handshake (a certificate verifier), so a refused
// peer never makes a call. Certificate files are re-read every --tls_refresh_seconds (gRPC's
// FileWatcherCertificateProvider): a rotated certificate serves new handshakes without a restart.
#pragma once

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/config.h"

namespace prometheus {
class Gauge;
class Registry;
}  // namespace prometheus

namespace autosync::common {

inline constexpr absl::string_view kSchedulerName = "autosync-scheduler";
inline constexpr absl::string_view kWorkerName = "autosync-worker";
inline constexpr absl::string_view kGatewayName = "autosync-gateway";
inline constexpr absl::string_view kOperatorName = "autosync-operator";

struct TlsFiles {
  std::string cert_file;  // PEM: this service's certificate (chain)
  std::string key_file;   // PEM: its private key
  std::string ca_file;    // PEM: the CA bundle peers' certificates must chain to
};

// The validated --insecure_grpc / --tls_* configuration of one process. Immutable.
struct GrpcSecurity {
  bool insecure = false;
  TlsFiles files = {};
  absl::Duration refresh = absl::Seconds(60);
  // Client certificate names a server accepts (servers only).
  std::vector<std::string> allowed_clients = {};

  // Server credentials: plaintext when insecure; otherwise TLS requiring a client certificate
  // from the CA that names one of `allowed_clients`.
  std::shared_ptr<grpc::ServerCredentials> ServerCredentials() const;
  // Channel credentials: plaintext when insecure; otherwise TLS with this process's certificate,
  // accepting only a server certificate from the CA that names `server_name`.
  std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(
      const std::string& server_name) const;
};

// Reads the flags. The rule: all three of --tls_cert_file, --tls_key_file, --tls_ca_file, or
// --insecure_grpc; not both, not neither. The files are loaded once here: missing, unreadable,
// not PEM, or a key that does not match the certificate is an error naming the flag.
// `default_allowed_clients` applies when --tls_allowed_clients is empty (servers; {} otherwise).
// Logs a warning when gRPC runs plaintext.
GrpcSecurity GrpcSecurityFromFlags(std::vector<std::string> default_allowed_clients,
                                   ConfigErrors& errors);

// Loads and checks the three files as GrpcSecurityFromFlags does: "invalid --tls_key_file: …".
absl::Status ValidateTlsFiles(const TlsFiles& files);

// notAfter of the first certificate in the PEM file at `path`.
absl::StatusOr<absl::Time> CertificateNotAfter(const std::string& path);

// Watches this process's own certificate: exports its notAfter as the gauge
// autosync_tls_certificate_expiry_timestamp_seconds and answers whether it is still valid.
// Check() re-reads the file (it may have been rotated). Thread-safe.
class CertificateExpiryCheck final {
 public:
  CertificateExpiryCheck(std::string cert_file, prometheus::Registry& registry);
  // UNAVAILABLE "tls: certificate <path> expired at <time>" once expired; OK before; an
  // unreadable file (mid-rotation) keeps the last answer.
  absl::Status Check();

 private:
  const std::string cert_file_;
  prometheus::Gauge& gauge_;
  absl::Mutex mu_;
  absl::Time not_after_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
};

}  // namespace autosync::common
