// Writing a database's conversations as a replay corpus, and agent feedback as labels.
#include "export.hpp"

#include <fstream>
#include <set>

#include "handover/util/clock.hpp"

namespace handover::replay {
namespace {

using nlohmann::json;

json parse_object(const std::string& text) {
  if (text.empty()) return nullptr;
  json parsed = json::parse(text, nullptr, false);
  return parsed.is_object() ? parsed : json();
}

}  // namespace

json corpus_line(const store::ConversationRecord& conversation,
                 const std::vector<store::TurnRecord>& turns) {
  json line = {{"id", conversation.id}, {"source", "handover-db"}};
  if (!conversation.language.empty() && conversation.language != "und") {
    line["language"] = conversation.language;
  }
  const json customer = parse_object(conversation.customer_json);
  if (customer.is_object()) {
    json kept = json::object();
    if (auto t = customer.find("tier"); t != customer.end() && t->is_string()) kept["tier"] = *t;
    if (auto v = customer.find("lifetime_value"); v != customer.end() && v->is_number()) {
      kept["lifetime_value"] = *v;
    }
    if (!kept.empty()) line["customer"] = std::move(kept);
  }
  json list = json::array();
  for (const auto& turn : turns) {
    json item = {
        {"role", turn.role}, {"text", turn.text}, {"at", format_rfc3339_ms(turn.created_at_ms)}};
    if (json bot = parse_object(turn.bot_json); bot.is_object()) item["bot"] = std::move(bot);
    if (json meta = parse_object(turn.metadata_json); meta.is_object()) {
      item["metadata"] = std::move(meta);
    }
    list.push_back(std::move(item));
  }
  line["turns"] = std::move(list);
  return line;
}

json label_line(const store::FeedbackRecord& f) {
  const bool needs_human = f.justified == "yes" || f.justified == "too_late";
  json line = {{"id", f.conversation_id},
               {"needs_human", needs_human},
               {"turn", f.justified == "yes" ? f.escalated_turn : 0},
               {"feedback", f.justified},
               {"escalated_turn", f.escalated_turn},
               {"rule", f.rule},
               {"agent_id", f.agent_id},
               {"resolved_at", format_rfc3339_ms(f.resolved_at_ms)}};
  if (!f.reason_code.empty()) line["reason"] = f.reason_code;
  return line;
}

int run_export(const Options& o, std::ostream& out, std::ostream& err) {
  const std::string& path = o.export_db.empty() ? o.export_feedback : o.export_db;
  auto db = store::DatabaseExport::open(path);
  if (!db) {
    err << "handover-replay: " << db.status().message() << "\n";
    return 1;
  }
  std::ofstream file;
  if (o.out != "-") {
    file.open(o.out, std::ios::binary | std::ios::trunc);
    if (!file) {
      err << "handover-replay: " << o.out << ": cannot write\n";
      return 1;
    }
  }
  std::ostream& sink = o.out == "-" ? out : file;
  std::size_t lines = 0;
  Status status = Status::ok();
  if (!o.export_db.empty()) {
    status = (*db)->for_each_conversation([&](const auto& conversation, const auto& turns) {
      sink << corpus_line(conversation, turns).dump(-1, ' ', false, json::error_handler_t::replace)
           << '\n';
      ++lines;
      return Status::ok();
    });
  } else {
    auto feedback = (*db)->feedback();
    if (!feedback) status = feedback.status();
    // The first handover of a conversation is the one a replay reproduces.
    std::set<std::string> seen;
    for (const auto& f : feedback ? *feedback : std::vector<store::FeedbackRecord>{}) {
      if (!seen.insert(f.conversation_id).second) continue;
      sink << label_line(f).dump() << '\n';
      ++lines;
    }
  }
  sink.flush();
  if (!status.is_ok() || !sink) {
    err << "handover-replay: " << (status.is_ok() ? "cannot write the export" : status.message())
        << "\n";
    return 1;
  }
  err << "handover-replay: exported " << lines
      << (o.export_db.empty() ? " labels" : " conversations") << " from " << path << "\n";
  return 0;
}

}  // namespace handover::replay
