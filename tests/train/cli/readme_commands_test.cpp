// The README cannot rot: every `rsclip` command in its fenced blocks names a subcommand and
// options that `rsclip <subcommand> --help` lists, every scripts/ and configs/ path it
// mentions exists, every training config it names loads (`--print-config`), and the
// open_clip_train table maps real flags to real keys.
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "tests/reference/test_support.h"

namespace rsclip {
namespace {
namespace fs = std::filesystem;

// Shell words of one command line (quotes removed; enough for the README's commands).
std::vector<std::string> words(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  char quote = 0;
  bool in_word = false;
  for (char c : line) {
    if (quote) {
      if (c == quote)
        quote = 0;
      else
        cur += c;
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == ' ' || c == '\t') {
      if (in_word) out.push_back(cur), cur.clear(), in_word = false;
    } else {
      cur += c;
      in_word = true;
    }
  }
  if (in_word) out.push_back(cur);
  return out;
}

// The commands of the README's fenced code blocks, continuation lines joined.
std::vector<std::string> readme_commands() {
  std::ifstream in(testing::source_dir() / "README.md");
  std::vector<std::string> out;
  std::string line, pending;
  bool fenced = false;
  while (std::getline(in, line)) {
    if (line.rfind("```", 0) == 0) {
      fenced = !fenced;
      continue;
    }
    if (!fenced) continue;
    if (const auto hash = line.find(" #"); hash != std::string::npos) line.erase(hash);
    if (!line.empty() && line.back() == '\\') {
      pending += line.substr(0, line.size() - 1) + " ";
      continue;
    }
    out.push_back(pending + line);
    pending.clear();
  }
  return out;
}

TEST(Readme, CommandsMatchTheCli) {
  const auto commands = readme_commands();
  ASSERT_GT(commands.size(), 10u);
  int checked = 0;
  for (const auto& command : commands) {
    const auto w = words(command);
    for (const auto& word : w) {
      if (word.rfind("scripts/", 0) == 0 || (word.rfind("configs/", 0) == 0 && word.find('{') == std::string::npos)) {
        EXPECT_TRUE(fs::exists(testing::source_dir() / word)) << word << " in: " << command;
      }
    }
    auto at =
        std::find_if(w.begin(), w.end(), [](const std::string& s) { return s == "build/rsclip" || s == "rsclip"; });
    if (at == w.end() || at + 1 == w.end()) continue;
    std::vector<std::string> sub = {*(at + 1)};
    if (sub[0] == "bench" && at + 2 != w.end()) sub.push_back(*(at + 2));
    auto help_args = sub;
    help_args.push_back("--help");
    const auto help = testing::run_rsclip(help_args);
    ASSERT_EQ(help.exit_code, 0) << "README command uses an unknown subcommand: " << command << "\n" << help.output;
    for (auto it = at + 1; it != w.end(); ++it) {
      if (it->rfind("--", 0) != 0) continue;
      const std::string option = it->substr(0, it->find('='));
      const std::regex listed(std::regex_replace(option, std::regex("-"), "\\-") + "([^a-z\\-]|$)");
      EXPECT_TRUE(std::regex_search(help.output, listed))
          << option << " is not an option of rsclip " << sub[0] << "; README command: " << command;
    }
    // Training configs named by the README load as written.
    if (sub[0] == "train") {
      const auto config = std::find(w.begin(), w.end(), "--config");
      ASSERT_NE(config, w.end()) << command;
      const auto r = testing::run_rsclip(
          {"train", "--config", (testing::source_dir() / *(config + 1)).string(), "--print-config"});
      EXPECT_EQ(r.exit_code, 0) << command << "\n" << r.output;
    }
    ++checked;
  }
  EXPECT_GE(checked, 10);
}

// "Coming from open_clip_train": every flag of the left column is one of open_clip_train's
// (its argparse, from .venv), and every `key: value` of the right column is a config key
// rsclip accepts with that value (`--set key=value --print-config` on the tiny preset).
TEST(Readme, OpenClipTrainTableMapsToRsclipKeys) {
  std::ifstream in(testing::source_dir() / "README.md");
  std::string line;
  bool in_section = false;
  std::vector<std::string> flags, sets;
  const std::regex span("`([^`]*)`"), flag("--[a-z0-9-]+");
  const std::regex key_value("^([a-z_]+(\\.[a-z_0-9]+)*): (.+)$");
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) in_section = line == "## Coming from open_clip_train";
    if (!in_section || line.rfind("| `", 0) != 0) continue;
    const auto bar = line.find(" | ", 2);
    ASSERT_NE(bar, std::string::npos) << line;
    const std::string left = line.substr(0, bar), right = line.substr(bar);
    for (std::sregex_iterator it(left.begin(), left.end(), span), end; it != end; ++it) {
      const std::string code = (*it)[1];
      for (std::sregex_iterator f(code.begin(), code.end(), flag); f != end; ++f) {
        flags.push_back(f->str());
      }
    }
    for (std::sregex_iterator it(right.begin(), right.end(), span), end; it != end; ++it) {
      std::smatch m;
      const std::string code = (*it)[1];
      if (std::regex_match(code, m, key_value)) sets.push_back(m[1].str() + "=" + m[3].str());
    }
  }
  ASSERT_GE(flags.size(), 30u) << "the table was not found";
  ASSERT_GE(sets.size(), 30u);
  std::vector<std::string> args = {"train", "--config",
                                   (testing::source_dir() / "configs/train/tiny_cpu.yaml").string(), "--print-config"};
  for (const auto& s : sets) args.insert(args.end(), {"--set", s});
  const auto r = testing::run_rsclip(args);
  EXPECT_EQ(r.exit_code, 0) << r.output;  // unknown keys and bad values are errors
  if (!fs::exists(testing::source_dir() / ".venv/bin/python"))
    GTEST_SKIP() << "no .venv: open_clip_train not available";
  const auto help = testing::run_command(testing::shell_quote((testing::source_dir() / ".venv/bin/python").string()) +
                                         " -m open_clip_train.main --help");
  for (const auto& f : flags) {
    EXPECT_TRUE(std::regex_search(help.output, std::regex(f + "([^a-z0-9-]|$)")))
        << f << " is not an open_clip_train flag";
  }
}

// Every shipped training preset loads and validates.
TEST(Readme, EveryTrainingPresetLoads) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(testing::source_dir() / "configs/train")) {
    const auto r = testing::run_rsclip({"train", "--config", e.path().string(), "--print-config"});
    EXPECT_EQ(r.exit_code, 0) << e.path() << "\n" << r.output;
    ++n;
  }
  EXPECT_GE(n, 5);
}

}  // namespace
}  // namespace rsclip
