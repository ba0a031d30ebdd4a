// Offline names as open_clip users write them (models/io/pretrained.h): the Hugging Face
// cache is found as huggingface_hub finds it, hf-hub: names resolve to the snapshot of the
// revision asked for, pretrained tags to weight files where people keep them, and what is
// missing is an error naming the file, where rsclip looked and how to fetch it.
#include "models/io/pretrained.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/base/error.h"
#include "tests/reference/test_support.h"

namespace rsclip::models {
namespace {
namespace fs = std::filesystem;

// Sets an environment variable for the scope of a test (unset: nullopt).
class EnvVar {
 public:
  EnvVar(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* v = std::getenv(name)) old_ = v;
    set(value);
  }
  ~EnvVar() { set(old_); }

 private:
  void set(const std::optional<std::string>& v) {
    if (v)
      ::setenv(name_, v->c_str(), 1);
    else
      ::unsetenv(name_);
  }
  const char* name_;
  std::optional<std::string> old_;
};

void touch(const fs::path& file) {
  fs::create_directories(file.parent_path());
  std::ofstream(file) << "x";
}

// A hub cache entry as huggingface_hub writes it: refs/REV holds the commit, the files are in
// snapshots/COMMIT/.
fs::path hub_entry(const fs::path& cache, const std::string& folder, const std::string& commit,
                   const std::vector<std::string>& files, const std::string& ref = "main") {
  const fs::path snapshot = cache / folder / "snapshots" / commit;
  for (const auto& f : files) touch(snapshot / f);
  fs::create_directories(cache / folder / "refs");
  std::ofstream(cache / folder / "refs" / ref) << commit;
  return snapshot;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(HubCache, FoundAsHuggingFaceHubFindsIt) {
  EnvVar hub("HF_HUB_CACHE", std::nullopt), home("HF_HOME", std::nullopt), xdg("XDG_CACHE_HOME", std::nullopt),
      user("HOME", "/home/u");
  EXPECT_EQ(hf_hub_cache(), fs::path("/home/u/.cache/huggingface/hub"));
  {
    EnvVar x("XDG_CACHE_HOME", "/xdg");
    EXPECT_EQ(hf_hub_cache(), fs::path("/xdg/huggingface/hub"));
    EnvVar h("HF_HOME", "/hf");
    EXPECT_EQ(hf_hub_cache(), fs::path("/hf/hub"));
    EnvVar c("HF_HUB_CACHE", "/cache");
    EXPECT_EQ(hf_hub_cache(), fs::path("/cache"));
  }
}

TEST(HubCache, HubNamesResolveToTheSnapshotOfTheRevision) {
  const auto cache = testing::scratch_dir() / "hub";
  EnvVar hub("HF_HUB_CACHE", cache.string());
  const auto main =
      hub_entry(cache, "models--rs--tiny", "aaaa1111", {"open_clip_config.json", "open_clip_model.safetensors"});
  const auto v2 =
      hub_entry(cache, "models--rs--tiny", "bbbb2222", {"open_clip_config.json", "open_clip_pytorch_model.bin"}, "v2");
  EXPECT_EQ(resolve_model_name("hf-hub:rs/tiny"), main.string());
  EXPECT_EQ(resolve_model_name("hf-hub:rs/tiny@v2"), v2.string());
  EXPECT_EQ(resolve_model_name("hf-hub:rs/tiny@bbbb2222"), v2.string());  // a commit
  EXPECT_EQ(resolve_model_name("local-dir:/some/dir"), "/some/dir");
  EXPECT_EQ(resolve_model_name("ViT-B-32"), "ViT-B-32");
  EXPECT_EQ(resolve_model_name(""), "");

  const std::string missing = error_of([] { resolve_model_name("hf-hub:rs/absent"); });
  EXPECT_NE(missing.find("models--rs--absent"), std::string::npos) << missing;
  EXPECT_NE(missing.find("huggingface-cli download rs/absent"), std::string::npos) << missing;
  hub_entry(cache, "models--rs--noweights", "cccc", {"open_clip_config.json"});
  const std::string no_weights = error_of([] { resolve_model_name("hf-hub:rs/noweights"); });
  EXPECT_NE(no_weights.find("no weights"), std::string::npos) << no_weights;
  EXPECT_NE(error_of([] { resolve_model_name("hf-hub:justaname"); }).find("hf-hub:ORG/NAME"), std::string::npos);
}

TEST(Pretrained, TagsFindTheirFilesWherePeopleKeepThem) {
  const auto work = testing::scratch_dir();
  EnvVar hub("HF_HUB_CACHE", (work / "hub").string()), home("HOME", (work / "home").string());
  // open_clip's table: laion2b_s34b_b79k lives on the hub as laion/CLIP-ViT-B-32-laion2B-s34B-b79K.
  const auto snapshot = hub_entry(work / "hub", "models--laion--CLIP-ViT-B-32-laion2B-s34B-b79K", "1234",
                                  {"open_clip_model.safetensors"});
  auto w = resolve_pretrained("ViT-B-32", "laion2b_s34b_b79k", "");
  EXPECT_EQ(w.weights, snapshot / "open_clip_model.safetensors");
  EXPECT_EQ(w.model, "ViT-B-32");
  // A --pretrained-dir copy wins over the cache.
  touch(work / "weights/CLIP-ViT-B-32-laion2B-s34B-b79K/open_clip_pytorch_model.bin");
  w = resolve_pretrained("ViT-B-32", "laion2b_s34b_b79k", work / "weights");
  EXPECT_EQ(w.weights, work / "weights/CLIP-ViT-B-32-laion2B-s34B-b79K/open_clip_pytorch_model.bin");
  // OpenAI's weights (QuickGELU) from open_clip's download cache, by the URL's file name.
  touch(work / "home/.cache/clip/ViT-B-32.pt");
  w = resolve_pretrained("ViT-B-32", "openai", "");
  EXPECT_EQ(w.weights, work / "home/.cache/clip/ViT-B-32.pt");
  EXPECT_EQ(w.model, "ViT-B-32-quickgelu");
  EXPECT_EQ(resolve_pretrained("ViT-B-32-quickgelu", "openai", "").model, "ViT-B-32-quickgelu");
  // The GeoRSCLIP releases by their file names.
  touch(work / "weights/RS5M_ViT-B-32.pt");
  touch(work / "weights/RS5M_ViT-H-14.pt");
  w = resolve_pretrained("ViT-B-32", "georsclip", work / "weights");
  EXPECT_EQ(w.weights, work / "weights/RS5M_ViT-B-32.pt");
  EXPECT_EQ(w.model, "ViT-B-32-quickgelu");  // fine-tuned from OpenAI's QuickGELU weights
  w = resolve_pretrained("ViT-H-14", "georsclip", work / "weights");
  EXPECT_EQ(w.weights, work / "weights/RS5M_ViT-H-14.pt");
  EXPECT_EQ(w.model, "ViT-H-14");
}

TEST(Pretrained, WhatIsMissingIsNamedWithWhereAndHow) {
  const auto work = testing::scratch_dir();
  EnvVar hub("HF_HUB_CACHE", (work / "hub").string());
  const std::string missing = error_of([&] { resolve_pretrained("ViT-H-14", "laion2b_s32b_b79k", work / "w"); });
  EXPECT_NE(missing.find("looked in"), std::string::npos) << missing;
  EXPECT_NE(missing.find((work / "w").string()), std::string::npos) << missing;
  EXPECT_NE(missing.find((work / "hub/models--laion--CLIP-ViT-H-14-laion2B-s32B-b79K").string()), std::string::npos)
      << missing;
  EXPECT_NE(missing.find("huggingface-cli download laion/CLIP-ViT-H-14-laion2B-s32B-b79K"), std::string::npos)
      << missing;
  const std::string tag = error_of([] { resolve_pretrained("ViT-B-32", "laion2b_s34b_b78k", ""); });
  EXPECT_NE(tag.find("did you mean 'laion2b_s34b_b79k'"), std::string::npos) << tag;
  const std::string model = error_of([] { resolve_pretrained("ViT-Q-99", "openai", ""); });
  EXPECT_NE(model.find("no pretrained weights for model 'ViT-Q-99'"), std::string::npos) << model;
  EXPECT_FALSE(pretrained_tags("ViT-B-32").empty());
}

}  // namespace
}  // namespace rsclip::models
