#include "train/loop/checkpoint_manifest.h"

#include <cstdio>

#include <xxhash.h>

#include <memory>
#include <set>

#include <nlohmann/json.hpp>

#include "core/base/atomic_file.h"
#include "core/base/error.h"

namespace rsclip::train {
namespace fs = std::filesystem;
namespace {

constexpr const char* kFormat = "rsclip-checkpoint-manifest";
constexpr int kVersion = 1;

// The files a training checkpoint cannot do without (ema.safetensors is optional).
const std::set<std::string>& required_files() {
  static const std::set<std::string> files = {"model.safetensors", "optimizer.safetensors", "rng.safetensors",
                                              "trainer.json", "config.yaml"};
  return files;
}

std::vector<fs::path> checkpoint_files(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().filename() != kManifestFile) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

std::string file_xxh3_128(const fs::path& file) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(file.c_str(), "rb"), &std::fclose);
  if (!f) throw Error("cannot open for checksumming", file.string());
  std::unique_ptr<XXH3_state_t, XXH_errorcode (*)(XXH3_state_t*)> state(XXH3_createState(), &XXH3_freeState);
  if (!state || XXH3_128bits_reset(state.get()) != XXH_OK) throw Error("xxHash state allocation failed", file.string());
  std::vector<char> buffer(1 << 20);
  std::size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), f.get())) > 0)
    XXH3_128bits_update(state.get(), buffer.data(), n);
  if (std::ferror(f.get())) throw Error("read error while checksumming", file.string());
  const XXH128_hash_t h = XXH3_128bits_digest(state.get());
  return fmt::format("{:016x}{:016x}", h.high64, h.low64);
}

void write_checkpoint_manifest(const fs::path& dir) {
  nlohmann::json files = nlohmann::json::object();
  for (const auto& f : checkpoint_files(dir)) {
    files[f.filename().string()] = {{"size", fs::file_size(f)}, {"xxh3_128", file_xxh3_128(f)}};
  }
  const nlohmann::json manifest = {{"format", kFormat}, {"version", kVersion}, {"files", files}};
  write_file_atomic(dir / kManifestFile, manifest.dump(1) + "\n");
}

std::string CheckpointCheck::summary() const {
  std::string s = status == Status::valid ? "valid" : status == Status::unverified ? "unverified" : "damaged";
  for (std::size_t i = 0; i < problems.size(); ++i) s += (i == 0 ? ": " : "; ") + problems[i];
  return s;
}

CheckpointCheck verify_checkpoint(const fs::path& dir) {
  CheckpointCheck check;
  auto& problems = check.problems;
  if (!fs::is_directory(dir)) {
    problems.push_back("not a directory");
    return check;
  }
  std::set<std::string> present;
  for (const auto& f : checkpoint_files(dir)) present.insert(f.filename().string());
  for (const auto& name : required_files()) {
    if (!present.count(name)) problems.push_back(name + " is missing");
  }
  if (!fs::exists(dir / kManifestFile)) {
    if (problems.empty()) {
      check.status = CheckpointCheck::Status::unverified;
      problems.push_back("no manifest.json (written by an rsclip without checksums)");
    }
    return check;
  }
  nlohmann::json manifest;
  try {
    manifest = nlohmann::json::parse(read_file(dir / kManifestFile));
    if (manifest.at("format") != kFormat || manifest.at("version") != kVersion) {
      problems.push_back("manifest.json has an unknown format");
      return check;
    }
    for (const auto& [name, entry] : manifest.at("files").items()) {
      if (!present.erase(name)) {
        problems.push_back(name + " is listed but missing");
        continue;
      }
      const auto size = fs::file_size(dir / name);
      if (size != entry.at("size").get<std::uintmax_t>()) {
        problems.push_back(fmt::format("{} has {} bytes, the manifest says {}", name, size, entry["size"].dump()));
      } else if (file_xxh3_128(dir / name) != entry.at("xxh3_128").get<std::string>()) {
        problems.push_back(name + " does not match its checksum (changed or corrupted on disk)");
      }
    }
  } catch (const nlohmann::json::exception& e) {
    problems.push_back(std::string("manifest.json is malformed: ") + e.what());
    return check;
  }
  for (const auto& name : present) problems.push_back(name + " is not in the manifest");
  if (problems.empty()) check.status = CheckpointCheck::Status::valid;
  return check;
}

}  // namespace rsclip::train
