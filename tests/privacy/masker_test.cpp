// Masking tables: what each built-in detector must find, and the look-alikes (order numbers,
// dates, IBANs with bad check digits) it must leave alone, in German and English text.
#include "handover/privacy/masker.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace handover::privacy {
namespace {

struct Case {
  const char* input;
  const char* stored;  // under the default store policy
};

std::shared_ptr<const Masker> default_masker() {
  Result<std::shared_ptr<const Masker>> masker = Masker::create(PrivacyConfig());
  EXPECT_TRUE(masker.is_ok());
  return *masker;
}

void expect_table(const std::vector<Case>& cases, Destination destination) {
  auto masker = default_masker();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.input);
    EXPECT_EQ(masker->mask(c.input, destination).text, c.stored);
  }
}

TEST(MaskerTest, MasksEmailAddresses) {
  expect_table(
      {
          {"Meine E-Mail ist erika.mustermann@example.de, danke",
           "Meine E-Mail ist [email], danke"},
          {"Write to john.doe+support@mail.example.co.uk.", "Write to [email]."},
          {"<max_99@firma-gmbh.de>", "<[email]>"},
          {"Zwei: a@b.de und c.d@e-f.com", "Zwei: [email] und [email]"},
          // Addresses with letters beyond ASCII (RFC 6531) are masked whole.
          {"Mail an jürgen.schmidt@gmx.de bitte", "Mail an [email] bitte"},
          {"björn@web.de", "[email]"},
          {"zoë.lefèvre@orange.fr!", "[email]!"},
          {"info@bäckerei-müller.de, danke", "[email], danke"},
          {"x δοκιμή@παράδειγμα.δοκιμή", "x [email]"},
          {"u 用户@例子.广告", "u [email]"},
          // Punctuation beyond ASCII borders an address.
          {"„max@example.de“ oder «anna@example.ch»", "„[email]“ oder «[email]»"},
          {"Adresse: ärger…max@example.de", "Adresse: ärger…[email]"},
      },
      Destination::kStore);
}

TEST(MaskerTest, MasksGermanAndInternationalPhoneNumbers) {
  expect_table(
      {
          {"Ruf mich an: +49 30 1234567", "Ruf mich an: [phone]"},
          {"Tel. 030 1234567 oder 0171/1234567", "Tel. [phone] oder [phone]"},
          {"Festnetz +49 (0)30 1234 5678.", "Festnetz [phone]."},
          {"Büro (030) 123 456 78", "Büro [phone]"},
          {"Mobil 0151-23456789, abends", "Mobil [phone], abends"},
          {"aus Österreich 0043 664 1234567", "aus Österreich [phone]"},
          {"call me at +1 (415) 555-2671 tomorrow", "call me at [phone] tomorrow"},
          {"UK office +44 20 7946 0958", "UK office [phone]"},
          // Mobile numbers as people type them in a chat, without separators.
          {"Meine Nummer ist 01711234567", "Meine Nummer ist [phone]"},
          {"015112345678, danke", "[phone], danke"},
          {"ruf 0160 an? nein: 0160123456", "ruf 0160 an? nein: [phone]"},
      },
      Destination::kStore);
}

TEST(MaskerTest, MasksChecksummedIbansWithTheirLastFourCharacters) {
  expect_table(
      {
          {"IBAN DE89 3704 0044 0532 0130 00 bitte", "IBAN [iban:…3000] bitte"},
          {"my iban is GB82WEST12345698765432.", "my iban is [iban:…5432]."},
          {"Konto AT61 1904 3002 3457 3201", "Konto [iban:…3201]"},
          {"CH9300762011623852957 (Schweiz)", "[iban:…2957] (Schweiz)"},
          {"fr1420041010050500013m02606", "[iban:…2606]"},
      },
      Destination::kStore);
}

TEST(MaskerTest, MasksLuhnValidCardNumbersWithTheirLastFourDigits) {
  expect_table(
      {
          {"Karte 4111 1111 1111 1111 läuft ab", "Karte [card:…1111] läuft ab"},
          {"card 5500-0000-0000-0004 please", "card [card:…0004] please"},
          {"amex 378282246310005", "amex [card:…0005]"},
          {"Mastercard 2223003122003222!", "Mastercard [card:…3222]!"},
      },
      Destination::kStore);
}

TEST(MaskerTest, LeavesLookAlikesAlone) {
  const std::vector<Case> cases = {
      {"Bestellnummer 4711-0815-2024", ""},
      {"Order 4000123456789011 shipped", ""},    // 16 digits, Luhn fails
      {"IBAN DE89 3704 0044 0532 0130 01", ""},  // one digit off: bad check digits
      {"GB82WEST12345698765433", ""},
      {"Datum 01.02.2024 um 14:30 Uhr", ""},
      {"geliefert am 01/02/2024", ""},
      {"delivery on 2024-01-15, 9:00-17:00", ""},
      {"Termin 01-02-2024", ""},
      {"PLZ 01067 Dresden", ""},
      {"Ticket #0301234567 offen", ""},
      {"Auftrag 0171234567890 offen", ""},  // 13 digits: no mobile number
      {"Lieferschein 0180123456", ""},       // 018x is no mobile prefix
      {"Version 1.2.3, Preis 19,99 EUR", ""},
      {"Kundennummer 12345678", ""},
      {"Sendung 00340434161094042557", ""},
      {"Betrag +100 EUR", ""},
      {"mail an admin@localhost", ""},
      {"@mention and user@ and @example.com", ""},
      {"Seriennummer 4111111111111111111111", ""},  // 22 digits: no card
  };
  auto masker = default_masker();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.input);
    Masked masked = masker->mask(c.input, Destination::kStore);
    EXPECT_EQ(masked.text, c.input);
    EXPECT_TRUE(masked.findings.empty());
    EXPECT_FALSE(masked.changed);
  }
}

TEST(MaskerTest, ReportsFindingsWithTheirKindsAndPositions) {
  const std::string text = "mail x@y.de, IBAN DE89370400440532013000";

  std::vector<Finding> found = default_masker()->find(text);

  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0], (Finding{"email", 5, 11}));
  EXPECT_EQ(found[1].kind, "iban");
  EXPECT_EQ(text.substr(found[1].begin, found[1].end - found[1].begin), "DE89370400440532013000");
}

TEST(MaskerTest, LaterDestinationsCanOnlyHideMore) {
  auto masker = default_masker();
  const std::string stored =
      masker->mask("Karte 4111 1111 1111 1111, Mail a@b.de", Destination::kStore).text;

  const std::string agent = masker->mask(stored, Destination::kAgent).text;
  const std::string webhook = masker->mask(stored, Destination::kWebhook).text;
  const std::string log = masker->mask(stored, Destination::kLog).text;

  EXPECT_EQ(stored, "Karte [card:…1111], Mail [email]");
  EXPECT_EQ(agent, "Karte [card:…1111], Mail [email]");
  EXPECT_EQ(webhook, "Karte [card], Mail [email]");
  EXPECT_EQ(log, "Karte [card], Mail [email]");
}

TEST(MaskerTest, FollowsConfiguredPoliciesAndCustomPatterns) {
  PrivacyConfig config;
  config.patterns.push_back({"customer_no", "KD-[0-9]{6}"});
  config.store.actions["email"] = Action::kKeep;
  config.agent.actions["email"] = Action::kPartial;
  config.agent.actions["customer_no"] = Action::kPartial;
  auto masker = Masker::create(config);
  ASSERT_TRUE(masker.is_ok()) << masker.status().to_string();
  const std::string text = "Ich bin KD-123456, erika@example.de";

  const std::string stored = (*masker)->mask(text, Destination::kStore).text;
  const std::string agent = (*masker)->mask(text, Destination::kAgent).text;

  EXPECT_EQ(stored, "Ich bin [customer_no], erika@example.de");
  EXPECT_EQ(agent, "Ich bin [customer_no:…3456], [email:…@example.de]");
}

TEST(MaskerTest, FindsCustomPatternsOnEveryLineOfALongText) {
  PrivacyConfig config;
  config.patterns.push_back({"ticket", "TK-[0-9]{4}"});
  auto masker = Masker::create(config);
  ASSERT_TRUE(masker.is_ok());
  std::string text;
  for (int i = 0; i < 400; ++i) text += "Zeile " + std::to_string(i) + " mit TK-4711 und Text\n";

  Masked masked = (*masker)->mask(text, Destination::kStore);

  EXPECT_EQ(masked.findings.size(), 400u);
  EXPECT_EQ(masked.text.find("TK-4711"), std::string::npos);
}

TEST(MaskerTest, MasksEveryStringInsideJson) {
  auto value = nlohmann::json::parse(
      R"({"note":"Tel +49 30 1234567","items":[{"mail":"a@b.de"},42],"mail@key.de":true})");

  const bool changed = default_masker()->mask_json(value, Destination::kStore);

  EXPECT_TRUE(changed);
  EXPECT_EQ(value["note"], "Tel [phone]");
  EXPECT_EQ(value["items"][0]["mail"], "[email]");
  EXPECT_EQ(value["items"][1], 42);
  // Member names are masked too; two that mask alike both keep their values.
  EXPECT_FALSE(value.contains("mail@key.de"));
  EXPECT_EQ(value["[email]"], true);
  auto twins = nlohmann::json::parse(R"({"a@b.de":1,"c@d.de":{"+49 30 7654321":"x"}})");
  EXPECT_TRUE(default_masker()->mask_json(twins, Destination::kStore));
  EXPECT_EQ(twins, nlohmann::json::parse(R"j({"[email]":1,"[email] (2)":{"[phone]":"x"}})j"));
  // Without anything to mask, nothing changes.
  auto plain = nlohmann::json::parse(R"({"order_value":12.5,"page":{"path":"/help"}})");
  EXPECT_FALSE(default_masker()->mask_json(plain, Destination::kStore));
  EXPECT_EQ(plain["page"]["path"], "/help");
}

TEST(MaskerTest, LogSafeMasksEverythingAndEscapesControlCharacters) {
  const std::string line = log_safe("Hallo\nIBAN DE89370400440532013000 von a@b.de");

  EXPECT_EQ(line, "Hallo\\nIBAN [iban] von [email]");
}

}  // namespace
}  // namespace handover::privacy
