// Water scenes: river, lake, beach, harbor. Water is always blue-ish (blue channel well
// above red) and boats are the only near-white objects on it, so tests can find both from
// the pixels.
#include <array>
#include <cmath>
#include <numbers>

#include <opencv2/imgproc.hpp>

#include "data/synth/scene_drawing.h"
#include "data/synth/scene_painters.h"

namespace rsclip::data::scenes {
namespace {
using draw::Rgb;

struct Water {
  const char* name;
  Rgb deep, shallow;
};
const std::array<Water, 3> kWaters{{{"blue", Rgb(34, 84, 140), Rgb(64, 124, 170)},
                                    {"dark blue", Rgb(22, 46, 88), Rgb(40, 78, 122)},
                                    {"blue-green", Rgb(30, 96, 114), Rgb(58, 132, 144)}}};

// A boat placement: inside `allowed` (non-zero = open water, already shrunk from the shore),
// 3 pixels clear of other boats (so each boat stays its own white blob) and not touching any
// other placed object (piers, a bridge).
bool boat_fits(const cv::Rect& box, const cv::Mat& allowed, const std::vector<SceneObject>& placed) {
  if (box.x < 1 || box.y < 1 || box.br().x >= allowed.cols - 1 || box.br().y >= allowed.rows - 1) return false;
  for (const cv::Point p :
       {box.tl(), box.br(), cv::Point(box.x, box.br().y), cv::Point(box.br().x, box.y), (box.tl() + box.br()) / 2}) {
    if (!allowed.at<std::uint8_t>(p)) return false;
  }
  const cv::Rect grown(box.x - 3, box.y - 3, box.width + 6, box.height + 6);
  for (const auto& o : placed) {
    if (((o.kind == "boat" ? grown : box) & o.box).area() > 0) return false;
  }
  return true;
}

// Water colour from depth: shallow at the shore, deep beyond `depth_px`, with noise.
void fill_water(cv::Mat& img, const cv::Mat& mask, const Water& w, SceneRng& rng, double depth_px) {
  cv::Mat dist;
  cv::distanceTransform(mask, dist, cv::DIST_L2, 3);
  const cv::Mat noise = draw::value_noise(rng, img.size(), 6, 3);
  for (int y = 0; y < img.rows; ++y) {
    auto* px = img.ptr<Rgb>(y);
    const auto* m = mask.ptr<std::uint8_t>(y);
    const auto* dd = dist.ptr<float>(y);
    const auto* nz = noise.ptr<float>(y);
    for (int x = 0; x < img.cols; ++x) {
      if (!m[x]) continue;
      const double t = std::clamp(dd[x] / depth_px + 0.25 * nz[x], 0.0, 1.0);
      px[x] = draw::mix(w.shallow, w.deep, t);
    }
  }
}

draw::Land pick_land(SceneRng& rng, bool allow_desert) {
  static constexpr std::array<draw::Land, 4> kLands{draw::Land::forest, draw::Land::grassland, draw::Land::farmland,
                                                    draw::Land::desert};
  return kLands[static_cast<std::size_t>(rng.range(0, allow_desert ? 3 : 2))];
}

}  // namespace

void paint_river(cv::Mat& img, SceneRng& rng, SceneDescription& d) {
  const draw::Land land = pick_land(rng, true);
  draw::paint_land(img, rng, land);
  d.setting = draw::land_name(land);
  const Water& w = rng.pick<Water>(kWaters);
  const bool diagonal = rng.chance(0.2), wide = rng.chance(0.5);
  const double angle = diagonal ? rng.uniform(35, 55) : rng.uniform(-6, 6);
  static constexpr std::array<double, 3> kBands{0.24, 0.5, 0.76};
  const double y0 = diagonal
                        ? 128 + rng.uniform(-12, 12)
                        : kSceneSize * (kBands[static_cast<std::size_t>(rng.range(0, 2))] + rng.uniform(-0.03, 0.03));
  const int width = wide ? rng.range(20, 30) : rng.range(10, 15);
  const auto path = draw::meander(rng, {128 + rng.uniform(-20, 20), y0}, angle,
                                  diagonal ? rng.uniform(6, 16) : rng.uniform(5, 12), rng.uniform(140, 300));
  cv::Mat water(img.size(), CV_8U, cv::Scalar(0));
  draw::stroke(water, path, Rgb(255, 255, 255), width);
  draw::stroke(img, path, draw::jitter(Rgb(166, 150, 112), rng, 10), width + 6);  // muddy banks
  fill_water(img, water, w, rng, width * 0.4);
  d.orientation = diagonal ? "diagonal" : "east-west";
  d.size = wide ? "wide" : "narrow";
  d.colours = {w.name};

  std::vector<SceneObject> blockers;
  if (rng.chance(0.4)) {
    static constexpr std::array<double, 3> kThirds{0.2, 0.5, 0.8};
    const double bx = kSceneSize * kThirds[static_cast<std::size_t>(rng.range(0, 2))] + rng.uniform(-10, 10);
    std::size_t best = 1;
    for (std::size_t i = 1; i + 1 < path.size(); ++i) {
      if (std::abs(path[i].x - bx) < std::abs(path[best].x - bx)) best = i;
    }
    const cv::Point2d p = path[best], dir = path[best + 1] - path[best - 1];
    const double road_angle = std::atan2(dir.y, dir.x) * 180.0 / std::numbers::pi + 90.0;
    draw::fill(img, draw::rotated_rect(p, 400, 6, road_angle), draw::jitter(Rgb(108, 108, 102), rng, 6));
    const double span = width + 12;
    draw::fill(img, draw::rotated_rect(p + cv::Point2d(3, 3), span, 8, road_angle), Rgb(20, 34, 50));
    const auto deck = draw::rotated_rect(p, span, 8, road_angle);
    draw::fill(img, deck, Rgb(160, 158, 150));
    draw::fill(water, deck, Rgb(0, 0, 0));
    blockers.push_back({"bridge", cv::boundingRect(deck), ""});
    d.features.push_back({"bridge", compass_of(p, img.size())});
  }
  d.position = mask_compass(water);
  if (wide && land != draw::Land::desert && rng.chance(0.35)) {
    cv::Mat open;
    cv::erode(water, open, cv::getStructuringElement(cv::MORPH_ELLIPSE, {5, 5}));
    const int target = rng.range(1, 3);
    for (int attempt = 0; attempt < 60 && d.count("boat") < target; ++attempt) {
      const std::size_t i = static_cast<std::size_t>(rng.range(1, static_cast<int>(path.size()) - 2));
      const cv::Point2d dir = path[i + 1] - path[i - 1];
      const double a = std::atan2(dir.y, dir.x) * 180.0 / std::numbers::pi, len = rng.uniform(10, 13);
      const cv::Point2d c = path[i] + cv::Point2d(rng.uniform(-3, 3), rng.uniform(-3, 3));
      const cv::Rect box = draw::footprint(c, len, std::max(3.0, len * 0.34), a);
      if (!boat_fits(box, open, blockers) || draw::overlaps(box, d.objects, 3)) continue;
      d.objects.push_back({"boat", draw::draw_boat(img, c, a, len), "white"});
    }
  }
  rotate_quarter_turns(img, d, rng.range(0, 3));
}

void paint_lake(cv::Mat& img, SceneRng& rng, SceneDescription& d) {
  const draw::Land land = pick_land(rng, false);
  draw::paint_land(img, rng, land);
  d.setting = draw::land_name(land);
  const Water& w = rng.pick<Water>(kWaters);
  const bool large = rng.chance(0.5);
  const double rx = large ? rng.uniform(55, 76) : rng.uniform(28, 42), ry = rx * rng.uniform(0.7, 1.25);
  static constexpr std::array<double, 3> kSpots{0.27, 0.5, 0.73};
  const int spot = rng.range(0, 8);
  const cv::Point2d c(kSceneSize * kSpots[static_cast<std::size_t>(spot % 3)] + rng.uniform(-8, 8),
                      kSceneSize * kSpots[static_cast<std::size_t>(spot / 3)] + rng.uniform(-8, 8));
  const auto shore = draw::blob(rng, c, rx, ry, 0.25);
  std::vector<cv::Point> inner;
  for (const auto& p : shore) inner.emplace_back(c + (cv::Point2d(p) - c) * 0.9);
  draw::fill(img, shore, draw::jitter(Rgb(176, 164, 124), rng, 10));
  cv::Mat water(img.size(), CV_8U, cv::Scalar(0));
  draw::fill(water, inner, Rgb(255, 255, 255));
  fill_water(img, water, w, rng, 18);
  d.colours = {w.name};

  cv::Mat dist;
  cv::distanceTransform(water, dist, cv::DIST_L2, 3);
  if (large && rng.chance(0.25)) {
    for (int attempt = 0; attempt < 30; ++attempt) {
      const cv::Point p(rng.range(10, 245), rng.range(10, 245));
      if (dist.at<float>(p) < 24) continue;
      const double r = rng.uniform(8, 13);
      const auto island = draw::blob(rng, p, r, r * rng.uniform(0.7, 1.2), 0.3);
      draw::fill(img, island, Rgb(180, 168, 126));
      std::vector<cv::Point> green;
      for (const auto& q : island) green.emplace_back(cv::Point2d(p) + (cv::Point2d(q) - cv::Point2d(p)) * 0.8);
      draw::fill(img, green, Rgb(70, 110, 50));
      cv::Mat island_mask(img.size(), CV_8U, cv::Scalar(0));
      draw::fill(island_mask, green, Rgb(255, 255, 255));
      draw::scatter_trees(img, rng, 25, 2, 4, Rgb(40, 86, 36), 8, island_mask);
      draw::fill(water, island, Rgb(0, 0, 0));
      d.features.push_back({"island", compass_of(p, img.size())});
      break;
    }
  }
  d.position = mask_compass(water);
  // Named by the water actually visible (a large lake in a corner may be mostly outside).
  d.size = cv::countNonZero(water) >= kLargeLakeFraction * img.total() ? "large" : "small";
  if (rng.chance(0.5)) {
    cv::Mat open;
    cv::erode(water, open, cv::getStructuringElement(cv::MORPH_ELLIPSE, {7, 7}));
    const int target = rng.range(1, 4);
    for (int attempt = 0; attempt < 80 && d.count("boat") < target; ++attempt) {
      const cv::Point2d p(rng.uniform(8, 248), rng.uniform(8, 248));
      const double a = rng.uniform(0, 180), len = rng.uniform(9, 13);
      const cv::Rect box = draw::footprint(p, len, std::max(3.0, len * 0.34), a);
      if (!boat_fits(box, open, d.objects)) continue;
      d.objects.push_back({"boat", draw::draw_boat(img, p, a, len), "white"});
    }
  }
}

namespace {

// The land behind a beach (0: grassland with trees, 1: town ground, 2: desert dunes), painted
// over the whole image before the sea and the sand cover their part.
void paint_beach_backdrop(cv::Mat& img, SceneRng& rng, int behind) {
  if (behind == 0) {
    draw::paint_land(img, rng, draw::Land::grassland);
  } else if (behind == 1) {
    draw::fill_blend(img, Rgb(150, 146, 134), Rgb(176, 170, 150), draw::value_noise(rng, img.size(), 4, 3));
  } else {
    draw::paint_land(img, rng, draw::Land::desert);
  }
}

// The waterline's y in each of `cols` columns: a gently sloping line in the upper half with two
// waves laid over it, so that no two coasts look alike and none is straight.
std::vector<double> coastline(SceneRng& rng, int cols) {
  const double y0 = kSceneSize * rng.uniform(0.3, 0.42), slope = rng.uniform(-0.12, 0.12);
  const double amp = rng.uniform(3, 10), wl = rng.uniform(90, 200), ph = rng.uniform(0, 6.28),
               ph2 = rng.uniform(0, 6.28);
  std::vector<double> coast(static_cast<std::size_t>(cols));
  for (int x = 0; x < cols; ++x) {
    coast[x] = y0 + slope * (x - 128) + amp * std::sin(2 * std::numbers::pi * x / wl + ph) +
               0.3 * amp * std::sin(2 * std::numbers::pi * x / (wl * 0.41) + ph2);
  }
  return coast;
}

// The sea above the coast (shallow to deep, with foam at the waterline and along the wave
// crests) and the sand below it: a darker wet strip `wet` deep, then dry sand up to `sand_w`
// from the water. The land further inland is left as the backdrop painted it.
void paint_sea_and_sand(cv::Mat& img, SceneRng& rng, const Water& w, Rgb sand, const std::vector<double>& coast,
                        double wet, double sand_w) {
  const cv::Mat noise = draw::value_noise(rng, img.size(), 8, 3),
                foam_noise = draw::value_noise(rng, img.size(), 16, 2);
  const Rgb shallow = draw::mix(w.shallow, Rgb(110, 186, 186), 0.35), foam(232, 238, 238);
  const std::array<double, 3> crests{rng.uniform(6, 9), rng.uniform(13, 17), rng.uniform(21, 27)};
  for (int y = 0; y < img.rows; ++y) {
    auto* px = img.ptr<Rgb>(y);
    const auto* nz = noise.ptr<float>(y);
    const auto* fz = foam_noise.ptr<float>(y);
    for (int x = 0; x < img.cols; ++x) {
      const double dy = y - coast[x];
      if (dy < 0) {
        Rgb c = draw::mix(shallow, w.deep, std::clamp(-dy / 45 + 0.15 * nz[x], 0.0, 1.0));
        bool white = -dy < 2.5;
        for (double k : crests) white = white || (std::abs(-dy - k - 2.5 * nz[x]) < 0.9 && fz[x] > -0.1);
        px[x] = white ? draw::mix(c, foam, 0.85) : c;
      } else if (dy < wet) {
        px[x] = draw::scale(sand, 0.8);
      } else if (dy < sand_w) {
        px[x] = draw::scale(sand, 0.95 + 0.08 * nz[x]);
      }
    }
  }
}

// Non-zero where trees may stand: from 3 pixels beyond the dry sand to the bottom edge.
cv::Mat inland_mask(cv::Size size, const std::vector<double>& coast, double sand_w) {
  cv::Mat land(size, CV_8U, cv::Scalar(0));
  for (int x = 0; x < size.width; ++x) {
    const int top = static_cast<int>(std::ceil(coast[x] + sand_w + 3));
    if (top < size.height) land(cv::Rect(x, std::max(0, top), 1, size.height - std::max(0, top))).setTo(255);
  }
  return land;
}

// A road following the coast just inland of the sand, with a row of houses on its far side.
void paint_coast_town(cv::Mat& img, SceneRng& rng, const std::vector<double>& coast, double sand_w) {
  const auto road_y = [&](double x) { return coast[static_cast<std::size_t>(std::clamp(x, 0.0, 255.0))] + sand_w + 8; };
  std::vector<cv::Point2d> road;
  for (int x = -4; x <= img.cols + 4; x += 4) road.emplace_back(x, road_y(x));
  draw::stroke(img, road, Rgb(92, 92, 90), 5);
  static const std::array<Rgb, 4> kRoofs{Rgb(176, 70, 52), Rgb(200, 120, 70), Rgb(130, 130, 134), Rgb(150, 96, 66)};
  for (double x = rng.uniform(4, 14); x < img.cols - 4; x += rng.uniform(16, 24)) {
    const cv::Point2d c(x, road_y(x) + rng.uniform(14, 30));
    draw::draw_house(img, c, rng.uniform(11, 15), rng.uniform(8, 11), rng.uniform(-8, 8),
                     draw::jitter(kRoofs[static_cast<std::size_t>(rng.range(0, 3))], rng, 10));
  }
}

// What stands behind the beach on the backdrop (trees, a town or nothing on the dunes), added
// to the description as the feature the captions name.
void paint_hinterland(cv::Mat& img, SceneRng& rng, int behind, const std::vector<double>& coast, double sand_w,
                      SceneDescription& d) {
  if (behind == 0) {
    const cv::Mat land = inland_mask(img.size(), coast, sand_w);
    draw::scatter_trees(img, rng, rng.range(120, 260), 3, 6, Rgb(40, 92, 40), 10, land);
    d.features.push_back({"trees", Compass::none});
  } else if (behind == 1) {
    paint_coast_town(img, rng, coast, sand_w);
    d.features.push_back({"houses", Compass::none});
  } else {
    d.features.push_back({"dunes", Compass::none});
  }
}

// Beach umbrellas, each with its shadow, on the dry sand (clear of the wet strip and the land).
void paint_umbrellas(cv::Mat& img, SceneRng& rng, const std::vector<double>& coast, double wet, double sand_w) {
  static const std::array<Rgb, 5> kCanvas{Rgb(210, 40, 40), Rgb(40, 80, 200), Rgb(240, 200, 40), Rgb(240, 130, 30),
                                          Rgb(40, 170, 90)};
  const int n = rng.range(6, 18);
  for (int i = 0; i < n; ++i) {
    const int x = rng.range(6, img.cols - 7);
    const double lo = coast[static_cast<std::size_t>(x)] + wet + 4,
                 hi = coast[static_cast<std::size_t>(x)] + sand_w - 4;
    const cv::Point c(x, static_cast<int>(rng.uniform(lo, std::max(lo + 1, hi))));
    cv::circle(img, c + cv::Point(1, 1), 3, draw::scalar(Rgb(120, 104, 80)), cv::FILLED, cv::LINE_AA);
    cv::circle(img, c, 3, draw::scalar(kCanvas[static_cast<std::size_t>(rng.range(0, 4))]), cv::FILLED, cv::LINE_AA);
  }
}

}  // namespace

void paint_beach(cv::Mat& img, SceneRng& rng, SceneDescription& d) {
  struct Sand {
    const char* name;
    Rgb rgb;
  };
  static const std::array<Sand, 2> kSands{{{"yellow", Rgb(222, 196, 138)}, {"white", Rgb(236, 226, 204)}}};
  const Water& w = rng.pick<Water>(kWaters);
  const Sand& sand = rng.pick<Sand>(kSands);
  const int behind = rng.range(0, 2);  // trees, houses, dunes
  static constexpr std::array<const char*, 3> kSettings{"grassland", "town", "desert"};
  paint_beach_backdrop(img, rng, behind);
  d.setting = kSettings[static_cast<std::size_t>(behind)];

  const bool wide = rng.chance(0.5);
  const double sand_w = wide ? rng.uniform(42, 62) : rng.uniform(22, 32), wet = rng.uniform(3, 6);
  const std::vector<double> coast = coastline(rng, img.cols);
  paint_sea_and_sand(img, rng, w, sand.rgb, coast, wet, sand_w);
  paint_hinterland(img, rng, behind, coast, sand_w, d);
  d.features.push_back({"waves", Compass::none});
  if (rng.chance(0.4)) {
    paint_umbrellas(img, rng, coast, wet, sand_w);
    d.features.push_back({"umbrellas", Compass::none});
  }
  d.size = wide ? "wide" : "narrow";
  d.colours = {w.name, sand.name};
  d.position = Compass::north;  // where the sea is, before turning
  rotate_quarter_turns(img, d, rng.range(0, 3));
}

void paint_harbor(cv::Mat& img, SceneRng& rng, SceneDescription& d) {
  const Water& w = rng.pick<Water>(kWaters);
  const cv::Size size = img.size();
  draw::fill_blend(img, w.deep, draw::mix(w.deep, w.shallow, 0.6), draw::value_noise(rng, size, 4, 3));
  const int quay = static_cast<int>(kSceneSize * rng.uniform(0.7, 0.82));
  cv::Mat land_mask(size, CV_8U, cv::Scalar(0));
  land_mask(cv::Rect(0, quay, size.width, size.height - quay)).setTo(255);
  // Concrete is kept below ~175 so that after lighting only boats are near-white.
  draw::fill_blend(img, Rgb(128, 128, 122), Rgb(150, 150, 144), draw::value_noise(rng, size, 6, 3), land_mask);
  cv::line(img, {0, quay}, {size.width, quay}, draw::scalar(Rgb(84, 84, 80)), 2);

  if (rng.chance(0.55)) {
    static const std::array<Rgb, 4> kBoxes{Rgb(180, 50, 40), Rgb(40, 80, 160), Rgb(210, 120, 40), Rgb(50, 130, 80)};
    for (int y = quay + 6; y + 5 < size.height - 2; y += 6) {
      for (int x = rng.range(4, 20); x + 12 < size.width; x += 13) {
        if (rng.chance(0.8))
          cv::rectangle(img, cv::Rect(x, y, 11, 4), draw::scalar(kBoxes[static_cast<std::size_t>(rng.range(0, 3))]),
                        cv::FILLED);
      }
    }
    d.features.push_back({"containers", Compass::south});
  } else {
    for (int x = rng.range(4, 30); x + 30 < size.width; x += rng.range(50, 80)) {
      const cv::Rect r(x, quay + 8, rng.range(30, 50), std::max(8, size.height - quay - 14));
      cv::rectangle(img, r + cv::Point(3, 3), draw::scalar(Rgb(50, 50, 48)), cv::FILLED);
      cv::rectangle(img, r, draw::scalar(draw::jitter(Rgb(120, 122, 126), rng, 10)), cv::FILLED);
    }
    d.features.push_back({"warehouses", Compass::south});
  }

  const int piers = rng.range(2, 5);
  const double spacing = 236.0 / piers;
  const int pw = rng.range(5, 7);
  std::vector<cv::Rect> pier_boxes;
  for (int i = 0; i < piers; ++i) {
    const int x = static_cast<int>(10 + spacing * (i + 0.5) + rng.uniform(-0.12, 0.12) * spacing);
    const int len = rng.range(70, 150);
    const cv::Rect r(x - pw / 2, quay - len, pw, len);
    cv::rectangle(img, r + cv::Point(2, 2), draw::scalar(Rgb(20, 36, 56)), cv::FILLED);
    cv::rectangle(img, r, draw::scalar(Rgb(126, 126, 120)), cv::FILLED);
    pier_boxes.push_back(r);
    d.objects.push_back({"pier", r, "grey"});
  }
  cv::Mat open(size, CV_8U, cv::Scalar(0));
  open(cv::Rect(0, 0, size.width, quay - 3)).setTo(255);
  const int target = rng.range(2, 12);
  for (int attempt = 0; attempt < 300 && d.count("boat") < target; ++attempt) {
    const double len = rng.uniform(11, 16), bw = std::max(3.0, len * 0.34);
    cv::Point2d c;
    double a = 90;
    if (rng.chance(0.8)) {  // moored alongside a pier
      const auto& p = pier_boxes[static_cast<std::size_t>(rng.range(0, piers - 1))];
      const int side = rng.chance(0.5) ? 1 : -1;
      c = {p.x + p.width / 2.0 + side * (p.width / 2.0 + 2.0 + bw / 2), rng.uniform(p.y + 8, quay - 10)};
    } else {
      c = {rng.uniform(14, 242), rng.uniform(14, quay - 20)};
      a = rng.uniform(0, 180);
    }
    const cv::Rect box = draw::footprint(c, len, bw, a);
    if (!boat_fits(box, open, d.objects)) continue;
    d.objects.push_back({"boat", draw::draw_boat(img, c, a, len), "white"});
  }
  d.position = Compass::south;  // the quay, before turning
  d.colours = {w.name};
  rotate_quarter_turns(img, d, rng.range(0, 3));
}

}  // namespace rsclip::data::scenes
