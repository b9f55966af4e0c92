#include "ws-gateway/config.h"

#include <filesystem>
#include <optional>
#include <string>
#include <system_error>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "ws-gateway/flags.h"

namespace autosync::gateway {
namespace {

std::string DefaultWebRoot() {
  std::error_code ec;
#ifdef AUTOSYNC_GATEWAY_WEB_DIR
  if (std::filesystem::is_directory(AUTOSYNC_GATEWAY_WEB_DIR, ec)) return AUTOSYNC_GATEWAY_WEB_DIR;
#endif
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto web = exe.parent_path() / "web";
    if (std::filesystem::is_directory(web, ec)) return web.string();
  }
  return "";
}

// --jwt_secret_file, --jwks_url and the dev-mode guard; the claims and the default role.
void AuthFromFlags(GatewayConfig& config, common::ConfigErrors& errors) {
  const std::string secret_file = absl::GetFlag(FLAGS_jwt_secret_file);
  if (!secret_file.empty()) {
    absl::StatusOr<std::string> secret = ReadSecretFile(secret_file);
    errors.Check(secret.status(), common::FlagName(FLAGS_jwt_secret_file));
    if (secret.ok()) config.jwt_secret = *secret;
  }
  config.jwks.url = common::HttpUrlFlag(FLAGS_jwks_url, errors);
  config.jwks.refresh_interval = common::SecondsFlag(FLAGS_jwks_refresh_seconds, 10, 86400, errors);
  config.jwks.min_refresh_interval =
      common::SecondsFlag(FLAGS_jwks_min_refresh_seconds, 1, 3600, errors);
  config.jwks.timeout = common::MillisecondsFlag(FLAGS_jwks_timeout_ms, 100, 60000, errors);
  config.jwt.issuer = absl::GetFlag(FLAGS_jwt_issuer);
  config.jwt.audience = absl::GetFlag(FLAGS_jwt_audience);
  config.jwt.leeway = common::SecondsFlag(FLAGS_jwt_leeway_seconds, 0, 300, errors);
  config.jwt.role_claim = common::NonEmptyFlag(FLAGS_role_claim, errors);
  config.jwt.stores_claim = common::NonEmptyFlag(FLAGS_stores_claim, errors);
  const std::string default_role = absl::GetFlag(FLAGS_default_role);
  if (default_role == "none") {
    config.jwt.default_role = Role::kNone;
  } else if (std::optional<Role> role = RoleFromName(default_role)) {
    config.jwt.default_role = *role;
  } else {
    errors.Require(false, "default_role", "must be viewer, operator, admin or none");
  }
  if (secret_file.empty() && config.jwks.url.empty() &&
      !common::IsLoopbackHost(config.listen.host) && !absl::GetFlag(FLAGS_allow_remote_dev_mode)) {
    errors.Require(false, "jwt_secret_file",
                   "(or --jwks_url) is required when --listen is not a loopback address (dev "
                   "mode lets every caller manage every store); pass --allow_remote_dev_mode to "
                   "accept that");
  }
}

}  // namespace

absl::StatusOr<GatewayConfig> GatewayConfigFromFlags(common::ConfigErrors errors) {
  GatewayConfig config;
  config.listen = common::ListenFlag(FLAGS_listen, errors);
  config.metrics_listen = common::ListenFlag(FLAGS_metrics_listen, errors);
  config.scheduler_target = common::NonEmptyFlag(FLAGS_scheduler_target, errors);
  config.threads = common::FlagInRange(FLAGS_threads, 1, 64, errors);
  config.blocking_threads = common::FlagInRange(FLAGS_blocking_threads, 1, 64, errors);
  config.upstream_timeout = common::MillisecondsFlag(FLAGS_upstream_timeout_ms, 1, 60000, errors);
  config.web_root = common::DirectoryFlag(FLAGS_web_root, errors);
  if (config.web_root.empty()) config.web_root = DefaultWebRoot();
  AuthFromFlags(config, errors);
  for (absl::string_view origin :
       absl::StrSplit(absl::GetFlag(FLAGS_allowed_origins), ',', absl::SkipWhitespace())) {
    origin = absl::StripAsciiWhitespace(origin);
    errors.Require(origin == "*" || absl::StartsWith(origin, "http://") ||
                       absl::StartsWith(origin, "https://"),
                   "allowed_origins",
                   absl::StrCat("entry \"", origin, "\" is not * or an http(s):// origin"));
    config.allowed_origins.emplace_back(origin);
  }
  config.limits.ping_interval =
      common::MillisecondsFlag(FLAGS_ping_interval_ms, 10, 600000, errors);
  config.limits.ping_timeout = common::MillisecondsFlag(FLAGS_ping_timeout_ms, 10, 600000, errors);
  config.limits.max_payload =
      static_cast<size_t>(common::FlagInRange(FLAGS_max_payload_bytes, 1024, 100000000, errors));
  config.limits.connect_timeout =
      common::MillisecondsFlag(FLAGS_connect_timeout_ms, 100, 600000, errors);
  config.limits.send_queue_max =
      static_cast<size_t>(common::FlagInRange(FLAGS_send_queue_max, 8, 100000, errors));
  config.store_triggers_per_minute =
      common::FlagInRange(FLAGS_store_triggers_per_minute, 1, 6000, errors);
  config.client_triggers_per_minute =
      common::FlagInRange(FLAGS_client_triggers_per_minute, 1, 6000, errors);
  config.bench_endpoints = common::LoopbackOnlyFlag(FLAGS_bench_endpoints, config.listen, errors);
  config.protocol_conformance =
      common::LoopbackOnlyFlag(FLAGS_protocol_conformance, config.listen, errors);
  config.gateway_id = common::ProcessNameFlag(FLAGS_gateway_id, 0, errors);

  // The gateway serves no gRPC: --tls_allowed_clients does not apply to it.
  config.security = common::GrpcSecurityFromFlags({}, errors);
  config.scheduler_tls_name = common::NonEmptyFlag(FLAGS_scheduler_tls_name, errors);
  if (!errors.ok()) return errors.ToStatus();
  return config;
}

}  // namespace autosync::gateway
