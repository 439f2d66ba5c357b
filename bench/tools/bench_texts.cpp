// bench_texts: the turn texts every benchmark uses, taken from the shared public data: English
// customer requests (bitext-customer-support, the `instruction` column) and German tweets
// (sb10k-de, the `text` column), spread evenly over each file, one text per line.
//
// Usage: bench_texts DATA_DIR OUT ENGLISH GERMAN
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

// Splits RFC 4180 CSV text into records of fields (quoted fields may hold newlines).
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> records(1);
  std::string field;
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"')
        field += text[++i];
      else if (c == '"')
        quoted = false;
      else
        field += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      records.back().push_back(std::move(field));
      field.clear();
    } else if (c == '\n') {
      records.back().push_back(std::move(field));
      field.clear();
      records.emplace_back();
    } else if (c != '\r') {
      field += c;
    }
  }
  if (!field.empty()) records.back().push_back(std::move(field));
  if (records.back().empty()) records.pop_back();
  return records;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::cerr << "bench_texts: cannot read " << path << "\n";
    std::exit(1);
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// One line of text: no tabs or line breaks, trimmed.
std::string one_line(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  const auto first = s.find_first_not_of(' ');
  const auto last = s.find_last_not_of(' ');
  return first == std::string::npos ? std::string() : s.substr(first, last - first + 1);
}

// `count` of `all`, spread evenly.
std::vector<std::string> spread(const std::vector<std::string>& all, std::size_t count) {
  std::vector<std::string> picked;
  if (all.empty() || count == 0) return picked;
  for (std::size_t i = 0; i < count; ++i)
    picked.push_back(all[i * all.size() / count % all.size()]);
  return picked;
}

std::vector<std::string> english(const std::string& dir) {
  const auto records = parse_csv(read_file(dir + "/bitext-customer-support/intents_dev.csv"));
  std::vector<std::string> texts;
  for (std::size_t i = 1; i < records.size(); ++i) {  // row 0 is the header
    if (records[i].size() < 2) continue;
    if (std::string t = one_line(records[i][1]); !t.empty()) texts.push_back(std::move(t));
  }
  return texts;
}

std::vector<std::string> german(const std::string& dir) {
  std::ifstream in(dir + "/sb10k-de/sb10k_dev.tsv");
  std::vector<std::string> texts;
  std::string line;
  std::getline(in, line);  // header: tweet_id split sentiment text
  while (std::getline(in, line)) {
    std::size_t tab = 0;
    for (int column = 0; column < 3 && tab != std::string::npos; ++column) {
      tab = line.find('\t', tab == 0 && column == 0 ? 0 : tab + 1);
    }
    if (tab == std::string::npos) continue;
    if (std::string t = one_line(line.substr(tab + 1)); !t.empty()) texts.push_back(std::move(t));
  }
  return texts;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: bench_texts DATA_DIR OUT ENGLISH GERMAN\n";
    return 2;
  }
  const std::string dir = argv[1];
  const auto en = spread(english(dir), std::strtoull(argv[3], nullptr, 10));
  const auto de = spread(german(dir), std::strtoull(argv[4], nullptr, 10));
  if (en.empty()) {
    std::cerr << "bench_texts: no English texts found under " << dir << "\n";
    return 1;
  }
  std::ofstream out(argv[2]);
  // Interleaved, so any stretch of the file mixes both languages.
  for (std::size_t i = 0; i < en.size() || i < de.size(); ++i) {
    if (i < en.size()) out << en[i] << "\n";
    if (i < de.size()) out << de[i] << "\n";
  }
  std::printf("{\"english\":%zu,\"german\":%zu}\n", en.size(), de.size());
  return out ? 0 : 1;
}
