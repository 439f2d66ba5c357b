// The agent service's WebSocket half: authentication of the upgrade, sessions with their
// resumable event stream (seq = store event id), and the client frames of protocol v1.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "frames.hpp"
#include "handover/agents/agent_service.hpp"
#include "handover/util/clock.hpp"
#include "handover/util/crypto.hpp"
#include "service_impl.hpp"

namespace handover::agents {
namespace {

using nlohmann::json;

constexpr std::size_t kPage = 1000;
// Events of a replay queued at once: well under websocket.max_queued_messages (1024 by
// default), so a resume never overflows the connection's send queue.
constexpr std::size_t kReplayPart = 100;
constexpr std::size_t kMaxPending = 4096;  // events held for a session before it goes live

// Audit actions of what agents are sent without asking (docs/privacy.md, "Access audit").
constexpr const char* kAuditOffer = "offer.sent";
constexpr const char* kAuditCaughtUp = "turns.caught_up";
constexpr const char* kAuditRelayed = "turns.relayed";
constexpr const char* kAuditReplayed = "events.replayed";

// True for an agent.turn event of an assignment's catch-up. turn_event() writes its data with
// nlohmann's sorted members, so the flag comes first; a relayed turn is not parsed for it.
bool is_catch_up(const store::EventRecord& event) {
  return event.data_json.starts_with(R"({"catch_up":true)");
}

// True for an offer event whose transfer carries the note of the agent who handed it on.
bool offer_has_note(const store::EventRecord& offer) {
  if (offer.data_json.find(R"("transfer")") == std::string::npos) return false;
  const json data = json::parse(offer.data_json, nullptr, false);
  if (!data.is_object()) return false;
  const auto transfer = data.find("transfer");
  if (transfer == data.end() || !transfer->is_object()) return false;
  const auto note = transfer->find("note");
  return note != transfer->end() && note->is_string() &&
         !note->get_ref<const std::string&>().empty();
}

// An offer event as a replay sends it once the offer has ended and its conversation is not
// the agent's: the transfer note blanked (the frame's snapshot is left null by the caller).
store::EventRecord without_texts(const store::EventRecord& offer) {
  store::EventRecord bare = offer;
  json data = json::parse(offer.data_json, nullptr, false);
  if (!data.is_object()) return bare;
  auto transfer = data.find("transfer");
  if (transfer != data.end() && transfer->is_object() && transfer->contains("note")) {
    (*transfer)["note"] = "";
    bare.data_json = dump(data);
  }
  return bare;
}

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The value of query parameter `name` in `target`, percent-decoded; empty when absent.
std::string query_value(const std::string& target, std::string_view name) {
  const auto question = target.find('?');
  if (question == std::string::npos) return {};
  std::string_view query(target);
  query.remove_prefix(question + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query.remove_prefix(amp == std::string_view::npos ? query.size() : amp + 1);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) != name || eq == std::string_view::npos) continue;
    std::string out;
    const std::string_view raw = pair.substr(eq + 1);
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '%' && i + 2 < raw.size() && hex_value(raw[i + 1]) >= 0 &&
          hex_value(raw[i + 2]) >= 0) {
        out += static_cast<char>(hex_value(raw[i + 1]) * 16 + hex_value(raw[i + 2]));
        i += 2;
      } else {
        out += raw[i] == '+' ? ' ' : raw[i];
      }
    }
    return out;
  }
  return {};
}

// The token of an upgrade: "Authorization: Bearer <token>" or ?access_token=<token>.
std::string presented_token(const http::Request& request) {
  if (const std::string* header = request.header("authorization")) {
    constexpr std::string_view kBearer = "Bearer ";
    if (header->size() > kBearer.size() && header->compare(0, kBearer.size(), kBearer) == 0) {
      return header->substr(kBearer.size());
    }
    return {};
  }
  return query_value(request.target, "access_token");
}

}  // namespace

// ---- Delivery -----------------------------------------------------------------------------

void AgentService::Impl::send(const std::shared_ptr<http::WebSocketConnection>& connection,
                              std::shared_ptr<const std::string> frame) {
  connection->send(std::move(frame));
}

std::shared_ptr<const std::string> AgentService::Impl::snapshot_of(
    const std::string& conversation) const {
  std::lock_guard lock(conn_mu);
  auto it = snapshots.find(conversation);
  return it == snapshots.end() ? nullptr : it->second;
}

void AgentService::Impl::deliver(const std::vector<store::EventRecord>& events) {
  // Submitted before the frames go out, so the records are queued by the time the agent reads.
  std::vector<DeliveryAudit> audits;
  for (const auto& event : events) {
    if (!event.agent_id.empty() && is_agent_event(event.type)) plan_delivery_audit(event, audits);
  }
  write_delivery_audit(std::move(audits));
  for (const auto& event : events) {
    if (event.agent_id.empty() || !is_agent_event(event.type)) continue;
    const auto frame = event_frame(
        event, event.type == kEventOffer ? snapshot_of(event.conversation_id) : nullptr);
    send_event(event, frame);
    if (event.type != kEventOffer) continue;
    offers_sent.inc();
    std::lock_guard lock(conn_mu);
    auto it = escalated_at_ns.find(event.conversation_id);
    if (it != escalated_at_ns.end()) {
      escalation_to_offer.observe(static_cast<double>(steady_ns() - it->second) / 1e9);
      escalated_at_ns.erase(it);
    }
  }
}

bool AgentService::Impl::has_session_locked(const std::string& agent) const {
  return sessions_of.contains(agent);
}

void AgentService::Impl::plan_delivery_audit(const store::EventRecord& event,
                                             std::vector<DeliveryAudit>& out) {
  const std::string& conversation = event.conversation_id;
  std::lock_guard lock(conn_mu);
  if (event.type == kEventAssigned || event.type == kEventUnassigned) {
    relay_audited.erase(conversation);
    return;
  }
  if (event.type != kEventOffer && event.type != kEventTurn) return;
  // Nothing reaches an agent without a connection; a resume's replay is audited then.
  if (!has_session_locked(event.agent_id)) return;
  if (event.type == kEventOffer) {
    const json data = json::parse(event.data_json, nullptr, false);
    json offer_id = data.is_object() ? data.value("offer_id", json()) : json();
    out.push_back({event.agent_id, conversation, kAuditOffer, "offered",
                   {{"seq", event.id}, {"offer_id", std::move(offer_id)}}});
    return;
  }
  if (is_catch_up(event)) {
    // The catch-up turns of an assignment commit together: one record counts them.
    DeliveryAudit* last = out.empty() ? nullptr : &out.back();
    if (last && std::string_view(last->action) == kAuditCaughtUp &&
        last->conversation_id == conversation && last->agent == event.agent_id) {
      last->data["turns"] = last->data["turns"].get<std::int64_t>() + 1;
      return;
    }
    out.push_back({event.agent_id, conversation, kAuditCaughtUp, "assigned",
                   {{"seq", event.id}, {"turns", 1}}});
    return;
  }
  // Relayed turns are the hot path: only the first of each assignment is recorded.
  auto [it, first] = relay_audited.try_emplace(conversation, event.agent_id);
  if (!first && it->second == event.agent_id) return;
  it->second = event.agent_id;
  out.push_back({event.agent_id, conversation, kAuditRelayed, "assigned", {{"seq", event.id}}});
}

std::string AgentService::Impl::customer_of(const std::string& conversation) {
  {
    std::lock_guard lock(conn_mu);
    auto it = customers.find(conversation);
    if (it != customers.end()) return it->second;
  }
  auto record = store.get_conversation(conversation);
  return record ? record->customer_id : std::string();
}

void AgentService::Impl::write_delivery_audit(std::vector<DeliveryAudit> audits) {
  for (auto& audit : audits) {
    store::AuditRecord record;
    record.actor_kind = "agent";
    record.actor_id = std::move(audit.agent);
    record.action = audit.action;
    record.reason = audit.reason;
    record.customer_id = customer_of(audit.conversation_id);
    record.conversation_id = std::move(audit.conversation_id);
    record.data_json = dump(audit.data);
    store.append_audit(std::move(record), [this, token = track()](Result<store::AuditRecord> r) {
      if (r) return;
      store_failures.inc();
      spdlog::warn("delivery to an agent not audited: {}", r.status().message());
    });
  }
}

void AgentService::Impl::send_event(const store::EventRecord& event,
                                    const std::shared_ptr<const std::string>& frame) {
  const std::string& agent = event.agent_id;
  const std::int64_t seq = event.id;
  std::lock_guard lock(conn_mu);
  auto& newest = last_seq[agent];
  newest = std::max(newest, seq);
  if (auto stream = streams.find(agent); stream != streams.end()) stream->second.apply(event);
  auto ids = sessions_of.find(agent);
  if (ids == sessions_of.end()) return;
  for (std::uint64_t id : ids->second) {
    Session& session = sessions.at(id);
    if (!session.live) {
      if (session.pending.size() < kMaxPending) session.pending.emplace_back(seq, frame);
      continue;
    }
    if (seq <= session.last_sent) continue;
    session.last_sent = seq;
    send(session.connection, frame);
  }
}

// Reads the agent's whole stream once; from then on send_event() keeps it up to date. An
// event delivered while the read runs shows in last_seq: the read then goes on until it has
// every event delivered so far, so none is missed or applied twice.
Result<std::int64_t> AgentService::Impl::load_stream(const std::string& agent) {
  {
    std::lock_guard lock(conn_mu);
    if (streams.contains(agent)) return last_seq[agent];
  }
  AgentStream stream;
  store::EventQuery query;
  query.agent_id = agent;
  query.limit = kPage;
  for (;;) {
    auto page = store.list_events(query);
    if (!page) return page.status();
    for (const auto& event : *page) {
      if (is_agent_event(event.type)) stream.apply(event);
    }
    if (!page->empty()) query.after_id = page->back().id;
    if (page->size() == kPage) continue;
    std::lock_guard lock(conn_mu);
    auto& newest = last_seq[agent];
    if (!streams.contains(agent)) {
      if (newest > query.after_id) continue;
      streams.emplace(agent, std::move(stream));
    }
    newest = std::max(newest, query.after_id);
    return newest;
  }
}

// Replays what the session missed after `resume_after` (if given), then sends what was held
// back meanwhile, each event once and in seq order. The replay goes out in parts of
// kReplayPart events, each after the connection wrote the one before: all at once, a long one
// would overflow the connection's send queue and close it.
bool AgentService::Impl::go_live(std::uint64_t connection_id,
                                 std::optional<std::int64_t> resume_after, bool want_state) {
  bool state = false;
  {
    std::lock_guard lock(conn_mu);
    auto it = sessions.find(connection_id);
    if (it == sessions.end() || it->second.live || it->second.replaying) return false;
    // A seq above the newest stored one was handed out by another database (a reset, a
    // restore from an older backup): nothing can be replayed after it.
    state = want_state && (!resume_after || *resume_after > last_seq[it->second.agent_id]);
    if (resume_after || state) it->second.replaying = true;
    if (resume_after && !state) {
      it->second.last_sent = std::min(it->second.last_sent, *resume_after);
    }
  }
  if (state) {
    send_state(connection_id);
    finish_live(connection_id);
  } else if (resume_after) {
    replay_part(connection_id, *resume_after);
  } else {
    finish_live(connection_id);
  }
  return true;
}

// The state is taken under conn_mu together with the seq it covers; the session is not live
// yet, so every later event waits in `pending` and follows the state frame.
void AgentService::Impl::send_state(std::uint64_t connection_id) {
  std::shared_ptr<http::WebSocketConnection> connection;
  std::string agent;
  std::int64_t through = 0;
  std::vector<store::EventRecord> offers;
  std::vector<std::shared_ptr<const std::string>> offer_snapshots;
  std::vector<store::EventRecord> held;
  {
    std::lock_guard lock(conn_mu);
    auto it = sessions.find(connection_id);
    if (it == sessions.end()) return;
    Session& session = it->second;
    connection = session.connection;
    agent = session.agent_id;
    through = last_seq[agent];
    if (auto stream = streams.find(session.agent_id); stream != streams.end()) {
      offers = stream->second.open_offers();
      held = stream->second.assignments();
    }
    for (const auto& offer : offers) {
      auto snapshot = snapshots.find(offer.conversation_id);
      offer_snapshots.push_back(snapshot == snapshots.end() ? nullptr : snapshot->second);
    }
    session.last_sent = through;
  }
  // The offers carry their snapshots again: recorded like a resume's replay of them.
  std::vector<DeliveryAudit> audits;
  for (const auto& offer : offers) {
    audits.push_back(
        {agent, offer.conversation_id, kAuditReplayed, "resumed", {{"seq", offer.id}}});
  }
  write_delivery_audit(std::move(audits));
  std::vector<std::string> offer_frames;
  for (std::size_t i = 0; i < offers.size(); ++i) {
    offer_frames.push_back(*event_frame(offers[i], offer_snapshots[i]));
  }
  std::vector<std::string> assigned_frames;
  for (const auto& assignment : held) {
    assigned_frames.push_back(*event_frame(assignment, nullptr));
  }
  send(connection, state_frame(through, offer_frames, assigned_frames));
}

void AgentService::Impl::replay_part(std::uint64_t connection_id, std::int64_t after_id) {
  std::string agent;
  std::shared_ptr<http::WebSocketConnection> connection;
  {
    std::lock_guard lock(conn_mu);
    auto it = sessions.find(connection_id);
    if (it == sessions.end()) return;
    agent = it->second.agent_id;
    connection = it->second.connection;
  }
  store::EventQuery query;
  query.agent_id = agent;
  query.after_id = after_id;
  query.limit = kReplayPart;
  auto page = store.list_events(query);
  // A failed read ends the replay where it is, as before: what follows is sent live.
  if (!page) return finish_live(connection_id);
  ReplayPlan plan = plan_replay(connection_id, *page);
  write_delivery_audit(std::move(plan.audits));
  for (const auto& step : plan.steps) {
    std::shared_ptr<const std::string> frame;
    if (step.kind == ReplayStep::Kind::kWhole) frame = event_frame(*step.event, step.snapshot);
    if (step.kind == ReplayStep::Kind::kWithoutTexts) {
      frame = event_frame(without_texts(*step.event), nullptr);
    }
    std::lock_guard lock(conn_mu);
    auto it = sessions.find(connection_id);
    if (it == sessions.end()) return;
    if (step.event->id <= it->second.last_sent) continue;
    // A left-out event counts as sent: the copy held in `pending` must not follow.
    it->second.last_sent = step.event->id;
    if (frame) send(it->second.connection, std::move(frame));
  }
  if (plan.cut || page->size() < kReplayPart) return finish_live(connection_id);
  const std::int64_t next = page->back().id;
  connection->when_drained([this, connection_id, next] { replay_part(connection_id, next); });
}

ReplayPlan AgentService::Impl::plan_replay(std::uint64_t connection_id,
                                           const std::vector<store::EventRecord>& events) {
  ReplayPlan plan;
  std::lock_guard lock(conn_mu);
  auto it = sessions.find(connection_id);
  if (it == sessions.end()) return plan;
  Session& session = it->second;
  // Loaded when the connection opened; never dropped while it has a session.
  const auto stream = streams.find(session.agent_id);
  if (stream == streams.end()) {
    plan.cut = true;
    return plan;
  }
  // Up to last_seq every event went through send_event(), so the stream knows what they
  // changed; one stored after it is still on its way there and must not be judged without.
  const std::int64_t through = last_seq[session.agent_id];
  for (const auto& event : events) {
    if (!is_agent_event(event.type)) continue;
    if (event.id > through) {
      plan.cut = true;
      break;
    }
    if (event.id <= session.last_sent) continue;
    ReplayStep step = plan_replay_step_locked(stream->second, event);
    if (step.texts && session.replay_audited.insert(event.conversation_id).second) {
      plan.audits.push_back({session.agent_id, event.conversation_id, kAuditReplayed, "resumed",
                             {{"seq", event.id}}});
    }
    plan.steps.push_back(std::move(step));
  }
  return plan;
}

ReplayStep AgentService::Impl::plan_replay_step_locked(const AgentStream& stream,
                                                       const store::EventRecord& event) {
  ReplayStep step;
  step.event = &event;
  const bool own = !event.conversation_id.empty() && stream.holds(event.conversation_id);
  if (event.type == kEventTurn) {
    step.kind = own ? ReplayStep::Kind::kWhole : ReplayStep::Kind::kLeftOut;
    step.texts = own;
  } else if (event.type == kEventOffer) {
    if (!own && !stream.offer_open(event.id)) {
      step.kind = ReplayStep::Kind::kWithoutTexts;
      return step;
    }
    auto snapshot = snapshots.find(event.conversation_id);
    if (snapshot != snapshots.end()) step.snapshot = snapshot->second;
    step.texts = step.snapshot || offer_has_note(event);
  }
  return step;
}

void AgentService::Impl::finish_live(std::uint64_t connection_id) {
  std::lock_guard lock(conn_mu);
  auto it = sessions.find(connection_id);
  if (it == sessions.end()) return;
  Session& session = it->second;
  session.live = true;
  session.replaying = false;
  session.replay_audited.clear();
  for (auto& [seq, frame] : session.pending) {
    if (seq <= session.last_sent) continue;
    session.last_sent = seq;
    send(session.connection, std::move(frame));
  }
  session.pending.clear();
  if (session.hello_ref) {
    send(session.connection, ack_frame(*session.hello_ref, FrameType::kHello,
                                       {{"last_seq", session.last_sent}}));
    session.hello_ref.reset();
  }
}

std::optional<std::int64_t> AgentService::Impl::next_hold_deadline() const {
  std::lock_guard lock(conn_mu);
  std::optional<std::int64_t> next;
  for (const auto& [id, session] : sessions) {
    if (session.live || session.replaying) continue;
    next = next ? std::min(*next, session.hold_until_ms) : session.hold_until_ms;
  }
  return next;
}

void AgentService::Impl::release_expired_holds(std::int64_t now_ms) {
  std::vector<std::uint64_t> due;
  {
    std::lock_guard lock(conn_mu);
    for (auto& [id, session] : sessions) {
      if (!session.live && !session.replaying && session.hold_until_ms <= now_ms) {
        due.push_back(id);
      }
    }
  }
  for (std::uint64_t id : due) go_live(id, std::nullopt);
}

// ---- Upgrade and presence -----------------------------------------------------------------

Result<store::AgentRecord> AgentService::Impl::authenticate(const http::Request& request) const {
  const std::string token = presented_token(request);
  if (token.empty()) return Status(StatusCode::kUnauthenticated, "no agent token");
  auto agent = store.get_agent_by_token_hash(crypto::sha256_hex(token));
  if (!agent) {
    if (agent.status().code() == StatusCode::kNotFound) {
      return Status(StatusCode::kUnauthenticated, "the agent token is not valid");
    }
    return agent.status();
  }
  if (agent->disabled) {
    return Status(StatusCode::kPermissionDenied, "agent " + agent->id + " is disabled");
  }
  return agent;
}

std::optional<http::Response> AgentService::on_upgrade(const http::Request& request) {
  auto agent = impl_->authenticate(request);
  // The welcome needs the agent's stream: a store that cannot read it refuses the upgrade.
  Status status = agent.status();
  if (agent) {
    auto stream = impl_->load_stream(agent->id);
    if (stream) return std::nullopt;
    status = stream.status();
  }
  switch (status.code()) {
    case StatusCode::kUnauthenticated: {
      auto r = http::problem(401, "unauthenticated", "Unauthenticated",
                             status.message() +
                                 ": send 'Authorization: Bearer <agent token>' or "
                                 "?access_token=<agent token>");
      r.set_header("WWW-Authenticate", "Bearer");
      return r;
    }
    case StatusCode::kPermissionDenied:
      return http::problem(403, "agent-disabled", "Agent disabled", status.message());
    default: {
      auto r = http::problem(503, "unavailable", "Service unavailable", status.message());
      r.set_header("Retry-After", "1");
      return r;
    }
  }
}

void AgentService::Impl::agent_arrived(const store::AgentRecord& record) {
  with_router([&] {
    if (++open_connections[record.id] > 1) return;
    Result<routing::Effects> effects = routing::Effects{};
    const auto views = router.agents_view();
    auto known = std::find_if(views.begin(), views.end(),
                              [&](const routing::AgentView& v) { return v.id == record.id; });
    const bool resumes = known != views.end() && !known->connected &&
                         known->presence != routing::Presence::kOffline &&
                         !profile_dirty.contains(record.id);
    effects =
        resumes ? router.agent_reconnected(record.id) : router.agent_online(profile_of(record));
    profile_dirty.erase(record.id);
    if (!effects) {
      spdlog::warn("agent agent={} cannot come online: {}", record.id, effects.status().message());
      return;
    }
    spdlog::info("agent online agent={} resumed={}", record.id, resumes);
    commit_locked(std::move(*effects), nullptr);
  });
}

void AgentService::Impl::agent_left(const std::string& agent) {
  with_router([&] {
    auto it = open_connections.find(agent);
    if (it == open_connections.end() || --it->second > 0) return;
    open_connections.erase(it);
    auto effects = router.agent_disconnected(agent);
    if (!effects) return;
    spdlog::info("agent disconnected agent={}", agent);
    commit_locked(std::move(*effects), nullptr);
  });
}

void AgentService::on_open(const std::shared_ptr<http::WebSocketConnection>& connection,
                           const http::Request& request) {
  Impl& s = *impl_;
  auto agent = s.authenticate(request);
  if (!agent) {
    connection->close(1008, agent.status().message());
    return;
  }
  {
    std::lock_guard lock(s.conn_mu);
    Session& session = s.sessions[connection->id()];
    session.connection = connection;
    session.agent_id = agent->id;
    session.hold_until_ms = s.clock.now_ms() + kHelloWaitMs;
    s.sessions_of[agent->id].insert(connection->id());
  }
  // The timer releases the held events if no first frame comes.
  s.with_router([&] { s.notify_timer_locked(); });
  // Read after the session is registered: what is delivered meanwhile waits in `pending`.
  const auto last = s.load_stream(agent->id);
  if (!last) {
    s.detach(connection->id());
    spdlog::warn("agent connection refused agent={} conn={}: {}", agent->id, connection->id(),
                 last.status().message());
    connection->close(1011, "the agent's events cannot be read");
    return;
  }
  {
    std::lock_guard lock(s.conn_mu);
    s.sessions.at(connection->id()).last_sent = *last;
  }
  connection->send(welcome_frame(*agent, *last));
  spdlog::debug("agent connection open agent={} conn={} remote={}", agent->id, connection->id(),
                connection->remote());
  s.agent_arrived(*agent);
}

std::optional<std::string> AgentService::Impl::detach(std::uint64_t connection_id) {
  std::lock_guard lock(conn_mu);
  auto it = sessions.find(connection_id);
  if (it == sessions.end()) return std::nullopt;
  std::string agent = it->second.agent_id;
  sessions.erase(it);
  auto ids = sessions_of.find(agent);
  ids->second.erase(connection_id);
  if (ids->second.empty()) sessions_of.erase(ids);
  return agent;
}

void AgentService::Impl::close_session(
    const std::shared_ptr<http::WebSocketConnection>& connection, std::uint16_t code,
    const std::string& reason) {
  connection->close(code, reason);
  // A lost device never answers the close: the agent must not wait for it to leave.
  auto agent = detach(connection->id());
  if (!agent) return;
  spdlog::debug("agent connection closing agent={} conn={} code={}", *agent, connection->id(),
                code);
  agent_left(*agent);
}

void AgentService::on_close(const std::shared_ptr<http::WebSocketConnection>& connection) {
  Impl& s = *impl_;
  auto agent = s.detach(connection->id());
  if (!agent) return;  // closed by the server, which detached it then
  spdlog::debug("agent connection closed agent={} conn={}", *agent, connection->id());
  s.agent_left(*agent);
}

// ---- Frames ---------------------------------------------------------------------------------

std::optional<bool> AgentService::Impl::note_frame(std::uint64_t connection_id,
                                                   std::string& agent) {
  std::lock_guard lock(conn_mu);
  auto it = sessions.find(connection_id);
  if (it == sessions.end()) return std::nullopt;
  agent = it->second.agent_id;
  const bool first = !it->second.first_frame_seen;
  it->second.first_frame_seen = true;
  return first;
}

void AgentService::on_binary_message(
    const std::shared_ptr<http::WebSocketConnection>& connection) {
  Impl& s = *impl_;
  s.frames_in.inc();
  std::string agent;
  const std::optional<bool> first = s.note_frame(connection->id(), agent);
  if (!first) return;
  // Like any first frame but a hello with resume_after, it ends the wait for one.
  if (*first) s.go_live(connection->id(), std::nullopt);
  s.frame_errors.inc();
  connection->send(error_frame(nullptr, kBadJson,
                               "binary messages are not supported: send each frame as JSON in "
                               "a text message"));
}

void AgentService::on_message(const std::shared_ptr<http::WebSocketConnection>& connection,
                              std::string text) {
  Impl& s = *impl_;
  s.frames_in.inc();
  ParsedFrame parsed = parse_client_frame(text);
  std::string agent;
  const std::optional<bool> noted = s.note_frame(connection->id(), agent);
  if (!noted) return;
  const bool first = *noted;
  const bool hello = !parsed.error && parsed.frame.type == FrameType::kHello;
  const bool resume = first && hello;
  // False when the hello wait had already released the session: too late to replay in order.
  const bool in_time =
      first && s.go_live(connection->id(), resume ? parsed.frame.resume_after : std::nullopt,
                         resume && parsed.frame.want_state);
  if (!in_time && hello && (parsed.frame.resume_after || parsed.frame.want_state)) {
    s.frame_errors.inc();
    return connection->send(error_frame(parsed.frame.ref, "resume_too_late",
                                        "resume_after and state are honoured in the first "
                                        "frame only"));
  }
  if (parsed.error) {
    s.frame_errors.inc();
    return connection->send(
        error_frame(parsed.frame.ref, parsed.error->code, parsed.error->message));
  }
  // What the agent wrote is stored masked, like every turn; the retry of a message masks to
  // the same text and is still recognised.
  if (s.store_mask) {
    ClientFrame& frame = parsed.frame;
    if (!frame.text.empty()) frame.text = s.store_mask(frame.text);
    if (!frame.note.empty()) frame.note = s.store_mask(frame.note);
    if (!frame.feedback.note.empty()) frame.feedback.note = s.store_mask(frame.feedback.note);
  }
  s.handle_frame(connection, agent, parsed.frame);
}

void AgentService::Impl::handle_frame(const std::shared_ptr<http::WebSocketConnection>& connection,
                                      const std::string& agent, const ClientFrame& frame) {
  switch (frame.type) {
    case FrameType::kHello: {
      std::int64_t last = 0;
      {
        std::lock_guard lock(conn_mu);
        auto it = sessions.find(connection->id());
        if (it != sessions.end()) {
          // Acknowledged after the replay it asked for (finish_live()).
          if (it->second.replaying && !it->second.hello_ref) {
            it->second.hello_ref = frame.ref;
            return;
          }
          last = it->second.last_sent;
        }
      }
      return send(connection, ack_frame(frame.ref, frame.type, {{"last_seq", last}}));
    }
    case FrameType::kPing: return send(connection, ack_frame(frame.ref, frame.type));
    case FrameType::kSnapshot: {
      // Only the agent it is offered or assigned to may read it; each read is audited.
      const char* reason = nullptr;
      with_router([&] {
        auto it = assigned.find(frame.conversation_id);
        if (it != assigned.end() && it->second == agent) reason = "assigned";
        else if (router.has_open_offer(agent, frame.conversation_id)) reason = "offered";
      });
      auto snapshot = reason ? snapshot_of(frame.conversation_id) : nullptr;
      if (!snapshot) {
        frame_errors.inc();
        return send(connection, error_frame(frame.ref, routing::kNotAssigned,
                                            std::string(routing::kNotAssigned) +
                                                ": conversation " + frame.conversation_id +
                                                " is neither assigned nor offered to this agent"));
      }
      audit_snapshot_read(agent, frame.conversation_id, reason);
      return send(connection, snapshot_frame(frame.ref, frame.conversation_id, *snapshot));
    }
    case FrameType::kMessage: return handle_message(connection, agent, frame);
    default: return handle_routing_frame(connection, agent, frame);
  }
}

void AgentService::Impl::audit_snapshot_read(const std::string& agent,
                                             const std::string& conversation_id,
                                             const char* reason) {
  store::AuditRecord record;
  record.actor_kind = "agent";
  record.actor_id = agent;
  record.action = "snapshot.read";
  record.reason = reason;
  record.conversation_id = conversation_id;
  record.customer_id = customer_of(conversation_id);
  store.append_audit(std::move(record), [this, token = track()](Result<store::AuditRecord> r) {
    if (r) return;
    store_failures.inc();
    spdlog::warn("snapshot read not audited: {}", r.status().message());
  });
}

void AgentService::Impl::handle_routing_frame(
    const std::shared_ptr<http::WebSocketConnection>& connection, const std::string& agent,
    const ClientFrame& frame) {
  with_router([&] {
    Result<routing::Effects> effects = routing::Effects{};
    switch (frame.type) {
      case FrameType::kPresence: effects = router.set_presence(agent, frame.presence); break;
      case FrameType::kAccept:
        effects = router.accept(agent, frame.conversation_id, frame.offer_id);
        break;
      case FrameType::kDecline:
        effects = router.decline(agent, frame.conversation_id, frame.offer_id, frame.reason);
        break;
      case FrameType::kClaim: effects = router.claim(agent, frame.conversation_id); break;
      case FrameType::kTransfer:
        effects = router.transfer(agent, frame.conversation_id, frame.target, frame.note);
        break;
      case FrameType::kReturnToBot:
        effects = router.return_to_bot(agent, frame.conversation_id, frame.note);
        break;
      case FrameType::kResolve:
        effects = router.resolve(agent, frame.conversation_id, frame.feedback);
        break;
      default: return;
    }
    if (!effects) {
      frame_errors.inc();
      return send(connection, error_frame(frame.ref, error_code_of(effects.status()),
                                          effects.status().message()));
    }
    spdlog::debug("agent frame agent={} type={} conv={}", agent, to_string(frame.type),
                  frame.conversation_id);
    json extra = json::object();
    if (!frame.conversation_id.empty()) extra["conversation_id"] = frame.conversation_id;
    auto ack = ack_frame(frame.ref, frame.type, std::move(extra));
    json ref = frame.ref;
    commit_locked(std::move(*effects), [this, connection, ack, ref](const Status& status) {
      if (status.is_ok()) return send(connection, ack);
      send(connection, error_frame(ref, error_code_of(status), status.message()));
    });
  });
}

void AgentService::Impl::handle_message(
    const std::shared_ptr<http::WebSocketConnection>& connection, const std::string& agent,
    const ClientFrame& frame) {
  store::AppendTurnRequest request;
  request.turn.conversation_id = frame.conversation_id;
  request.turn.role = "agent";
  request.turn.text = frame.text;
  request.turn.client_turn_id = frame.client_turn_id;
  request.turn.metadata_json = dump(json{{"agent_id", agent}});
  request.turn.content_hash =
      crypto::sha256_hex(dump(json{{"role", "agent"}, {"agent", agent}, {"text", frame.text}}));
  request.expected_state = kStateAgent;
  const json ref = frame.ref;
  with_router([&] {
    auto it = assigned.find(frame.conversation_id);
    if (it == assigned.end() || it->second != agent) {
      frame_errors.inc();
      return send(connection, error_frame(ref, routing::kNotAssigned,
                                          std::string(routing::kNotAssigned) + ": conversation " +
                                              frame.conversation_id +
                                              " is not assigned to this agent"));
    }
    // The user first reads who joined (set_join_notices()); the timer ends a long wait.
    if (auto notice = join_notices.find(frame.conversation_id);
        notice != join_notices.end() && notice->second.until_ms > clock.now_ms()) {
      notice->second.messages.push_back({connection, agent, frame});
      notify_timer_locked();
      return;
    }
    // Submitted under the lock, so it lands before any later transition of the conversation.
    store.append_turn(std::move(request), [this, connection, ref, token = track()](
                                              Result<store::AppendTurnOutcome> outcome) {
      if (!outcome) {
        frame_errors.inc();
        const bool state = outcome.status().code() == StatusCode::kConflict;
        return send(connection,
                    error_frame(ref, state ? "conflict" : error_code_of(outcome.status()),
                                outcome.status().message()));
      }
      send(connection, ack_frame(ref, FrameType::kMessage,
                                 {{"conversation_id", outcome->turn.conversation_id},
                                  {"turn", turn_json(outcome->turn)},
                                  {"replayed", outcome->kind == store::AppendKind::kReplayed}}));
    });
  });
}

// ---- Admin changes --------------------------------------------------------------------------

void AgentService::on_agent_updated(const store::AgentRecord& before,
                                    const store::AgentRecord& after) {
  Impl& s = *impl_;
  const bool cut_off = after.disabled || before.token_hash != after.token_hash;
  if (cut_off) {
    std::vector<std::shared_ptr<http::WebSocketConnection>> connections;
    {
      std::lock_guard lock(s.conn_mu);
      auto ids = s.sessions_of.find(after.id);
      if (ids != s.sessions_of.end()) {
        for (auto id : ids->second) connections.push_back(s.sessions.at(id).connection);
      }
    }
    const char* reason = after.disabled ? "agent disabled" : "agent token rotated";
    for (auto& connection : connections) s.close_session(connection, 1008, reason);
  }
  s.with_router([&] {
    if (after.disabled) {
      // A disabled agent keeps nothing: its offers and conversations go back at once.
      s.profile_dirty.insert(after.id);
      auto effects = s.router.set_presence(after.id, routing::Presence::kOffline);
      if (effects) s.commit_locked(std::move(*effects), nullptr);
      return;
    }
    const bool online = s.open_connections.contains(after.id);
    if (!online || cut_off) {
      s.profile_dirty.insert(after.id);
      return;
    }
    auto effects = s.router.agent_online(profile_of(after));
    if (!effects) {
      spdlog::warn("agent agent={} profile refused: {}", after.id, effects.status().message());
      return;
    }
    s.commit_locked(std::move(*effects), nullptr);
    s.send_profile(after);
  });
}

void AgentService::Impl::send_profile(const store::AgentRecord& agent) {
  const auto frame = profile_frame(agent);
  std::lock_guard lock(conn_mu);
  auto ids = sessions_of.find(agent.id);
  if (ids == sessions_of.end()) return;
  for (std::uint64_t id : ids->second) send(sessions.at(id).connection, frame);
}

}  // namespace handover::agents
