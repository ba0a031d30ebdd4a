#include "data/eval/eval_datasets.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "core/base/log.h"
#include "data/eval/csv_reader.h"

namespace rsclip::data {
namespace fs = std::filesystem;
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::vector<std::string> read_lines(const fs::path& path, const std::string& encoding) {
  std::istringstream in(to_utf8(read_file(path), encoding, path.string()));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

fs::path root_for(const fs::path& list_file, const RetrievalOptions& opt) {
  return opt.image_root.empty() ? list_file.parent_path() : opt.image_root;
}

}  // namespace

bool is_image_file(const fs::path& p) {
  static const std::set<std::string> exts = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"};
  return exts.count(lower(p.extension().string())) > 0;
}

namespace {

// The image files under `dir`, recursively, sorted by path. Netpbm files, which torchvision's
// ImageFolder also lists but rsclip's decoder does not read, are left out and said so.
std::vector<fs::path> image_files_under(const fs::path& dir) {
  std::vector<fs::path> files;
  std::size_t netpbm = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    if (is_image_file(entry.path())) {
      files.push_back(entry.path());
    } else if (const auto ext = lower(entry.path().extension().string()); ext == ".ppm" || ext == ".pgm") {
      ++netpbm;
    }
  }
  if (netpbm > 0) {
    log::warn("{}: {} .ppm/.pgm file(s) left out (not a format rsclip decodes; convert them to PNG)", dir.string(),
              netpbm);
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

std::vector<fs::path> list_image_files(const fs::path& root) {
  if (!fs::is_directory(root)) throw Error("not a directory", root.string());
  auto files = image_files_under(root);
  if (files.empty()) throw Error("no image files", root.string(), "looked for .jpg .jpeg .png .bmp .tif .tiff .webp");
  return files;
}

ClassificationSet read_image_folder(const fs::path& root) {
  if (!fs::is_directory(root)) {
    throw Error("not a directory", root.string(), "an ImageFolder is ROOT/<class name>/<image files>");
  }
  ClassificationSet set;
  set.name = root.filename().empty() ? root.parent_path().filename().string() : root.filename().string();
  for (const auto& entry : fs::directory_iterator(root)) {
    if (entry.is_directory()) set.folders.push_back(entry.path().filename().string());
  }
  std::sort(set.folders.begin(), set.folders.end());
  for (std::size_t c = 0; c < set.folders.size(); ++c) {
    std::string name = set.folders[c];
    std::replace(name.begin(), name.end(), '_', ' ');
    std::replace(name.begin(), name.end(), '/', ' ');
    set.classes.push_back(lower(name));
    for (auto& f : image_files_under(root / set.folders[c])) {
      set.images.push_back(std::move(f));
      set.labels.push_back(static_cast<int64_t>(c));
    }
  }
  if (set.folders.empty())
    throw Error("no class folders", root.string(), "an ImageFolder is ROOT/<class name>/<images>");
  if (set.images.empty()) throw Error("no image files in the class folders", root.string());
  return set;
}

RetrievalSet read_karpathy_json(const fs::path& path, const RetrievalOptions& opt) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("invalid JSON: ") + e.what(), path.string());
  }
  if (!doc.contains("images") || !doc["images"].is_array()) {
    throw Error("no \"images\" list", path.string(), "expected Karpathy-style JSON as RSICD's dataset_rsicd.json");
  }
  RetrievalSet set;
  set.name = path.stem().string();
  const fs::path root = root_for(path, opt);
  std::size_t index = 0;
  for (const auto& img : doc["images"]) {
    const std::string where = fmt::format("{}: images[{}]", path.string(), index++);
    if (!img.is_object() || !img.contains("filename") || !img["filename"].is_string()) {
      throw Error("image entry without a \"filename\" string", where);
    }
    if (!opt.split.empty() && img.value("split", std::string()) != opt.split) continue;
    fs::path file = root;
    if (img.contains("filepath") && img["filepath"].is_string()) file /= img["filepath"].get<std::string>();
    file /= img["filename"].get<std::string>();
    if (!img.contains("sentences") || !img["sentences"].is_array() || img["sentences"].empty()) {
      throw Error("image without \"sentences\"", where);
    }
    for (const auto& s : img["sentences"]) {
      if (!s.contains("raw") || !s["raw"].is_string()) throw Error("sentence without a \"raw\" string", where);
      set.captions.push_back(s["raw"].get<std::string>());
      set.caption_image.push_back(static_cast<int64_t>(set.images.size()));
    }
    set.images.push_back(file);
  }
  if (set.images.empty()) {
    throw Error("no images with split \"" + opt.split + "\"", path.string(), "choose the split with --split");
  }
  return set;
}

RetrievalSet read_caption_csv(const fs::path& path, const RetrievalOptions& opt) {
  const auto table = read_csv(path, opt.sep, opt.encoding);
  const auto img_col = table.column(opt.image_column, path.string());
  const auto cap_col = table.column(opt.caption_column, path.string());
  std::map<std::string, std::vector<std::string>> grouped;  // sorted by file name, as numpy.unique
  for (const auto& row : table.rows) grouped[row[img_col]].push_back(row[cap_col]);
  RetrievalSet set;
  set.name = path.stem().string();
  const fs::path root = root_for(path, opt);
  for (auto& [file, captions] : grouped) {
    for (auto& c : captions) {
      set.captions.push_back(std::move(c));
      set.caption_image.push_back(static_cast<int64_t>(set.images.size()));
    }
    set.images.push_back(root / file);
  }
  if (set.images.empty()) throw Error("no rows", path.string());
  return set;
}

RetrievalSet read_caption_txt(const fs::path& caps, const fs::path& filenames, const RetrievalOptions& opt) {
  const auto captions = read_lines(caps, opt.encoding);
  const auto files = read_lines(filenames, opt.encoding);
  if (captions.size() != files.size()) {
    throw Error(fmt::format("{} captions but {} file names", captions.size(), files.size()), caps.string(),
                "the *_filename.txt must have one line per caption line");
  }
  RetrievalSet set;
  set.name = caps.stem().string();
  const fs::path root = root_for(caps, opt);
  std::map<std::string, int64_t> index;
  for (std::size_t i = 0; i < captions.size(); ++i) {
    auto [it, inserted] = index.emplace(files[i], static_cast<int64_t>(set.images.size()));
    if (inserted) set.images.push_back(root / files[i]);
    set.captions.push_back(captions[i]);
    set.caption_image.push_back(it->second);
  }
  if (set.images.empty()) throw Error("no captions", caps.string());
  return set;
}

RetrievalSet read_retrieval_set(const fs::path& path, const RetrievalOptions& opt) {
  const std::string ext = lower(path.extension().string());
  if (ext == ".json") return read_karpathy_json(path, opt);
  if (ext == ".csv") return read_caption_csv(path, opt);
  const std::string name = path.filename().string();
  const std::string suffix = "_caps.txt";
  if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
    const fs::path filenames = path.parent_path() / (name.substr(0, name.size() - suffix.size()) + "_filename.txt");
    return read_caption_txt(path, filenames, opt);
  }
  throw Error("unknown retrieval list format", path.string(),
              "give a Karpathy .json, a GeoRSCLIP .csv (filename,title) or a PE-RSITR *_caps.txt");
}

}  // namespace rsclip::data
