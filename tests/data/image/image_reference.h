// The Python reference for image decoding and transforms (scripts/reference/image_reference.py),
// generated once per build directory: the output lives in <build>/test-tmp/image-reference-<hash
// of the script>, written to a temporary directory and renamed, so parallel test processes and
// later runs reuse it.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/io/safetensors.h"
#include "tests/reference/test_support.h"

namespace rsclip::testing {

struct ImageReference {
  std::filesystem::path images;
  StateDict tensors;
  nlohmann::json cases, configs, train, truncated;

  std::vector<std::uint8_t> bytes(const std::string& file) const {
    std::ifstream in(images / file, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  const torch::Tensor& tensor(const std::string& name) const {
    const torch::Tensor* t = tensors.find(name);
    if (!t) throw std::runtime_error("reference tensor missing: " + name);
    return *t;
  }
  bool has(const std::string& name) const { return tensors.find(name) != nullptr; }
};

inline const ImageReference& image_reference() {
  static const ImageReference ref = [] {
    // The comparisons are small tensor ops; torch's thread pool only oversubscribes a busy machine.
    torch::set_num_threads(1);
    namespace fs = std::filesystem;
    const std::string script = "scripts/reference/image_reference.py";
    std::ifstream in(source_dir() / script, std::ios::binary);
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    std::uint64_t hash = 1469598103934665603ull;  // FNV-1a
    for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ull;
    const fs::path base = fs::path(RSCLIP_BINARY_DIR) / "test-tmp";
    const fs::path dir = base / ("image-reference-" + std::to_string(hash));
    if (!fs::exists(dir / "reference.safetensors")) {
      const fs::path tmp = base / ("image-reference-tmp-" + std::to_string(::getpid()));
      fs::remove_all(tmp);
      fs::create_directories(tmp);
      run_python(script, {tmp.string()});
      std::error_code ec;
      fs::rename(tmp, dir, ec);  // another process may have won the race: use its copy
      if (ec) fs::remove_all(tmp);
    }
    ImageReference r;
    r.images = dir / "images";
    Metadata meta;
    r.tensors = load_safetensors(dir / "reference.safetensors", &meta);
    r.cases = nlohmann::json::parse(meta.at("cases"));
    r.configs = nlohmann::json::parse(meta.at("configs"));
    r.train = nlohmann::json::parse(meta.at("train"));
    r.truncated = nlohmann::json::parse(meta.at("truncated"));
    return r;
  }();
  return ref;
}

}  // namespace rsclip::testing
