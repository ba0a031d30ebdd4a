// The include graph of the source tree against cmake/layers.txt, the allowed graph: every
// `#include "..."` of a source folder names a file of its own folder or of a folder it lists,
// every source folder is listed, the graph has no cycle, and tests/ is never included from
// the sources. (The compiler enforces the same graph's transitive closure: each folder's
// library sees only the headers of what it links, CMakeLists.txt.)
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {
namespace fs = std::filesystem;

using Graph = std::map<std::string, std::set<std::string>>;  // folder -> folders it may include

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Graph parse_graph(const std::string& text) {
  Graph graph;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    line = line.substr(0, line.find('#'));
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::istringstream names(line.substr(0, colon) + " " + line.substr(colon + 1));
    std::string folder, dep;
    names >> folder;
    auto& deps = graph[folder];
    while (names >> dep) deps.insert(dep);
  }
  return graph;
}

// Every problem of the tree under `root` (top-level source folders `tops`) against `graph`.
std::vector<std::string> check_tree(const fs::path& root, const Graph& graph, const std::vector<std::string>& tops) {
  std::vector<std::string> problems;
  const std::regex include_re(R"re(^\s*#\s*include\s*"([^"]+)")re");
  for (const auto& top : tops) {
    if (!fs::is_directory(root / top)) continue;
    for (const auto& entry : fs::recursive_directory_iterator(root / top)) {
      const auto ext = entry.path().extension();
      if (!entry.is_regular_file() || (ext != ".h" && ext != ".cpp" && ext != ".inc")) continue;
      const std::string file = fs::relative(entry.path(), root).generic_string();
      const std::string folder = fs::path(file).parent_path().generic_string();
      const auto allowed = graph.find(folder);
      if (allowed == graph.end()) {
        problems.push_back(file + ": folder " + folder + " is not in cmake/layers.txt");
        continue;
      }
      std::istringstream lines(read(entry.path()));
      int number = 0;
      for (std::string line; std::getline(lines, line);) {
        ++number;
        std::smatch m;
        if (!std::regex_search(line, m, include_re)) continue;
        const std::string target = m[1];
        const std::string where = file + ":" + std::to_string(number) + ": #include \"" + target + "\"";
        const std::string target_folder = fs::path(target).parent_path().generic_string();
        if (!fs::exists(root / target)) {
          problems.push_back(where + ": no such file (includes name files from the repository root)");
        } else if (target_folder != folder && allowed->second.count(target_folder) == 0) {
          problems.push_back(where + ": " + folder + " may not include " + target_folder +
                             " (allowed: cmake/layers.txt)");
        }
      }
    }
  }
  return problems;
}

// Folders on a cycle of the graph (empty when it is acyclic).
std::vector<std::string> cycles(const Graph& graph) {
  std::map<std::string, int> state;  // 0 new, 1 on the path, 2 done
  std::vector<std::string> found;
  std::function<void(const std::string&)> visit = [&](const std::string& f) {
    state[f] = 1;
    const auto it = graph.find(f);
    if (it != graph.end()) {
      for (const auto& d : it->second) {
        if (state[d] == 1) found.push_back(f + " -> " + d);
        if (state[d] == 0) visit(d);
      }
    }
    state[f] = 2;
  };
  for (const auto& [f, deps] : graph) {
    if (state[f] == 0) visit(f);
  }
  return found;
}

const std::vector<std::string> kTops = {"core", "data", "models", "train"};

TEST(Layering, SourceTreeFollowsTheGraph) {
  const fs::path root = RSCLIP_SOURCE_DIR;
  const Graph graph = parse_graph(read(root / "cmake/layers.txt"));
  ASSERT_GE(graph.size(), 10u) << "cmake/layers.txt lists too few folders";
  for (const auto& [folder, deps] : graph) {
    EXPECT_TRUE(fs::is_directory(root / folder)) << "cmake/layers.txt lists " << folder << ", which does not exist";
    for (const auto& d : deps) EXPECT_TRUE(graph.count(d)) << folder << " lists " << d << ", which is not a folder";
  }
  EXPECT_TRUE(cycles(graph).empty()) << "cycle: " << cycles(graph).front();
  const auto problems = check_tree(root, graph, kTops);
  for (const auto& p : problems) ADD_FAILURE() << p;
  // models/ and data/ never meet: the model sees token ids, the tokenizer never sees a model.
  for (const auto& [folder, deps] : graph) {
    for (const auto& d : deps) {
      const bool meet = (folder.rfind("models/", 0) == 0 && d.rfind("data/", 0) == 0) ||
                        (folder.rfind("data/", 0) == 0 && d.rfind("models/", 0) == 0);
      EXPECT_FALSE(meet) << folder << " -> " << d;
      EXPECT_FALSE(folder.rfind("core/", 0) == 0 && d.rfind("core/", 0) != 0) << "core may include only core: " << d;
    }
  }
}

// The checker itself, on a tree made here: one allowed edge, one forbidden, one unknown
// folder, one include of tests/ from the sources.
TEST(Layering, CheckerReportsForbiddenIncludes) {
  const fs::path root = fs::path(RSCLIP_BINARY_DIR) / "test-tmp" / "layering-checker";
  fs::remove_all(root);
  const auto write = [&](const std::string& file, const std::string& text) {
    fs::create_directories((root / file).parent_path());
    std::ofstream(root / file) << text;
  };
  write("core/base/error.h", "#pragma once\n");
  write("data/text/tokenizer.h", "#include \"core/base/error.h\"\n");
  write("models/clip/clip.h", "#include \"core/base/error.h\"\n#include \"data/text/tokenizer.h\"\n");
  write("train/extra/x.cpp", "#include <vector>\n");
  write("data/text/t.cpp", "#include \"tests/support.h\"\n");
  write("tests/support.h", "\n");
  const Graph graph = parse_graph("core/base:\ndata/text: core/base\nmodels/clip: core/base  # comment\n");
  const auto problems = check_tree(root, graph, kTops);
  ASSERT_EQ(problems.size(), 3u) << ::testing::PrintToString(problems);
  std::string all;
  for (const auto& p : problems) all += p + "\n";
  EXPECT_NE(all.find("models/clip/clip.h:2: #include \"data/text/tokenizer.h\": models/clip may not include data/text"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("train/extra/x.cpp: folder train/extra is not in cmake/layers.txt"), std::string::npos) << all;
  EXPECT_NE(all.find("data/text/t.cpp:1: #include \"tests/support.h\": data/text may not include tests"),
            std::string::npos)
      << all;
  EXPECT_EQ(cycles(parse_graph("a: b\nb: c\nc: a\n")).size(), 1u);
  EXPECT_TRUE(cycles(graph).empty());
}

}  // namespace
