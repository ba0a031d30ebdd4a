#include "data/synth/scene_drawing.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>

#include <opencv2/imgproc.hpp>

namespace rsclip::data::draw {
namespace {

double smoothstep(double t) { return t * t * (3.0 - 2.0 * t); }

// A sine-like hump in [0, 1] with period 1 (4 f (1 - f)): pure arithmetic, so per-pixel
// textures do not depend on libm's last bits.
double hump(double x) {
  const double f = x - std::floor(x);
  return 4.0 * f * (1.0 - f);
}

std::uint8_t to_u8(double v) { return static_cast<std::uint8_t>(std::clamp(std::lround(v), 0L, 255L)); }

}  // namespace

cv::Scalar scalar(Rgb c) { return cv::Scalar(c[0], c[1], c[2]); }

Rgb jitter(Rgb c, SceneRng& rng, int amount) {
  const int common = rng.range(-amount, amount);
  Rgb out;
  for (int k = 0; k < 3; ++k) out[k] = to_u8(c[k] + common + rng.range(-amount, amount));
  return out;
}

Rgb scale(Rgb c, double factor) { return Rgb(to_u8(c[0] * factor), to_u8(c[1] * factor), to_u8(c[2] * factor)); }

Rgb mix(Rgb a, Rgb b, double t) {
  Rgb out;
  for (int k = 0; k < 3; ++k) out[k] = to_u8(a[k] * (1.0 - t) + b[k] * t);
  return out;
}

cv::Mat value_noise(SceneRng& rng, cv::Size size, int cells, int octaves) {
  cv::Mat out(size, CV_32F, cv::Scalar(0));
  double total = 0.0, amplitude = 1.0;
  std::vector<float> lattice;
  std::vector<int> col_index(static_cast<std::size_t>(size.width));
  std::vector<double> col_weight(static_cast<std::size_t>(size.width));
  for (int o = 0; o < octaves; ++o, cells *= 2, amplitude *= 0.5) {
    const int n = cells + 1;
    lattice.resize(static_cast<std::size_t>(n) * n);
    for (float& v : lattice) v = static_cast<float>(rng.uniform(-1.0, 1.0));
    for (int x = 0; x < size.width; ++x) {
      const double fx = (x + 0.5) * cells / size.width;
      col_index[x] = std::min(static_cast<int>(fx), cells - 1);
      col_weight[x] = smoothstep(fx - col_index[x]);
    }
    for (int y = 0; y < size.height; ++y) {
      const double fy = (y + 0.5) * cells / size.height;
      const int iy = std::min(static_cast<int>(fy), cells - 1);
      const double wy = smoothstep(fy - iy);
      const float* r0 = &lattice[static_cast<std::size_t>(iy) * n];
      const float* r1 = r0 + n;
      auto* row = out.ptr<float>(y);
      for (int x = 0; x < size.width; ++x) {
        const int ix = col_index[x];
        const double wx = col_weight[x];
        const double top = r0[ix] + (r0[ix + 1] - r0[ix]) * wx;
        const double bottom = r1[ix] + (r1[ix + 1] - r1[ix]) * wx;
        row[x] += static_cast<float>(amplitude * (top + (bottom - top) * wy));
      }
    }
    total += amplitude;
  }
  out *= 1.0 / total;
  return out;
}

void fill_blend(cv::Mat& img, Rgb a, Rgb b, const cv::Mat& noise, const cv::Mat& mask) {
  for (int y = 0; y < img.rows; ++y) {
    auto* px = img.ptr<Rgb>(y);
    const auto* nz = noise.ptr<float>(y);
    const auto* m = mask.empty() ? nullptr : mask.ptr<std::uint8_t>(y);
    for (int x = 0; x < img.cols; ++x) {
      if (m && !m[x]) continue;
      px[x] = mix(a, b, std::clamp(0.5 + 0.5 * nz[x], 0.0, 1.0));
    }
  }
}

void modulate(cv::Mat& img, const cv::Mat& noise, float strength, const cv::Mat& mask) {
  for (int y = 0; y < img.rows; ++y) {
    auto* px = img.ptr<Rgb>(y);
    const auto* nz = noise.ptr<float>(y);
    const auto* m = mask.empty() ? nullptr : mask.ptr<std::uint8_t>(y);
    for (int x = 0; x < img.cols; ++x) {
      if (m && !m[x]) continue;
      px[x] = scale(px[x], 1.0 + strength * nz[x]);
    }
  }
}

void add_grain(cv::Mat& img, SceneRng& rng, int amplitude) {
  const int span = 2 * amplitude + 1;
  std::uint64_t bits = 0;
  int left = 0;
  for (int y = 0; y < img.rows; ++y) {
    auto* p = img.ptr<std::uint8_t>(y);
    for (int x = 0; x < img.cols * 3; ++x) {
      if (left == 0) {
        bits = rng.next();
        left = 8;
      }
      const int delta = static_cast<int>(bits & 0xff) * span / 256 - amplitude;
      bits >>= 8;
      --left;
      p[x] = static_cast<std::uint8_t>(std::clamp(p[x] + delta, 0, 255));
    }
  }
}

void apply_lighting(cv::Mat& img, SceneRng& rng) {
  const double brightness = rng.uniform(0.9, 1.1), contrast = rng.uniform(0.9, 1.1);
  std::array<std::array<std::uint8_t, 256>, 3> lut{};
  for (int k = 0; k < 3; ++k) {
    const double cast = rng.uniform(0.97, 1.03);
    for (int v = 0; v < 256; ++v) lut[k][v] = to_u8(((v - 128.0) * contrast + 128.0) * brightness * cast);
  }
  for (int y = 0; y < img.rows; ++y) {
    auto* px = img.ptr<Rgb>(y);
    for (int x = 0; x < img.cols; ++x)
      for (int k = 0; k < 3; ++k) px[x][k] = lut[k][px[x][k]];
  }
}

std::vector<cv::Point> rotated_rect(cv::Point2d centre, double length, double width, double angle_deg) {
  const double a = angle_deg * std::numbers::pi / 180.0;
  const cv::Point2d u(std::cos(a) * length / 2, std::sin(a) * length / 2);
  const cv::Point2d v(-std::sin(a) * width / 2, std::cos(a) * width / 2);
  const std::array<cv::Point2d, 4> corners{centre - u - v, centre + u - v, centre + u + v, centre - u + v};
  std::vector<cv::Point> out;
  for (const auto& p : corners)
    out.emplace_back(static_cast<int>(std::lround(p.x)), static_cast<int>(std::lround(p.y)));
  return out;
}

std::vector<cv::Point> blob(SceneRng& rng, cv::Point2d centre, double rx, double ry, double irregularity) {
  std::array<double, 4> amp{}, phase{};
  for (int k = 0; k < 4; ++k) {
    amp[k] = rng.uniform(-1.0, 1.0) / (k + 1.5);
    phase[k] = rng.uniform(0.0, 2 * std::numbers::pi);
  }
  constexpr int kPoints = 64;
  std::vector<cv::Point> out;
  out.reserve(kPoints);
  for (int i = 0; i < kPoints; ++i) {
    const double t = 2 * std::numbers::pi * i / kPoints;
    double r = 1.0;
    for (int k = 0; k < 4; ++k) r += irregularity * amp[k] * std::sin((k + 2) * t + phase[k]);
    out.emplace_back(static_cast<int>(std::lround(centre.x + rx * r * std::cos(t))),
                     static_cast<int>(std::lround(centre.y + ry * r * std::sin(t))));
  }
  return out;
}

void fill(cv::Mat& img, const std::vector<cv::Point>& poly, Rgb colour) {
  const std::vector<std::vector<cv::Point>> polys{poly};
  cv::fillPoly(img, polys, scalar(colour), img.channels() == 3 ? cv::LINE_AA : cv::LINE_8);
}

std::vector<cv::Point2d> meander(SceneRng& rng, cv::Point2d through, double angle_deg, double amplitude,
                                 double wavelength) {
  const double a = angle_deg * std::numbers::pi / 180.0;
  const cv::Point2d u(std::cos(a), std::sin(a)), n(-std::sin(a), std::cos(a));
  const double phase1 = rng.uniform(0.0, 2 * std::numbers::pi), phase2 = rng.uniform(0.0, 2 * std::numbers::pi);
  const double ratio = rng.uniform(0.2, 0.4);
  std::vector<cv::Point2d> path;
  const double reach = kSceneSize * 1.5;  // long enough to leave the image from any point in it
  for (double t = -reach; t <= reach; t += 4.0) {
    const double off = amplitude * (std::sin(2 * std::numbers::pi * t / wavelength + phase1) +
                                    ratio * std::sin(2 * std::numbers::pi * t / (wavelength * 0.37) + phase2));
    path.push_back(through + u * t + n * off);
  }
  return path;
}

void stroke(cv::Mat& img, const std::vector<cv::Point2d>& path, Rgb colour, int thickness) {
  std::vector<cv::Point> pts;
  pts.reserve(path.size());
  for (const auto& p : path) pts.emplace_back(static_cast<int>(std::lround(p.x)), static_cast<int>(std::lround(p.y)));
  const std::vector<std::vector<cv::Point>> lines{pts};
  cv::polylines(img, lines, false, scalar(colour), thickness, img.channels() == 3 ? cv::LINE_AA : cv::LINE_8);
}

void scatter_trees(cv::Mat& img, SceneRng& rng, int count, int rmin, int rmax, Rgb base, int colour_jitter,
                   const cv::Mat& mask) {
  for (int i = 0; i < count; ++i) {
    const int x = rng.range(-rmax, img.cols + rmax - 1), y = rng.range(-rmax, img.rows + rmax - 1);
    const int r = rng.range(rmin, rmax);
    // Mostly brightness variation: per-channel jitter alone would turn some crowns grey.
    const Rgb c = jitter(scale(base, rng.uniform(0.8, 1.2)), rng, colour_jitter / 3);
    if (!mask.empty()) {
      const int cx = std::clamp(x, 0, mask.cols - 1), cy = std::clamp(y, 0, mask.rows - 1);
      if (!mask.at<std::uint8_t>(cy, cx)) continue;
    }
    const int off = std::max(1, r / 3);
    cv::circle(img, {x + off, y + off}, r, scalar(scale(c, 0.45)), cv::FILLED, cv::LINE_8);
    cv::circle(img, {x, y}, r, scalar(c), cv::FILLED, cv::LINE_AA);
    if (r >= 3)
      cv::circle(img, {x - off / 2 - 1, y - off / 2 - 1}, r / 2, scalar(scale(c, 1.2)), cv::FILLED, cv::LINE_8);
  }
}

const char* land_name(Land land) {
  switch (land) {
    case Land::grassland: return "grassland";
    case Land::forest: return "forest";
    case Land::farmland: return "farmland";
    case Land::desert: return "desert";
  }
  return "";
}

void paint_land(cv::Mat& img, SceneRng& rng, Land land) {
  const cv::Size size = img.size();
  switch (land) {
    case Land::grassland: {
      const Rgb a = jitter(Rgb(88, 128, 52), rng, 10), b = jitter(Rgb(140, 160, 80), rng, 10);
      fill_blend(img, a, b, value_noise(rng, size, 3, 4));
      modulate(img, value_noise(rng, size, 24, 2), 0.12f);
      scatter_trees(img, rng, rng.range(15, 60), 3, 6, Rgb(40, 85, 35), 10);
      break;
    }
    case Land::forest: {
      fill_blend(img, Rgb(22, 48, 24), Rgb(40, 72, 34), value_noise(rng, size, 4, 3));
      scatter_trees(img, rng, rng.range(900, 1300), 4, 8, jitter(Rgb(42, 92, 40), rng, 8), 14);
      break;
    }
    case Land::farmland: {
      int fields = 0;
      paint_fields(img, rng, rng.chance(0.5) ? rng.pick<double>(std::array{0.0, 90.0}) : rng.uniform(0, 180),
                   rng.range(3, 6), &fields);
      break;
    }
    case Land::desert: {
      fill_blend(img, jitter(Rgb(196, 162, 112), rng, 10), jitter(Rgb(226, 198, 150), rng, 10),
                 value_noise(rng, size, 3, 4));
      const double period = rng.uniform(9, 16), a = rng.uniform(0, std::numbers::pi);
      const cv::Mat warp = value_noise(rng, size, 4, 2);
      for (int y = 0; y < size.height; ++y) {
        auto* px = img.ptr<Rgb>(y);
        const auto* w = warp.ptr<float>(y);
        for (int x = 0; x < size.width; ++x) {
          const double u = (x * std::cos(a) + y * std::sin(a)) / period + 1.5 * w[x];
          px[x] = scale(px[x], 0.86 + 0.2 * hump(u));
        }
      }
      break;
    }
  }
}

std::vector<std::string> paint_fields(cv::Mat& img, SceneRng& rng, double angle_deg, int stripes, int* fields) {
  static const std::array<NamedColour, 5> kCrops{{{"green", Rgb(62, 122, 44)},
                                                  {"light green", Rgb(126, 168, 72)},
                                                  {"yellow", Rgb(204, 182, 92)},
                                                  {"brown", Rgb(128, 92, 60)},
                                                  {"dark green", Rgb(40, 88, 38)}}};
  const double a = angle_deg * std::numbers::pi / 180.0, ca = std::cos(a), sa = std::sin(a);
  const double half = kSceneSize * 0.7072 + 2;  // the image's half-diagonal: v covers [-half, half]
  // Stripe boundaries across v, parcel cuts along u per stripe, a crop per parcel.
  std::vector<double> edges{-half};
  const double mean_width = 2 * half / stripes;
  while (edges.back() < half) edges.push_back(edges.back() + mean_width * rng.uniform(0.55, 1.45));
  const int n_stripes = static_cast<int>(edges.size()) - 1;
  struct Parcel {
    double u_end;
    int crop;
    double row_period;
    Rgb colour;
  };
  std::vector<std::vector<Parcel>> parcels(static_cast<std::size_t>(n_stripes));
  const int palette_size = rng.range(2, 5);  // how many crops this farm grows
  std::array<int, 5> palette{0, 1, 2, 3, 4};
  rng.shuffle(std::span<int>(palette));
  for (auto& stripe : parcels) {
    const int cuts = rng.range(0, 2);
    std::vector<double> ends;
    for (int c = 0; c < cuts; ++c) ends.push_back(rng.uniform(-half * 0.8, half * 0.8));
    std::sort(ends.begin(), ends.end());
    ends.push_back(1e9);
    for (double e : ends) {
      const int crop = palette[static_cast<std::size_t>(rng.range(0, palette_size - 1))];
      stripe.push_back({e, crop, rng.uniform(2.6, 4.5), jitter(kCrops[crop].rgb, rng, 9)});
    }
  }
  std::vector<std::uint8_t> seen;
  std::array<long, 5> area{};
  std::vector<int> stripe_offset(static_cast<std::size_t>(n_stripes) + 1, 0);
  for (int s = 0; s < n_stripes; ++s) stripe_offset[s + 1] = stripe_offset[s] + static_cast<int>(parcels[s].size());
  seen.assign(static_cast<std::size_t>(stripe_offset.back()), 0);
  const double c0 = kSceneSize / 2.0;
  for (int y = 0; y < img.rows; ++y) {
    auto* px = img.ptr<Rgb>(y);
    for (int x = 0; x < img.cols; ++x) {
      const double dx = x - c0, dy = y - c0;
      const double u = dx * ca + dy * sa, v = -dx * sa + dy * ca;
      const int s = std::clamp(static_cast<int>(std::upper_bound(edges.begin(), edges.end(), v) - edges.begin()) - 1, 0,
                               n_stripes - 1);
      const auto& stripe = parcels[s];
      std::size_t p = 0;
      while (stripe[p].u_end < u) ++p;
      const Parcel& parcel = stripe[p];
      seen[stripe_offset[s] + p] = 1;
      ++area[parcel.crop];
      const double border = std::min(v - edges[s], edges[s + 1] - v);
      const double u_border = std::min(std::abs(u - parcel.u_end), p > 0 ? std::abs(u - stripe[p - 1].u_end) : 1e9);
      if (border < 1.2 || u_border < 1.0) {
        px[x] = Rgb(150, 140, 110);  // a dirt track between fields
      } else {
        px[x] = scale(parcel.colour, 0.88 + 0.16 * hump(v / parcel.row_period));
      }
    }
  }
  *fields = 0;
  for (auto s : seen) *fields += s;
  std::array<int, 5> order{0, 1, 2, 3, 4};
  std::stable_sort(order.begin(), order.end(), [&](int i, int j) { return area[i] > area[j]; });
  std::vector<std::string> colours;
  const long total = static_cast<long>(img.rows) * img.cols;
  for (int i : order) {
    if (area[i] * 10 >= total) colours.emplace_back(kCrops[i].name);  // at least 10% of the image
  }
  modulate(img, value_noise(rng, img.size(), 6, 3), 0.10f);
  return colours;
}

cv::Rect draw_car(cv::Mat& img, cv::Point2d centre, double angle_deg, Rgb colour) {
  const auto body = rotated_rect(centre, 9.0, 4.6, angle_deg);
  fill(img, rotated_rect(centre + cv::Point2d(1, 1), 9.0, 4.6, angle_deg), Rgb(35, 35, 35));
  fill(img, body, colour);
  fill(img, rotated_rect(centre, 2.0, 3.4, angle_deg), scale(colour, 0.55));  // windscreen and roof
  return cv::boundingRect(body);
}

cv::Rect draw_boat(cv::Mat& img, cv::Point2d centre, double angle_deg, double length) {
  const double a = angle_deg * std::numbers::pi / 180.0;
  const cv::Point2d u(std::cos(a), std::sin(a)), n(-std::sin(a), std::cos(a));
  const double w = std::max(3.0, length * 0.34) / 2;
  const std::array<cv::Point2d, 5> hull{centre - u * (length / 2) - n * w, centre + u * (length * 0.2) - n * w,
                                        centre + u * (length / 2), centre + u * (length * 0.2) + n * w,
                                        centre - u * (length / 2) + n * w};
  std::vector<cv::Point> poly;
  for (const auto& p : hull) poly.emplace_back(static_cast<int>(std::lround(p.x)), static_cast<int>(std::lround(p.y)));
  fill(img, poly, Rgb(246, 246, 242));
  return cv::boundingRect(poly);
}

cv::Rect draw_plane(cv::Mat& img, cv::Point2d centre, double angle_deg, double length) {
  const double a = angle_deg * std::numbers::pi / 180.0;
  const cv::Point2d u(std::cos(a), std::sin(a));
  const Rgb white(244, 244, 244);
  const cv::Point2d shadow(3, 3);
  for (int pass = 0; pass < 2; ++pass) {
    const cv::Point2d c = pass == 0 ? centre + shadow : centre;
    const Rgb col = pass == 0 ? Rgb(60, 60, 60) : white;
    fill(img, rotated_rect(c, length, length * 0.13, angle_deg), col);                               // fuselage
    fill(img, rotated_rect(c + u * (length * 0.08), length * 0.24, length * 0.95, angle_deg), col);  // wings
    fill(img, rotated_rect(c - u * (length * 0.42), length * 0.12, length * 0.38, angle_deg), col);  // tail
  }
  const auto fuselage = rotated_rect(centre, length, length * 0.13, angle_deg);
  auto wings = rotated_rect(centre + u * (length * 0.08), length * 0.24, length * 0.95, angle_deg);
  wings.insert(wings.end(), fuselage.begin(), fuselage.end());
  return cv::boundingRect(wings);
}

cv::Rect draw_house(cv::Mat& img, cv::Point2d centre, double length, double width, double angle_deg, Rgb roof) {
  const double a = angle_deg * std::numbers::pi / 180.0;
  const cv::Point2d n(-std::sin(a), std::cos(a));
  fill(img, rotated_rect(centre + cv::Point2d(2, 2), length, width, angle_deg), Rgb(48, 48, 44));
  fill(img, rotated_rect(centre - n * (width / 4), length, width / 2, angle_deg), roof);
  fill(img, rotated_rect(centre + n * (width / 4), length, width / 2, angle_deg), scale(roof, 0.78));
  return cv::boundingRect(rotated_rect(centre, length, width, angle_deg));
}

cv::Rect draw_tank(cv::Mat& img, cv::Point2d centre, int radius, Rgb colour) {
  const cv::Point c(static_cast<int>(std::lround(centre.x)), static_cast<int>(std::lround(centre.y)));
  const int off = std::max(2, radius / 3);
  cv::circle(img, c + cv::Point(off, off), radius, scalar(Rgb(50, 50, 48)), cv::FILLED, cv::LINE_AA);
  cv::circle(img, c, radius, scalar(colour), cv::FILLED, cv::LINE_AA);
  cv::circle(img, c, std::max(1, radius - 3), scalar(scale(colour, 0.88)), 1, cv::LINE_AA);
  return {c.x - radius, c.y - radius, 2 * radius + 1, 2 * radius + 1};
}

cv::Rect footprint(cv::Point2d centre, double length, double width, double angle_deg) {
  return cv::boundingRect(rotated_rect(centre, length, width, angle_deg));
}

const std::vector<NamedColour>& car_colours() {
  static const std::vector<NamedColour> colours{{"red", Rgb(190, 30, 30)},     {"blue", Rgb(40, 70, 180)},
                                                {"white", Rgb(236, 236, 236)}, {"black", Rgb(22, 22, 26)},
                                                {"yellow", Rgb(220, 190, 40)}, {"green", Rgb(40, 130, 70)}};
  return colours;
}

bool overlaps(const cv::Rect& a, const std::vector<SceneObject>& placed, int margin) {
  const cv::Rect grown(a.x - margin, a.y - margin, a.width + 2 * margin, a.height + 2 * margin);
  for (const auto& o : placed) {
    if ((grown & o.box).area() > 0) return true;
  }
  return false;
}

cv::Rect inner(int margin) { return {margin, margin, kSceneSize - 2 * margin, kSceneSize - 2 * margin}; }

}  // namespace rsclip::data::draw
