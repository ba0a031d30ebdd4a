// Built-up scenes: dense and sparse residential areas, industrial areas.
#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <numbers>

#include <opencv2/imgproc.hpp>

#include "data/synth/scene_drawing.h"
#include "data/synth/scene_painters.h"

namespace rsclip::data::scenes {
namespace {
using draw::NamedColour;
using draw::Rgb;

const std::array<NamedColour, 5> kRoofs{{{"red", Rgb(172, 62, 46)},
                                         {"brown", Rgb(122, 82, 56)},
                                         {"grey", Rgb(124, 124, 128)},
                                         {"orange", Rgb(204, 116, 62)},
                                         {"dark grey", Rgb(72, 72, 78)}}};

const std::array<NamedColour, 6> kIndustrialRoofs{{{"white", Rgb(214, 214, 210)},
                                                   {"light grey", Rgb(170, 172, 176)},
                                                   {"blue", Rgb(70, 112, 168)},
                                                   {"dark grey", Rgb(96, 98, 104)},
                                                   {"green", Rgb(84, 132, 104)},
                                                   {"brown", Rgb(146, 92, 66)}}};

// Colour names by how often they occur among the objects of `kind`, most frequent first.
std::vector<std::string> colours_by_frequency(const std::vector<SceneObject>& objects, std::string_view kind) {
  std::map<std::string, int> counts;
  for (const auto& o : objects) {
    if (o.kind == kind && !o.colour.empty()) ++counts[o.colour];
  }
  std::vector<std::pair<std::string, int>> sorted(counts.begin(), counts.end());
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::vector<std::string> names;
  for (const auto& [name, n] : sorted) names.push_back(name);
  return names;
}

}  // namespace

void paint_dense_residential(cv::Mat& img, SceneRng& rng, SceneDescription& d) {
  const cv::Size size = img.size();
  draw::fill_blend(img, Rgb(118, 116, 108), Rgb(146, 142, 130), draw::value_noise(rng, size, 4, 3));
  draw::scatter_trees(img, rng, rng.range(20, 70), 2, 4, Rgb(50, 96, 44), 10);
  const double theta = rng.chance(0.6) ? 0.0 : rng.uniform(-30, 30);
  const double t = theta * std::numbers::pi / 180.0;
  const cv::Point2d eu(std::cos(t), std::sin(t)), ev(-std::sin(t), std::cos(t)), c0(128, 128);
  const auto at = [&](double u, double v) { return c0 + eu * u + ev * v; };
  const int pu = rng.range(44, 62), pv = rng.range(36, 50), road = rng.range(5, 7);
  const double ou = rng.uniform(0, pu) - 200, ov = rng.uniform(0, pv) - 200;
  const Rgb asphalt = draw::jitter(Rgb(88, 88, 86), rng, 6);
  for (double u = ou; u < 200; u += pu) draw::fill(img, draw::rotated_rect(at(u, 0), 420, road, theta + 90), asphalt);
  for (double v = ov; v < 200; v += pv) draw::fill(img, draw::rotated_rect(at(0, v), 420, road, theta), asphalt);

  const std::size_t dominant = static_cast<std::size_t>(rng.range(0, 4));
  // A park replaces the block nearest to a random point.
  const bool park = rng.chance(0.2);
  const cv::Point2d park_target(rng.uniform(50, 206), rng.uniform(50, 206));
  double best = 1e9;
  cv::Point2d park_centre;
  if (park) {
    for (double u = ou; u < 200; u += pu) {
      for (double v = ov; v < 200; v += pv) {
        const cv::Point2d c = at(u + pu / 2.0, v + pv / 2.0);
        const double dist = cv::norm(c - park_target);
        if (dist < best) best = dist, park_centre = c;
      }
    }
  }
  for (double u0 = ou; u0 < 200; u0 += pu) {
    for (double v0 = ov; v0 < 200; v0 += pv) {
      const cv::Point2d centre = at(u0 + pu / 2.0, v0 + pv / 2.0);
      if (centre.x < -40 || centre.y < -40 || centre.x > 296 || centre.y > 296) continue;
      if (park && cv::norm(centre - park_centre) < 1e-6) {
        const auto block = draw::rotated_rect(centre, pu - road - 2, pv - road - 2, theta);
        draw::fill(img, block, draw::jitter(Rgb(92, 136, 62), rng, 8));
        cv::Mat mask(size, CV_8U, cv::Scalar(0));
        draw::fill(mask, block, Rgb(255, 255, 255));
        draw::scatter_trees(img, rng, 40, 3, 5, Rgb(40, 88, 38), 10, mask);
        d.features.push_back({"park", compass_of(centre, size)});
        continue;
      }
      const double depth = (pv - road - 3) / 2.0;
      for (int row = 0; row < 2; ++row) {
        const double v = v0 + road / 2.0 + 1.5 + depth * (row + 0.5);
        double u = u0 + road / 2.0 + 1.5;
        while (true) {
          const double len = rng.uniform(7, 11);
          if (u + len > u0 + pu - road / 2.0 - 1.5) break;
          const cv::Point2d p = at(u + len / 2, v);
          u += len + rng.uniform(0.8, 2.0);
          if (p.x < -8 || p.y < -8 || p.x > 264 || p.y > 264) continue;
          const NamedColour& roof =
              rng.chance(0.75) ? kRoofs[dominant] : kRoofs[static_cast<std::size_t>(rng.range(0, 4))];
          const cv::Rect box = draw::draw_house(img, p, len, depth - 1, theta, draw::jitter(roof.rgb, rng, 12));
          // Houses whose centre is in the image count, with their visible part as the box.
          if (p.x >= 0 && p.y >= 0 && p.x < size.width && p.y < size.height)
            d.objects.push_back({"house", box & cv::Rect(0, 0, size.width, size.height), roof.name});
        }
      }
    }
  }
  d.density = "dense";
  d.colours = colours_by_frequency(d.objects, "house");
  d.orientation = theta == 0.0 ? "north-south" : "diagonal";  // of the street grid
}

void paint_sparse_residential(cv::Mat& img, SceneRng& rng, SceneDescription& d) {
  const cv::Size size = img.size();
  draw::fill_blend(img, draw::jitter(Rgb(96, 138, 62), rng, 8), draw::jitter(Rgb(134, 160, 84), rng, 8),
                   draw::value_noise(rng, size, 3, 4));
  draw::modulate(img, draw::value_noise(rng, size, 24, 2), 0.1f);
  draw::scatter_trees(img, rng, rng.range(60, 150), 3, 6, Rgb(40, 88, 38), 10);
  const double angle = rng.pick<double>(std::array{0.0, 90.0, 35.0, 145.0}) + rng.uniform(-8, 8);
  const auto path = draw::meander(rng, {rng.uniform(100, 156), rng.uniform(100, 156)}, angle, rng.uniform(6, 22),
                                  rng.uniform(160, 300));
  cv::Mat road(size, CV_8U, cv::Scalar(0));
  draw::stroke(road, path, Rgb(255, 255, 255), 11);
  draw::stroke(img, path, draw::jitter(Rgb(104, 104, 100), rng, 6), 7);

  const int target = rng.range(3, 10);
  std::vector<SceneObject> placed;
  for (int attempt = 0; attempt < 300 && d.count("house") < target; ++attempt) {
    const std::size_t i = static_cast<std::size_t>(rng.range(1, static_cast<int>(path.size()) - 2));
    if (!draw::inner(14).contains(cv::Point(path[i]))) continue;
    const cv::Point2d dir = path[i + 1] - path[i - 1];
    const double a = std::atan2(dir.y, dir.x) * 180.0 / std::numbers::pi;
    const cv::Point2d n = cv::Point2d(-dir.y, dir.x) / cv::norm(dir);
    const int side = rng.chance(0.5) ? 1 : -1;
    const double len = rng.uniform(14, 19), wid = rng.uniform(10, 13), gap = rng.uniform(10, 20);
    const cv::Point2d c = path[i] + n * (side * (3.5 + gap + wid / 2));
    const cv::Rect box = draw::footprint(c, len, wid, a);
    if ((draw::inner(3) & box) != box || draw::overlaps(box, placed, 6)) continue;
    bool on_road = false;
    for (const cv::Point p : {box.tl(), box.br(), cv::Point(box.x, box.br().y), cv::Point(box.br().x, box.y)})
      on_road = on_road || road.at<std::uint8_t>(p);
    if (on_road) continue;
    const NamedColour& roof = kRoofs[static_cast<std::size_t>(rng.range(0, 4))];
    cv::line(img, cv::Point(path[i] + n * (side * 3.0)), cv::Point(c), draw::scalar(Rgb(150, 150, 144)), 3);
    d.objects.push_back({"house", draw::draw_house(img, c, len, wid, a, draw::jitter(roof.rgb, rng, 10)), roof.name});
    placed.push_back(d.objects.back());
    if (rng.chance(0.3)) {  // a swimming pool behind the house
      const cv::Point2d pc = c + n * (side * (wid / 2 + 7));
      const cv::Rect pbox = draw::footprint(pc, 8, 5, a);
      if ((draw::inner(2) & pbox) == pbox && !draw::overlaps(pbox, placed, 2)) {
        draw::fill(img, draw::rotated_rect(pc, 9, 6, a), Rgb(214, 218, 214));
        draw::fill(img, draw::rotated_rect(pc, 7, 4, a), Rgb(64, 178, 214));
        d.objects.push_back({"pool", pbox, "blue"});
        placed.push_back(d.objects.back());
      }
    }
  }
  d.density = "sparse";
  d.colours = colours_by_frequency(d.objects, "house");
  d.features.push_back({"road", Compass::none});
  d.features.push_back({"trees", Compass::none});
}

void paint_industrial(cv::Mat& img, SceneRng& rng, SceneDescription& d) {
  const cv::Size size = img.size();
  draw::fill_blend(img, Rgb(158, 156, 148), Rgb(184, 180, 170), draw::value_noise(rng, size, 4, 3));
  draw::modulate(img, draw::value_noise(rng, size, 16, 2), 0.08f);
  // Roads split the site into lots; one lot may hold storage tanks, the others buildings.
  const auto cuts = [&](int max_roads) {
    std::vector<int> c{0};
    const int roads = rng.range(1, max_roads);
    for (int i = 0; i < roads; ++i) {
      const int x = rng.range(60, 196);
      bool ok = true;
      for (int e : c) ok = ok && std::abs(e - x) >= 50;
      if (ok) c.push_back(x);
    }
    c.push_back(size.width);
    std::sort(c.begin(), c.end());
    return c;
  };
  const std::vector<int> xs = cuts(2), ys = cuts(2);
  const int road = 8;
  const Rgb asphalt = draw::jitter(Rgb(86, 86, 88), rng, 6);
  for (std::size_t i = 1; i + 1 < xs.size(); ++i)
    cv::rectangle(img, cv::Rect(xs[i] - road / 2, 0, road, size.height), draw::scalar(asphalt), cv::FILLED);
  for (std::size_t i = 1; i + 1 < ys.size(); ++i)
    cv::rectangle(img, cv::Rect(0, ys[i] - road / 2, size.width, road), draw::scalar(asphalt), cv::FILLED);

  const std::size_t dominant = static_cast<std::size_t>(rng.range(0, 5));
  const int lots = static_cast<int>((xs.size() - 1) * (ys.size() - 1));
  const int tank_lot = rng.chance(0.6) ? rng.range(0, lots - 1) : -1;
  int lot = 0;
  for (std::size_t j = 0; j + 1 < ys.size(); ++j) {
    for (std::size_t i = 0; i + 1 < xs.size(); ++i, ++lot) {
      const cv::Rect cell(xs[i] + road / 2 + 3, ys[j] + road / 2 + 3, xs[i + 1] - xs[i] - road - 6,
                          ys[j + 1] - ys[j] - road - 6);
      if (cell.width < 20 || cell.height < 20) continue;
      if (lot == tank_lot) {
        const int r = rng.range(7, 11), step = 2 * r + 6, want = rng.range(1, 6);
        for (int y = cell.y + r + 1; y + r + 4 < cell.br().y && d.count("tank") < want; y += step) {
          for (int x = cell.x + r + 1; x + r + 4 < cell.br().x && d.count("tank") < want; x += step) {
            d.objects.push_back(
                {"tank", draw::draw_tank(img, {double(x), double(y)}, r, draw::jitter(Rgb(226, 226, 222), rng, 4)),
                 "white"});
          }
        }
        continue;
      }
      // Long cells hold several buildings side by side.
      const bool wide = cell.width >= cell.height;
      const int parts = std::max(1, (wide ? cell.width : cell.height) / 100 + (rng.chance(0.3) ? 1 : 0));
      for (int k = 0; k < parts; ++k) {
        cv::Rect part = cell;
        if (wide)
          part.width = cell.width / parts, part.x = cell.x + k * part.width;
        else
          part.height = cell.height / parts, part.y = cell.y + k * part.height;
        const int w = static_cast<int>(part.width * rng.uniform(0.6, 0.92)),
                  h = static_cast<int>(part.height * rng.uniform(0.6, 0.92));
        if (w < 16 || h < 16) continue;
        const cv::Rect b(part.x + rng.range(0, part.width - w), part.y + rng.range(0, part.height - h), w, h);
        const NamedColour& roof =
            rng.chance(0.75) ? kIndustrialRoofs[dominant] : kIndustrialRoofs[static_cast<std::size_t>(rng.range(0, 5))];
        const Rgb colour = draw::jitter(roof.rgb, rng, 6);
        cv::rectangle(img, b + cv::Point(3, 3), draw::scalar(Rgb(60, 60, 58)), cv::FILLED);
        cv::rectangle(img, b, draw::scalar(colour), cv::FILLED);
        const Rgb rib = draw::scale(colour, 0.9);
        if (b.width >= b.height) {
          for (int x = b.x + 2; x < b.br().x; x += 4) cv::line(img, {x, b.y}, {x, b.br().y - 1}, draw::scalar(rib));
        } else {
          for (int y = b.y + 2; y < b.br().y; y += 4) cv::line(img, {b.x, y}, {b.br().x - 1, y}, draw::scalar(rib));
        }
        d.objects.push_back({"building", b, roof.name});
      }
    }
  }
  d.colours = colours_by_frequency(d.objects, "building");
  d.features.push_back({"roads", Compass::none});
}

}  // namespace rsclip::data::scenes
