// Eval preprocessing against open_clip 3.3's image_transform (PIL 12, torchvision 0.26) on the
// generated images, and the train transform's steps against torchvision with given parameters.
#include "data/image/transforms.h"

#include <cstdio>

#include <cmath>
#include <cstring>
#include <map>
#include <vector>

#include <gtest/gtest.h>

#include "tests/data/image/image_reference.h"

namespace rsclip::data {
namespace {

using testing::image_reference;

PreprocessConfig config_named(const std::string& name, int size) {
  // "<resize_mode>_<interpolation or fillNN>_<size>"
  PreprocessConfig cfg;
  cfg.size = size;
  const auto a = name.find('_'), b = name.rfind('_');
  cfg.resize_mode = name.substr(0, a);
  const std::string middle = name.substr(a + 1, b - a - 1);
  if (middle.rfind("fill", 0) == 0)
    cfg.fill_color = std::stoi(middle.substr(4));
  else
    cfg.interpolation = middle;
  return cfg;
}

// The 8-bit picture the floats stand for: round((x * std + mean) * 255).
torch::Tensor denormalize(const std::vector<float>& out, const PreprocessConfig& cfg) {
  const int s = cfg.size;
  auto t = torch::from_blob(const_cast<float*>(out.data()), {3, s, s}, torch::kFloat).to(torch::kDouble);
  auto mean = torch::tensor(std::vector<double>(cfg.mean.begin(), cfg.mean.end()), torch::kDouble).view({3, 1, 1});
  auto std = torch::tensor(std::vector<double>(cfg.std.begin(), cfg.std.end()), torch::kDouble).view({3, 1, 1});
  return ((t * std + mean) * 255.0).permute({1, 2, 0});  // [S, S, 3], in units of 1/255
}

TEST(EvalTransform, MatchesOpenClip) {
  const auto& ref = image_reference();
  struct Tally {
    std::int64_t values = 0, exact = 0, within = 0;
    double max_err = 0;  // in units of 1/255
    int images = 0;
  };
  std::map<std::string, Tally> by_config, by_mode;
  std::map<std::string, std::unique_ptr<ImageTransform>> transforms;
  DecodedImage image;
  std::vector<float> out;
  for (const auto& [cname, size] : ref.configs.items()) {
    const PreprocessConfig cfg = config_named(cname, size.get<int>());
    auto transform = make_eval_transform(cfg);
    out.assign(3 * static_cast<std::size_t>(cfg.size) * cfg.size, 0.0F);
    for (const auto& c : ref.cases) {
      const std::string name = c["name"];
      const std::string key = "eval/" + cname + "/" + name;
      if (!ref.has(key)) continue;
      decode_image(ref.bytes(c["file"]), image);
      transform->apply(image, 0, out.data());
      const auto err = (denormalize(out, cfg) - ref.tensor(key).to(torch::kDouble)).abs();
      const double max_err = err.max().item<double>();
      // Within 1/255 after de-normalising (float32 rounding of the normalised value is far
      // below 1e-3 of a level).
      const std::int64_t within = (err <= 1.001).sum().item<std::int64_t>();
      const std::int64_t exact = (err <= 1e-3).sum().item<std::int64_t>();
      for (Tally* t : {&by_config[cname], &by_mode[c["mode"].get<std::string>()]}) {
        t->values += err.numel();
        t->within += within;
        t->exact += exact;
        t->max_err = std::max(t->max_err, max_err);
        ++t->images;
      }
      EXPECT_LE(max_err, 1e-3) << cname << " / " << name << " (" << c["mode"] << "): max error " << max_err << "/255";
      const std::string fkey = "evalf/" + cname + "/" + name;
      if (ref.has(fkey)) {  // the floats themselves, bit for bit
        const auto expected = ref.tensor(fkey).contiguous();
        ASSERT_EQ(expected.numel(), static_cast<std::int64_t>(out.size()));
        EXPECT_EQ(std::memcmp(expected.data_ptr<float>(), out.data(), out.size() * sizeof(float)), 0)
            << fkey << ": floats differ from torchvision's ToTensor + Normalize";
      }
    }
  }
  Tally total;
  std::printf("  %-22s %6s %12s %10s %10s %9s\n", "config / PIL mode", "images", "values", "exact", "<=1/255",
              "max err");
  for (const auto* table : {&by_config, &by_mode}) {
    for (const auto& [k, t] : *table) {
      std::printf("  %-22s %6d %12lld %9.5f%% %9.5f%% %9.4f\n", k.c_str(), t.images, static_cast<long long>(t.values),
                  100.0 * t.exact / t.values, 100.0 * t.within / t.values, t.max_err);
      if (table == &by_config) {
        total.values += t.values;
        total.within += t.within;
        total.exact += t.exact;
        total.max_err = std::max(total.max_err, t.max_err);
      }
    }
  }
  std::printf("  all: %lld values, %.5f%% exact, %.5f%% within 1/255, max error %.4f/255\n",
              static_cast<long long>(total.values), 100.0 * total.exact / total.values,
              100.0 * total.within / total.values, total.max_err);
  EXPECT_GE(static_cast<double>(total.within) / total.values, 0.999);
}

TEST(EvalTransform, RgbOverloadEqualsDecodedImage) {
  const auto& ref = image_reference();
  PreprocessConfig cfg;
  auto transform = make_eval_transform(cfg);
  const std::size_t n = 3 * 224 * 224;
  std::vector<float> a(n), b(n);
  cv::Mat rgb;
  DecodedImage image;
  for (const char* file : {"jpeg420_257x193.jpg", "pngRGB_1000x90.png"}) {
    const auto bytes = ref.bytes(file);
    decode_image(bytes, rgb);
    decode_image(bytes, image);
    transform->apply(rgb, 0, a.data());
    transform->apply(image, 0, b.data());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), n * sizeof(float)), 0) << file;
  }
}

TEST(TrainTransform, StepsMatchTorchvisionGivenTheSameParameters) {
  // resized_crop (BICUBIC) -> adjust_brightness/contrast/saturation in the given order ->
  // hflip -> rotate(NEAREST, fill 0) -> to_tensor -> normalize, all on PIL images.
  const auto& ref = image_reference();
  cv::Mat rgb;
  int k = 0;
  for (const auto& p : ref.train) {
    PreprocessConfig cfg;
    cfg.size = p["size"];
    TrainParams params;
    params.crop_top = p["top"];
    params.crop_left = p["left"];
    params.crop_height = p["height"];
    params.crop_width = p["width"];
    params.flipped = p["flipped"];
    params.angle = p["angle"];
    for (int i = 0; i < 3; ++i) {
      params.jitter[i] = p["jitter"][i];
      params.jitter_order[i] = p["order"][i];
    }
    decode_image(ref.bytes(p["file"]), rgb);
    std::vector<float> out(3 * static_cast<std::size_t>(cfg.size) * cfg.size);
    apply_train_params(cfg, rgb, params, out.data());
    const auto expected = ref.tensor("train/" + std::to_string(k)).contiguous();
    const auto actual = torch::from_blob(out.data(), {3, cfg.size, cfg.size}, torch::kFloat);
    const double diff = (actual - expected).abs().max().item<double>();
    std::printf("  train/%-3d %-22s crop %4dx%-4d angle %7.3f flip %d jitter %s  max |diff| %g\n", k,
                p["file"].get<std::string>().c_str(), params.crop_width, params.crop_height, params.angle,
                params.flipped, params.jitter[0] == 1.0 ? "off" : "on ", diff);
    EXPECT_EQ(diff, 0.0) << "train/" << k;
    ++k;
  }
  EXPECT_GT(k, 0);
}

}  // namespace
}  // namespace rsclip::data
