// The built-in FAQ bot: answers from a YAML file of questions and answers in German and
// English (config/demo-bot.yaml), so the server shows the whole flow without an outside bot.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "handover/connector/bot.hpp"
#include "handover/util/status.hpp"

namespace handover::connector {

class FaqBot final : public Bot {
 public:
  // Loads and checks the FAQ file. InvalidArgument listing every problem as
  // "file:line:column: what (key 'entries[2].answer.de')", one per line.
  static Result<std::unique_ptr<FaqBot>> load(const std::string& path);

  ~FaqBot() override;

  // The best answer to `text` in `language` ("de" or "en"; anything else is guessed from the
  // text's function words, else English). Its confidence is the TF-IDF cosine similarity
  // (0..1) between the text and the closest known question; below the file's threshold the
  // answer is the fallback text with fallback set and no intent. Pure; thread-safe.
  BotReply answer(std::string_view text, std::string_view language) const;

  // Answers at once, on the calling thread, with one reply, and a second that offers a
  // person when the question says the triggers suggest one.
  void ask(BotQuestion question, BotCallback done) override;
  // That offer in `language` ("de..." German, else English).
  static BotReply handover_offer(std::string_view language);

  std::size_t entry_count() const;
  double threshold() const;

  struct Data;

 private:
  explicit FaqBot(std::unique_ptr<Data> data);
  std::unique_ptr<Data> data_;
};

// Lower-case tokens of `text` as the FAQ bot matches them: split at anything but letters and
// digits, umlauts and sharp s spelled out (ä -> ae, ß -> ss), common German and English
// endings stripped ("Bestellungen" -> "bestellung", "orders" -> "order"). Stop words are
// not removed here.
std::vector<std::string> faq_tokens(std::string_view text);

}  // namespace handover::connector
