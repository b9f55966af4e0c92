#include "ws-gateway/eio_server.h"

#include <optional>
#include <utility>
#include <vector>

#include "ws-gateway/eio_conformance.h"
#include "ws-gateway/route_match.h"
#include "ws-gateway/sio_dashboard.h"

namespace autosync::gateway {

EioApplicationFactory ApplicationFor(EioProfile profile) {
  switch (profile) {
    case EioProfile::kSocketIoConformance:
      return [](EioSession& session) -> std::unique_ptr<EioApplication> {
        return std::make_unique<SocketIoEcho>(session);
      };
    case EioProfile::kRawEcho:
      return [](EioSession& session) -> std::unique_ptr<EioApplication> {
        return std::make_unique<EngineIoEcho>(session);
      };
    case EioProfile::kGateway:
      break;
  }
  return [](EioSession& session) -> std::unique_ptr<EioApplication> {
    return std::make_unique<SioDashboard>(session);
  };
}

EioServer::EioServer(ClientContext& context, EioProfile profile, size_t max_sessions)
    : context_(context), application_(ApplicationFor(profile)), max_sessions_(max_sessions) {}

std::shared_ptr<EioSession> EioServer::NewSession(const HttpRequest& request) {
  std::string sid;
  std::shared_ptr<EioSession> session;
  absl::MutexLock lock(&mu_);
  if (sessions_.size() >= max_sessions_) return nullptr;
  do {
    sid = NewEioId();
  } while (sessions_.contains(sid));
  session = std::make_shared<EioSession>(context_, application_, sid,
                                         TokenFromRequest(request.headers, request.target),
                                         ClientAddressOf(request.remote_address, request.headers),
                                         [this](const std::string& closed_sid) {
                                           absl::MutexLock l(&mu_);
                                           sessions_.erase(closed_sid);
                                         });
  sessions_[sid] = session;
  return session;
}

std::shared_ptr<EioSession> EioServer::Find(const std::string& sid) {
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(sid);
  return it == sessions_.end() ? nullptr : it->second;
}

uint64_t EioServer::HandleHttp(const HttpRequest& request, Responder respond) {
  auto answer = [&respond](HttpResponse res) -> uint64_t {
    respond(std::move(res));
    return 0;
  };
  const absl::string_view query = QueryOf(request.target);
  if (QueryParam(query, "EIO").value_or("") != "4") {
    return answer(EngineIoError(5, "Unsupported protocol version"));
  }
  const std::string transport = QueryParam(query, "transport").value_or("");
  if (transport != "polling") return answer(EngineIoError(0, "Transport unknown"));
  const std::optional<std::string> sid = QueryParam(query, "sid");
  if (!sid.has_value()) {
    if (request.method != "GET") return answer(EngineIoError(2, "Bad handshake method"));
    std::shared_ptr<EioSession> session = NewSession(request);
    if (!session) return answer(EngineIoError(4, "Too many sessions", 503));
    session->Start();
    return answer(PollingBody(session->OpenPacket(true)));
  }
  std::shared_ptr<EioSession> session = Find(*sid);
  if (!session) return answer(EngineIoError(1, "Session ID unknown"));
  if (request.method == "GET") return session->HandleGet(std::move(respond));
  if (request.method == "POST") return answer(session->HandlePost(request.body));
  return answer(EngineIoError(2, "Bad request method", 405));
}

void EioServer::AbortPoll(const std::string& sid, uint64_t poll_id) {
  if (std::shared_ptr<EioSession> session = Find(sid)) session->AbortPoll(poll_id);
}

absl::StatusOr<std::shared_ptr<WsHandler>> EioServer::HandleUpgrade(const HttpRequest& request,
                                                                    HttpResponse* refusal) {
  const absl::string_view query = QueryOf(request.target);
  if (QueryParam(query, "EIO").value_or("") != "4") {
    *refusal = EngineIoError(5, "Unsupported protocol version");
    return absl::InvalidArgumentError("EIO");
  }
  if (QueryParam(query, "transport").value_or("") != "websocket") {
    *refusal = EngineIoError(0, "Transport unknown");
    return absl::InvalidArgumentError("transport");
  }
  const std::optional<std::string> sid = QueryParam(query, "sid");
  if (!sid.has_value()) {
    std::shared_ptr<EioSession> session = NewSession(request);
    if (!session) {
      *refusal = EngineIoError(4, "Too many sessions", 503);
      return absl::ResourceExhaustedError("sessions");
    }
    // Timers start now, so a connection that never completes its handshake is still reaped.
    session->Start();
    return session->MakeWsHandler(false);
  }
  std::shared_ptr<EioSession> session = Find(*sid);
  if (!session) {
    *refusal = EngineIoError(1, "Session ID unknown");
    return absl::NotFoundError("sid");
  }
  std::shared_ptr<WsHandler> handler = session->MakeWsHandler(true);
  if (!handler) return std::make_shared<RefusingWsHandler>("the session already has a websocket");
  return handler;
}

size_t EioServer::session_count() {
  absl::MutexLock lock(&mu_);
  return sessions_.size();
}

void EioServer::CloseAll(absl::string_view reason) {
  std::vector<std::shared_ptr<EioSession>> all;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [sid, session] : sessions_) all.push_back(session);
  }
  for (auto& session : all) session->Close(reason);
}

}  // namespace autosync::gateway
