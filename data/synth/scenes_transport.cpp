// Transport scenes: highway, airport, parking lot. Drawn with the road / runway / stall rows
// running east-west, then turned.
#include <array>
#include <cmath>
#include <numbers>

#include <opencv2/imgproc.hpp>

#include "data/synth/scene_drawing.h"
#include "data/synth/scene_painters.h"

namespace rsclip::data::scenes {
namespace {
using draw::Rgb;

const draw::NamedColour& random_car_colour(SceneRng& rng) {
  const auto& colours = draw::car_colours();
  return colours[static_cast<std::size_t>(rng.range(0, static_cast<int>(colours.size()) - 1))];
}

}  // namespace

void paint_highway(cv::Mat& img, SceneRng& rng, SceneDescription& d) {
  static constexpr std::array<draw::Land, 4> kLands{draw::Land::grassland, draw::Land::farmland, draw::Land::forest,
                                                    draw::Land::desert};
  const draw::Land land = kLands[static_cast<std::size_t>(rng.range(0, 3))];
  draw::paint_land(img, rng, land);
  const bool diagonal = rng.chance(0.2);
  const double angle = diagonal ? rng.uniform(30, 60) : rng.uniform(-5, 5);
  static constexpr std::array<double, 3> kBands{0.25, 0.5, 0.75};
  const cv::Point2d c(
      128, diagonal ? 128 + rng.uniform(-10, 10)
                    : kSceneSize * (kBands[static_cast<std::size_t>(rng.range(0, 2))] + rng.uniform(-0.025, 0.025)));
  const double a = angle * std::numbers::pi / 180.0;
  const cv::Point2d u(std::cos(a), std::sin(a)), n(-std::sin(a), std::cos(a));
  const int lanes = rng.chance(0.6) ? 2 : 3;
  const double lane_w = 7, cw = lanes * lane_w + 2, median = rng.range(3, 8);
  const bool green_median = rng.chance(0.5);
  const double half = median / 2;
  draw::fill(img, draw::rotated_rect(c, 420, 2 * cw + median + 8, angle), draw::jitter(Rgb(150, 146, 130), rng, 8));
  const Rgb asphalt = draw::scale(Rgb(78, 78, 80), rng.uniform(0.88, 1.12)), line(222, 222, 212);
  for (int s : {-1, 1}) {
    draw::fill(img, draw::rotated_rect(c + n * (s * (half + cw / 2)), 420, cw, angle), asphalt);
    draw::fill(img, draw::rotated_rect(c + n * (s * (half + 1.5)), 420, 1, angle), line);
    draw::fill(img, draw::rotated_rect(c + n * (s * (half + cw - 1.5)), 420, 1, angle), line);
    for (int k = 1; k < lanes; ++k) {
      for (double t = -210 + rng.uniform(0, 14); t < 210; t += 14)
        draw::fill(img, draw::rotated_rect(c + u * t + n * (s * (half + 1 + k * lane_w)), 6, 1.2, angle), line);
    }
  }
  draw::fill(img, draw::rotated_rect(c, 420, median, angle), green_median ? Rgb(78, 118, 58) : Rgb(172, 172, 166));

  std::vector<SceneObject> blockers;
  const bool overpass = rng.chance(0.2);
  const cv::Point2d q = c + u * rng.uniform(-70, 70);
  if (overpass) blockers.push_back({"overpass", draw::footprint(q, 2 * cw + median + 12, 18, angle + 90), ""});
  const int target = rng.range(0, 14);
  for (int attempt = 0; attempt < 200 && d.count("car") < target; ++attempt) {
    const int s = rng.chance(0.5) ? 1 : -1;
    const double off = s * (half + 1 + lane_w * (rng.range(0, lanes - 1) + 0.5));
    const cv::Point2d p = c + u * rng.uniform(-170, 170) + n * off;
    const cv::Rect box = draw::footprint(p, 9, 4.6, angle);
    if ((draw::inner(4) & box) != box || draw::overlaps(box, d.objects, 3) || draw::overlaps(box, blockers, 1))
      continue;
    const auto& colour = random_car_colour(rng);
    d.objects.push_back({"car", draw::draw_car(img, p, s > 0 ? angle : angle + 180, colour.rgb), colour.name});
  }
  if (overpass) {
    draw::fill(img, draw::rotated_rect(q + cv::Point2d(4, 4), 420, 10, angle + 90), Rgb(24, 24, 24));
    draw::fill(img, draw::rotated_rect(q, 420, 10, angle + 90), draw::jitter(Rgb(168, 166, 158), rng, 6));
    d.features.push_back({"overpass", compass_of(q, img.size())});
  }
  d.setting = draw::land_name(land);
  d.orientation = diagonal ? "diagonal" : "east-west";
  d.position = compass_of(c, img.size());
  d.size = lanes == 2 ? "four-lane" : "six-lane";
  d.colours = {green_median ? "green" : "grey"};  // the median strip
  rotate_quarter_turns(img, d, rng.range(0, 3));
}

void paint_airport(cv::Mat& img, SceneRng& rng, SceneDescription& d) {
  const cv::Size size = img.size();
  draw::fill_blend(img, draw::jitter(Rgb(112, 140, 74), rng, 8), draw::jitter(Rgb(142, 158, 92), rng, 8),
                   draw::value_noise(rng, size, 3, 3));
  const bool north = rng.chance(0.5);
  const int ry = static_cast<int>(kSceneSize * (north ? rng.uniform(0.2, 0.27) : rng.uniform(0.42, 0.5)));
  const int rw = rng.range(20, 28);
  const bool dark = rng.chance(0.5);
  const Rgb runway = dark ? draw::jitter(Rgb(84, 84, 86), rng, 5) : draw::jitter(Rgb(152, 152, 146), rng, 5);
  const Rgb white(236, 236, 230);
  const cv::Rect strip(0, ry - rw / 2, size.width, rw);
  cv::rectangle(img, strip, draw::scalar(runway), cv::FILLED);
  cv::line(img, {0, strip.y + 2}, {size.width, strip.y + 2}, draw::scalar(white));
  cv::line(img, {0, strip.br().y - 3}, {size.width, strip.br().y - 3}, draw::scalar(white));
  for (int x = rng.range(0, 17); x < size.width; x += 18)
    cv::rectangle(img, cv::Rect(x, ry - 1, 10, 2), draw::scalar(white), cv::FILLED);
  const int x0 = rng.chance(0.5) ? 6 : size.width - 22;  // threshold "piano keys" at one end
  for (int y = strip.y + 5; y + 2 < strip.br().y - 4; y += 4)
    cv::rectangle(img, cv::Rect(x0, y, 16, 2), draw::scalar(white), cv::FILLED);

  const int ty = strip.br().y + rng.range(16, 24);
  const Rgb taxi = draw::jitter(Rgb(104, 104, 102), rng, 5);
  cv::rectangle(img, cv::Rect(0, ty - 5, size.width, 10), draw::scalar(taxi), cv::FILLED);
  for (int k = 0, connectors = rng.range(2, 3); k < connectors; ++k) {
    const int x = rng.range(20, size.width - 30);
    cv::rectangle(img, cv::Rect(x, strip.br().y, 10, ty - strip.br().y), draw::scalar(taxi), cv::FILLED);
  }
  cv::line(img, {0, ty}, {size.width, ty}, draw::scalar(Rgb(204, 178, 60)));

  const int ax0 = rng.range(0, 40), ax1 = size.width - rng.range(0, 40), ay = ty + 9, ah = rng.range(50, 62);
  const cv::Rect apron(ax0, ay, ax1 - ax0, ah);
  cv::rectangle(img, apron, draw::scalar(draw::jitter(Rgb(166, 166, 160), rng, 5)), cv::FILLED);
  const int tw = static_cast<int>(apron.width * rng.uniform(0.6, 0.9));
  const cv::Rect terminal(ax0 + rng.range(0, apron.width - tw), apron.br().y, tw, rng.range(12, 18));
  cv::rectangle(img, terminal + cv::Point(3, 3), draw::scalar(Rgb(50, 50, 50)), cv::FILLED);
  cv::rectangle(img, terminal, draw::scalar(draw::jitter(Rgb(118, 122, 130), rng, 6)), cv::FILLED);
  for (int x = terminal.x + 3; x < terminal.br().x; x += 5)
    cv::line(img, {x, terminal.y}, {x, terminal.br().y - 1}, draw::scalar(Rgb(100, 104, 112)));
  d.features.push_back({"terminal", compass_of((terminal.tl() + terminal.br()) / 2, size)});
  d.features.push_back({"taxiway", Compass::none});

  const int target = rng.chance(0.1) ? 0 : rng.range(1, 6);
  for (int attempt = 0; attempt < 120 && d.count("plane") < target; ++attempt) {
    const double len = rng.uniform(22, 30);
    const cv::Point2d p(rng.uniform(apron.x + len / 2, apron.br().x - len / 2),
                        apron.y + ah / 2.0 + rng.uniform(-3, 3));
    const cv::Rect box = draw::footprint(p, len, len * 0.95, 90);
    const cv::Rect with_shadow(box.x, box.y, box.width + 3, box.height + 3);
    if ((apron & with_shadow) != with_shadow || draw::overlaps(with_shadow, d.objects, 4)) continue;
    d.objects.push_back({"plane", draw::draw_plane(img, p, rng.chance(0.5) ? 90 : -90, len), "white"});
  }
  d.position = compass_of({128.0, double(ry)}, size);  // the runway
  d.orientation = "east-west";
  d.colours = {dark ? "dark grey" : "light grey"};  // the runway
  rotate_quarter_turns(img, d, rng.range(0, 3));
}

void paint_parking_lot(cv::Mat& img, SceneRng& rng, SceneDescription& d) {
  const cv::Size size = img.size();
  const bool green_border = rng.chance(0.6);
  cv::Rect lot(0, 0, size.width, size.height);
  if (green_border) {
    draw::paint_land(img, rng, draw::Land::grassland);
    const int l = rng.range(8, 36), t = rng.range(8, 36), r = rng.range(8, 36), b = rng.range(8, 36);
    lot = cv::Rect(l, t, size.width - l - r, size.height - t - b);
  }
  draw::fill_blend(img, draw::jitter(Rgb(80, 80, 82), rng, 5), draw::jitter(Rgb(100, 100, 100), rng, 5),
                   draw::value_noise(rng, size, 5, 3), [&] {
                     cv::Mat m(size, CV_8U, cv::Scalar(0));
                     m(lot).setTo(255);
                     return m;
                   }());
  const int level = rng.range(0, 2);
  static constexpr std::array<const char*, 3> kLevels{"nearly empty", "half full", "almost full"};
  static constexpr std::array<double, 3> kLo{0.08, 0.4, 0.8}, kHi{0.28, 0.6, 0.97};
  const double occupancy = rng.uniform(kLo[static_cast<std::size_t>(level)], kHi[static_cast<std::size_t>(level)]);
  const int depth = 12, width = 7, aisle = rng.range(13, 16);
  const cv::Scalar paint = draw::scalar(Rgb(214, 214, 206));
  int rows = 0;
  for (int y = lot.y + 2 + rng.range(0, 6); y + 2 * depth <= lot.br().y - 2; y += 2 * depth + aisle) {
    const int x_end = lot.br().x - 3;
    cv::line(img, {lot.x + 3, y + depth}, {x_end, y + depth}, paint);
    for (int x = lot.x + 3; x + width <= x_end; x += width) {
      cv::line(img, {x, y}, {x, y + 2 * depth - 1}, paint);
      for (int row = 0; row < 2; ++row) {
        if (!rng.chance(occupancy)) continue;
        const auto& colour = random_car_colour(rng);
        const cv::Point2d p(x + width / 2.0, y + row * depth + depth / 2.0);
        d.objects.push_back({"car", draw::draw_car(img, p, row == 0 ? 90 : -90, colour.rgb), colour.name});
      }
    }
    rows += 2;
  }
  if (green_border) {
    // Trees keep 9 pixels off the asphalt so that no counted car hides under a crown.
    cv::Mat border(size, CV_8U, cv::Scalar(255));
    border(cv::Rect(lot.x - 9, lot.y - 9, lot.width + 18, lot.height + 18) & cv::Rect(0, 0, size.width, size.height))
        .setTo(0);
    draw::scatter_trees(img, rng, rng.range(40, 120), 3, 6, Rgb(40, 90, 38), 10, border);
    d.features.push_back({"trees", Compass::none});
  }
  d.density = kLevels[static_cast<std::size_t>(level)];
  d.colours = {"grey"};
  d.size = rows >= 10 ? "large" : "small";
  rotate_quarter_turns(img, d, rng.range(0, 3));
}

}  // namespace rsclip::data::scenes
