// The message catalog: the shipped file, rendering in both languages, and its diagnostics.
#include <gtest/gtest.h>

#include "handover/messages/catalog.hpp"

namespace handover::messages {
namespace {

const std::string kShipped = std::string(HANDOVER_SOURCE_DIR) + "/config/messages.yaml";

TEST(CatalogTest, TheShippedFileLoadsAndIsTheBuiltInCatalog) {
  auto shipped = Catalog::load(kShipped);
  ASSERT_TRUE(shipped.is_ok()) << shipped.status().to_string();
  for (const char* key : kKeys) {
    for (const char* language : {"de", "en"}) {
      EXPECT_EQ(shipped->render(key, language), Catalog::built_in().render(key, language)) << key;
      EXPECT_NE(shipped->render(key, language), key) << key << " has no " << language << " text";
    }
  }
}

TEST(CatalogTest, RendersPlaceholdersInTheConversationsLanguage) {
  const Catalog& c = Catalog::built_in();
  const Params params = {{"agent", "Mia"}};
  EXPECT_EQ(c.render("agent.joined", "de", params),
            "Mia ist jetzt für Sie da und hat den bisherigen Verlauf vor sich.");
  EXPECT_EQ(c.render("agent.joined", "de-CH", params), c.render("agent.joined", "de", params));
  EXPECT_EQ(c.render("agent.joined", "en", params),
            "Mia is here for you now and can see our conversation so far.");
  EXPECT_EQ(c.render("agent.joined", "fr", params), c.render("agent.joined", "en", params));
  EXPECT_EQ(c.render("agent.joined", "und", params), c.render("agent.joined", "en", params));
  EXPECT_EQ(c.render("no.such.key", "de"), "no.such.key");
}

TEST(CatalogTest, AnEmptyNoticeLeavesNoTrailingSpace) {
  const Catalog& c = Catalog::built_in();
  const std::string text = c.render(
      "handover.announce", "en", {{"position", "3"}, {"wait", "about 2 minutes"}, {"notice", ""}});
  EXPECT_EQ(text,
            "I'm getting a colleague to help you now. You are number 3 in the queue; estimated "
            "wait: about 2 minutes.");
}

TEST(CatalogTest, WaitTextsRoundToWholeMinutes) {
  const Catalog& c = Catalog::built_in();
  EXPECT_EQ(c.wait_text(-1, "de"), "noch unbekannt");
  EXPECT_EQ(c.wait_text(0, "de"), "weniger als eine Minute");
  EXPECT_EQ(c.wait_text(59, "en"), "less than a minute");
  EXPECT_EQ(c.wait_text(60, "de"), "etwa eine Minute");
  EXPECT_EQ(c.wait_text(89, "en"), "about a minute");
  EXPECT_EQ(c.wait_text(90, "en"), "about 2 minutes");
  EXPECT_EQ(c.wait_text(600, "de"), "etwa 10 Minuten");
}

std::string full_catalog_except(const std::string& skipped_key, const std::string& extra = "") {
  std::string yaml = "default_language: en\nlanguages: [de, en]\nmessages:\n";
  for (const char* key : kKeys) {
    if (key == skipped_key) continue;
    yaml += std::string("  ") + key + ":\n    de: \"x\"\n    en: \"y\"\n";
  }
  return yaml + extra;
}

TEST(CatalogTest, ReportsMissingUnknownAndMalformedEntriesWithPositions) {
  auto missing = parse_catalog(full_catalog_except("agent.joined"), "m.yaml");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("message 'agent.joined' is missing"),
            std::string::npos);

  auto unknown = parse_catalog(full_catalog_except("", "  agent.jioned:\n    de: a\n    en: b\n"),
                               "m.yaml");
  ASSERT_FALSE(unknown.is_ok());
  EXPECT_NE(unknown.status().message().find("unknown message key 'agent.jioned'"),
            std::string::npos);
  EXPECT_NE(unknown.status().message().find("m.yaml:"), std::string::npos);

  std::string bad = full_catalog_except("rating.thanks",
                                        "  rating.thanks:\n    de: \"Danke {name}\"\n    en: x\n");
  auto placeholder = parse_catalog(bad, "m.yaml");
  ASSERT_FALSE(placeholder.is_ok());
  EXPECT_NE(placeholder.status().message().find("unknown placeholder {name}"), std::string::npos);

  std::string no_english =
      full_catalog_except("rating.thanks", "  rating.thanks:\n    de: \"Danke\"\n");
  auto language = parse_catalog(no_english, "m.yaml");
  ASSERT_FALSE(language.is_ok());
  EXPECT_NE(language.status().message().find("rating.thanks.en"), std::string::npos)
      << language.status().message();

  auto broken = parse_catalog("messages: [", "m.yaml");
  EXPECT_FALSE(broken.is_ok());
  EXPECT_FALSE(Catalog::load("/nonexistent/messages.yaml").is_ok());
}

}  // namespace
}  // namespace handover::messages
