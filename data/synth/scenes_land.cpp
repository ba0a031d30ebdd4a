// Land-cover scenes: farmland, forest, desert (no water, few man-made objects).
#include <array>

#include <opencv2/imgproc.hpp>

#include "data/synth/scene_drawing.h"
#include "data/synth/scene_painters.h"

namespace rsclip::data::scenes {
using draw::Rgb;

void paint_farmland(cv::Mat& img, SceneRng& rng, SceneDescription& d) {
  const bool axis_aligned = rng.chance(0.6);
  const bool east_west = rng.chance(0.5);
  const double angle = axis_aligned ? (east_west ? 0.0 : 90.0) : rng.uniform(25, 65) + (rng.chance(0.5) ? 90 : 0);
  d.orientation = axis_aligned ? (east_west ? "east-west" : "north-south") : "diagonal";
  int fields = 0;
  d.colours = draw::paint_fields(img, rng, angle, rng.range(3, 8), &fields);
  d.density = fields >= 9 ? "many" : "several";

  if (rng.chance(0.3)) {  // a paved road across the stripes
    const cv::Point2d through(rng.uniform(60, 196), rng.uniform(60, 196));
    const auto path = draw::meander(rng, through, angle + 90 + rng.uniform(-10, 10), 0.0, 100.0);
    draw::stroke(img, path, draw::jitter(Rgb(118, 116, 108), rng, 8), 5);
    d.features.push_back({"road", Compass::none});
  }
  if (rng.chance(0.35)) {  // a farmstead: a house, a barn and a ring of trees
    const cv::Point2d c(rng.uniform(40, 216), rng.uniform(40, 216));
    cv::Mat yard_mask(img.size(), CV_8U, cv::Scalar(0));
    cv::circle(yard_mask, c, 22, cv::Scalar(255), cv::FILLED);
    draw::scatter_trees(img, rng, 40, 3, 5, Rgb(42, 88, 36), 8, yard_mask);
    const double a = rng.uniform(0, 180);
    draw::draw_house(img, c, 16, 11, a, draw::jitter(Rgb(165, 62, 48), rng, 10));
    draw::draw_house(img, c + cv::Point2d(rng.uniform(-14, 14), rng.chance(0.5) ? 13 : -13), 12, 8, a,
                     draw::jitter(Rgb(130, 130, 128), rng, 10));
    d.features.push_back({"farmhouse", compass_of(c, img.size())});
  }
}

void paint_forest(cv::Mat& img, SceneRng& rng, SceneDescription& d) {
  const bool sparse = rng.chance(0.25);
  const bool autumn = !sparse && rng.chance(0.25);
  const cv::Size size = img.size();
  if (sparse) {
    draw::fill_blend(img, draw::jitter(Rgb(118, 130, 70), rng, 10), draw::jitter(Rgb(150, 150, 92), rng, 10),
                     draw::value_noise(rng, size, 3, 4));
    draw::scatter_trees(img, rng, rng.range(260, 420), 4, 8, draw::jitter(Rgb(40, 86, 36), rng, 8), 12);
    d.density = "sparse";
    d.colours = {"green"};
  } else {
    draw::fill_blend(img, Rgb(22, 48, 24), Rgb(40, 72, 34), draw::value_noise(rng, size, 4, 3));
    if (autumn) {
      const std::array<Rgb, 4> kLeaves{Rgb(186, 104, 38), Rgb(204, 170, 58), Rgb(60, 98, 40), Rgb(130, 60, 32)};
      for (int i = 0; i < 4; ++i) draw::scatter_trees(img, rng, rng.range(260, 360), 4, 8, kLeaves[i], 14);
      d.colours = {"orange", "yellow", "green"};
    } else {
      const bool dark = rng.chance(0.5);
      draw::scatter_trees(img, rng, rng.range(1000, 1400), 4, 8,
                          draw::jitter(dark ? Rgb(34, 76, 34) : Rgb(58, 110, 44), rng, 8), 14);
      d.colours = {dark ? "dark green" : "green"};
    }
    d.density = "dense";
  }
  draw::modulate(img, draw::value_noise(rng, size, 2, 3), 0.15f);

  if (rng.chance(0.3)) {
    const cv::Point2d c(rng.uniform(40, 216), rng.uniform(40, 216));
    const bool large = rng.chance(0.5);
    const double r = large ? rng.uniform(26, 34) : rng.uniform(14, 20);
    const auto poly = draw::blob(rng, c, r, r * rng.uniform(0.75, 1.25), 0.3);
    cv::Mat mask(size, CV_8U, cv::Scalar(0));
    draw::fill(mask, poly, Rgb(255, 255, 255));
    draw::fill_blend(img, Rgb(120, 140, 70), Rgb(160, 160, 96), draw::value_noise(rng, size, 8, 3), mask);
    draw::scatter_trees(img, rng, 8, 3, 5, Rgb(40, 86, 36), 8, mask);
    d.features.push_back({"clearing", mask_compass(mask)});
    d.size = large ? "large" : "small";  // of the clearing
  }
  if (rng.chance(0.3)) {
    const cv::Point2d through(rng.uniform(70, 186), rng.uniform(70, 186));
    const int direction = rng.range(0, 2);
    static constexpr std::array<const char*, 3> kDirections{"east-west", "north-south", "diagonal"};
    const double angle = direction == 0 ? 0.0 : direction == 1 ? 90.0 : (rng.chance(0.5) ? 45.0 : 135.0);
    const auto path = draw::meander(rng, through, angle, rng.uniform(4, 12), rng.uniform(160, 300));
    draw::stroke(img, path, draw::jitter(Rgb(138, 110, 76), rng, 8), 4);
    d.features.push_back({"road", Compass::none});
    d.orientation = kDirections[static_cast<std::size_t>(direction)];  // of the road
  }
}

void paint_desert(cv::Mat& img, SceneRng& rng, SceneDescription& d) {
  struct Sand {
    const char* name;
    Rgb dark, light;
  };
  static const std::array<Sand, 3> kSands{{{"yellow", Rgb(206, 172, 110), Rgb(234, 206, 150)},
                                           {"orange", Rgb(196, 124, 66), Rgb(224, 158, 96)},
                                           {"pale", Rgb(202, 188, 160), Rgb(230, 220, 196)}}};
  const Sand& sand = rng.pick<Sand>(kSands);
  const cv::Size size = img.size();
  // Brightness varies more than hue: strong per-channel jitter would tint pale sand green.
  const double shade = rng.uniform(0.92, 1.06);
  draw::fill_blend(img, draw::jitter(draw::scale(sand.dark, shade), rng, 3),
                   draw::jitter(draw::scale(sand.light, shade), rng, 3), draw::value_noise(rng, size, 2, 4));
  // Two scales of dune ripples, bent by a noise field (the small ripples are what tells a
  // desert from bare land at low resolution).
  const double big = rng.uniform(26, 44), small = rng.uniform(6, 10);
  // Crests run perpendicular to (cos a, sin a): a near 0 gives north-south crests.
  const int crest = rng.range(0, 2);
  const double a = crest == 0   ? rng.uniform(-0.3, 0.3)
                   : crest == 1 ? 1.5708 + rng.uniform(-0.3, 0.3)
                                : (rng.chance(0.5) ? 0.785 : 2.356) + rng.uniform(-0.2, 0.2);
  const double ca = std::cos(a), sa = std::sin(a);
  static constexpr std::array<const char*, 3> kCrests{"north-south", "east-west", "diagonal"};
  d.orientation = kCrests[static_cast<std::size_t>(crest)];
  const cv::Mat warp = draw::value_noise(rng, size, 3, 2);
  for (int y = 0; y < size.height; ++y) {
    auto* px = img.ptr<Rgb>(y);
    const auto* w = warp.ptr<float>(y);
    for (int x = 0; x < size.width; ++x) {
      const double u = x * ca + y * sa;
      const double crest = u / big + 1.2 * w[x], ripple = u / small + 2.5 * w[x];
      const double fc = crest - std::floor(crest), fr = ripple - std::floor(ripple);
      // Dunes: a lit windward slope and a steep dark lee side.
      const double dune = fc < 0.75 ? 0.95 + 0.12 * fc / 0.75 : 0.82 + 0.13 * (fc - 0.75) / 0.25;
      px[x] = draw::scale(px[x], dune * (0.96 + 0.08 * 4 * fr * (1 - fr)));
    }
  }
  d.colours = {sand.name};
  d.density = "";
  if (rng.chance(0.3)) {
    const int rocks = rng.range(2, 5);
    for (int i = 0; i < rocks; ++i) {
      const cv::Point2d c(rng.uniform(20, 236), rng.uniform(20, 236));
      draw::fill(img, draw::blob(rng, c + cv::Point2d(2, 2), rng.uniform(6, 12), rng.uniform(5, 10), 0.4),
                 Rgb(70, 56, 44));
      draw::fill(img, draw::blob(rng, c, rng.uniform(6, 12), rng.uniform(5, 10), 0.4),
                 draw::jitter(Rgb(112, 86, 64), rng, 8));
    }
    d.features.push_back({"rocks", Compass::none});
  }
  if (rng.chance(0.35)) {
    draw::scatter_trees(img, rng, rng.range(20, 70), 1, 2, Rgb(92, 100, 56), 10);
    d.features.push_back({"shrubs", Compass::none});
  }
  if (rng.chance(0.2)) {
    const cv::Point2d through(rng.uniform(70, 186), rng.uniform(70, 186));
    draw::stroke(img, draw::meander(rng, through, rng.uniform(0, 180), rng.uniform(5, 20), rng.uniform(150, 300)),
                 draw::scale(sand.light, 1.06), 3);
    d.features.push_back({"track", Compass::none});
  }
}

}  // namespace rsclip::data::scenes
