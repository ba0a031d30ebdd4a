// The synthetic scene generator: determinism, and captions that agree with the description
// and with the pixels (water where the caption puts it, counted boats visible as separate
// white blobs, stripes running the stated way, named car colours, ...).
#include "data/synth/synth_scenes.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "data/synth/scene_drawing.h"
#include "data/synth/scene_rng.h"

namespace rsclip::data {
namespace {

using Rgb = cv::Vec3b;
constexpr int kPerClass = 40;  // scenes checked per class

// Pixel predicates on RGB; thresholds leave room for lighting (+-10%), grain and AA edges.
bool blueish(const Rgb& p) { return p[2] > p[0] + 20 && p[2] + 10 >= p[1]; }
bool greenish(const Rgb& p) { return p[1] > p[0] + 12 && p[1] > p[2] + 8; }
bool leaf_green(const Rgb& p) { return p[1] > p[0] + 20 && p[1] > p[2] + 20; }  // tree crowns
bool sandy(const Rgb& p) { return p[0] > 120 && p[0] >= p[2] + 15 && p[1] >= p[2]; }
bool autumn_leaf(const Rgb& p) { return p[0] > p[1] + 25 && p[1] > p[2] + 20; }
bool whitish(const Rgb& p) {
  const int lo = std::min({p[0], p[1], p[2]}), hi = std::max({p[0], p[1], p[2]});
  return lo >= 195 && hi - lo <= 40;
}
bool asphalt(const Rgb& p) {
  const int lo = std::min({p[0], p[1], p[2]}), hi = std::max({p[0], p[1], p[2]});
  return hi - lo <= 18 && hi > 45 && hi < 135;  // includes the anti-aliased edges of lane lines
}

template <class Pred>
cv::Mat mask_of(const cv::Mat& img, Pred pred) {
  cv::Mat m(img.size(), CV_8U, cv::Scalar(0));
  for (int y = 0; y < img.rows; ++y)
    for (int x = 0; x < img.cols; ++x) m.at<std::uint8_t>(y, x) = pred(img.at<Rgb>(y, x)) ? 255 : 0;
  return m;
}

double fraction(const cv::Mat& mask) { return cv::countNonZero(mask) / static_cast<double>(mask.total()); }

// Separate white blobs of at least 4 pixels (boats).
int white_blobs(const cv::Mat& img) {
  cv::Mat labels, stats, centroids;
  const int n = cv::connectedComponentsWithStats(mask_of(img, whitish), labels, stats, centroids, 8);
  int blobs = 0;
  for (int i = 1; i < n; ++i) blobs += stats.at<int>(i, cv::CC_STAT_AREA) >= 4;
  return blobs;
}

struct Spread {
  double sx, sy;
};
Spread spread(const cv::Mat& mask) {
  const cv::Moments m = cv::moments(mask, true);
  return {std::sqrt(m.mu20 / m.m00), std::sqrt(m.mu02 / m.m00)};
}

Compass centroid_compass(const cv::Mat& mask) {
  const cv::Moments m = cv::moments(mask, true);
  return compass_of({m.m10 / m.m00, m.m01 / m.m00}, mask.size());
}

// Mean absolute difference between horizontal / vertical neighbours of the grey image.
std::pair<double, double> gradients(const cv::Mat& img) {
  cv::Mat grey;
  cv::cvtColor(img, grey, cv::COLOR_RGB2GRAY);
  double gx = 0, gy = 0;
  for (int y = 0; y + 1 < grey.rows; ++y)
    for (int x = 0; x + 1 < grey.cols; ++x) {
      gx += std::abs(grey.at<std::uint8_t>(y, x + 1) - grey.at<std::uint8_t>(y, x));
      gy += std::abs(grey.at<std::uint8_t>(y + 1, x) - grey.at<std::uint8_t>(y, x));
    }
  return {gx, gy};
}

std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> out;
  std::string w;
  for (char c : s + " ") {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-') {
      w += c;
    } else if (!w.empty()) {
      out.push_back(w);
      w.clear();
    }
  }
  return out;
}

std::optional<int> parse_number(const std::string& w) {
  for (int n = 0; n <= 20; ++n) {
    if (w == number_word(n)) return n;
  }
  static const std::map<std::string, int> kTens{{"thirty", 30},  {"forty", 40},  {"fifty", 50}, {"sixty", 60},
                                                {"seventy", 70}, {"eighty", 80}, {"ninety", 90}};
  if (auto it = kTens.find(w); it != kTens.end()) return it->second;
  if (!w.empty() && std::all_of(w.begin(), w.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
    return std::stoi(w);
  return std::nullopt;
}

// Every "<number> [adjectives] <noun>" in the caption, with whether "about" preceded it.
struct Stated {
  int n;
  bool approximate;
};
std::vector<Stated> stated_counts(const std::string& caption, const std::string& singular) {
  const auto ws = words(caption);
  std::vector<Stated> out;
  for (std::size_t i = 0; i < ws.size(); ++i) {
    if (ws[i] != singular && ws[i] != singular + "s") continue;
    for (std::size_t back = 1; back <= 3 && back <= i; ++back) {
      if (auto n = parse_number(ws[i - back])) {
        out.push_back({*n, i - back > 0 && ws[i - back - 1] == "about"});
        break;
      }
    }
  }
  return out;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Checks shared by every class: caption form, class words, counts, features and positions.
void check_captions(const Scene& s, const std::string& label) {
  const auto& d = s.description;
  ASSERT_EQ(s.captions.size(), static_cast<std::size_t>(kCaptionsPerImage)) << label;
  const std::set<std::string> distinct(s.captions.begin(), s.captions.end());
  EXPECT_EQ(distinct.size(), s.captions.size()) << label << ": repeated caption";
  static const std::map<std::string, std::string> kNouns{
      {"boat", "boat"},         {"car", "car"},     {"house", "house"},  {"plane", "plane"},
      {"airplane", "plane"},    {"tank", "tank"},   {"pier", "pier"},    {"pool", "pool"},
      {"building", "building"}, {"vehicle", "car"}, {"roof", "building"}};
  for (const auto& c : s.captions) {
    SCOPED_TRACE(label + ": \"" + c + "\"");
    EXPECT_FALSE(c.empty());
    EXPECT_TRUE(std::islower(static_cast<unsigned char>(c.front())));
    EXPECT_EQ(c.back(), '.');
    EXPECT_TRUE(std::all_of(c.begin(), c.end(), [](char ch) { return ch >= 0x20 && ch < 0x7f; }));
    EXPECT_TRUE(contains(c, std::string(scene_class_words(d.scene)))) << "class words missing";
    for (const auto& [noun, kind] : kNouns) {
      for (const auto& st : stated_counts(c, noun)) {
        if (st.approximate) {
          EXPECT_LE(std::abs(st.n - d.count(kind)), 5) << noun;
        } else {
          EXPECT_EQ(st.n, d.count(kind)) << noun;
        }
      }
    }
    if (contains(c, "bridge") && !contains(c, "without any bridge")) {
      EXPECT_TRUE(d.has("bridge") || d.has("overpass"));
    }
    if (contains(c, "island")) {
      EXPECT_TRUE(d.has("island"));
    }
    if (contains(c, "clearing") && !contains(c, "without")) {
      EXPECT_TRUE(d.has("clearing"));
    }
    if (contains(c, "umbrellas")) {
      EXPECT_TRUE(d.has("umbrellas"));
    }
    if (contains(c, "swimming pool")) {
      EXPECT_GT(d.count("pool"), 0);
    }
    if (contains(c, "farmhouse")) {
      EXPECT_TRUE(d.has("farmhouse"));
    }
    // A compass word must be where the main feature or one of the extras is.
    for (const auto& w : words(c)) {
      for (Compass k : {Compass::north, Compass::south, Compass::east, Compass::west, Compass::north_east,
                        Compass::north_west, Compass::south_east, Compass::south_west}) {
        if (w != compass_name(k) || contains(c, "from " + w) || contains(c, "to " + w) || contains(c, w + " to"))
          continue;
        bool known = d.position == k;
        for (const auto& f : d.features) known = known || f.where == k;
        if (contains(c, "to the " + w)) known = d.position == k;
        EXPECT_TRUE(known) << "compass word " << w << " matches nothing drawn";
      }
    }
  }
}

// Stripes (field strips, dune crests) running east-west make the grey image change more
// from row to row than along a row, by at least `ratio`; north-south ones the other way.
void expect_stripes_run(const cv::Mat& img, const std::string& orientation, double ratio, const std::string& what) {
  const auto [gx, gy] = gradients(img);
  if (orientation == "east-west") {
    EXPECT_GT(gy, ratio * gx) << what << " should run east-west";
  }
  if (orientation == "north-south") {
    EXPECT_GT(gx, ratio * gy) << what << " should run north-south";
  }
}

// A long feature (river, highway) described as running east-west is at least twice as spread
// along x as along y; north-south the other way.
void expect_elongated(const cv::Mat& mask, const std::string& orientation) {
  const auto sp = spread(mask);
  if (orientation == "east-west") {
    EXPECT_GT(sp.sx, 2 * sp.sy);
  }
  if (orientation == "north-south") {
    EXPECT_GT(sp.sy, 2 * sp.sx);
  }
}

void check_farmland(const SceneDescription& d, const cv::Mat& img, const cv::Mat& water) {
  EXPECT_LT(fraction(water), 0.01);
  EXPECT_FALSE(d.colours.empty());
  expect_stripes_run(img, d.orientation, 1.3, "stripes");
}

// Autumn forests are mostly orange crowns, others mostly green.
void check_forest(const SceneDescription& d, const cv::Mat& img, const cv::Mat& water) {
  EXPECT_LT(fraction(water), 0.01);
  if (std::find(d.colours.begin(), d.colours.end(), "orange") != d.colours.end()) {
    EXPECT_GT(fraction(mask_of(img, autumn_leaf)), 0.08);
  } else {
    EXPECT_GT(fraction(mask_of(img, greenish)), 0.35);
  }
}

void check_desert(const SceneDescription& d, const cv::Mat& img, const cv::Mat& water) {
  EXPECT_GT(fraction(mask_of(img, sandy)), 0.7);
  expect_stripes_run(img, d.orientation, 1.15, "dune crests");
  EXPECT_LT(fraction(water), 0.01);
  EXPECT_LT(fraction(mask_of(img, greenish)), 0.05);
}

void check_river(const SceneDescription& d, const cv::Mat& img, const cv::Mat& water) {
  EXPECT_GT(fraction(water), 0.025);
  EXPECT_EQ(centroid_compass(water), d.position) << "river is elsewhere than described";
  expect_elongated(water, d.orientation);
  EXPECT_EQ(white_blobs(img), d.count("boat"));
}

// "small" and "large" split at kLargeLakeFraction of visible water (margins for AA edges).
void check_lake(const SceneDescription& d, const cv::Mat& img, const cv::Mat& water) {
  const double f = fraction(water);
  EXPECT_GT(f, 0.015);
  if (d.size == "small") {
    EXPECT_LT(f, kLargeLakeFraction + 0.005);
  } else {
    EXPECT_GT(f, kLargeLakeFraction - 0.01);
  }
  EXPECT_EQ(centroid_compass(water), d.position) << "lake is elsewhere than described";
  EXPECT_EQ(white_blobs(img), d.count("boat"));
}

void check_beach(const SceneDescription& d, const cv::Mat& img, const cv::Mat& water) {
  EXPECT_GT(fraction(water), 0.1);
  EXPECT_GT(fraction(mask_of(img, sandy)), 0.05);
  EXPECT_EQ(centroid_compass(water), d.position) << "sea is elsewhere than described";
}

// The harbour's position is its quay: everything that is not water.
void check_harbor(const SceneDescription& d, const cv::Mat& img, const cv::Mat& water) {
  EXPECT_GT(fraction(water), 0.3);
  EXPECT_EQ(white_blobs(img), d.count("boat"));
  EXPECT_GE(d.count("pier"), 2);
  cv::Mat land;
  cv::bitwise_not(water, land);
  EXPECT_EQ(centroid_compass(land), d.position) << "quay is elsewhere than described";
}

// Few houses among trees, each house and pool visible at its centre (not under a crown).
void check_sparse_residential(const SceneDescription& d, const cv::Mat& img) {
  EXPECT_GE(d.count("house"), 1);
  EXPECT_LE(d.count("house"), 10);
  EXPECT_GT(fraction(mask_of(img, greenish)), 0.3);
  for (const auto& o : d.objects) {
    const Rgb centre = img.at<Rgb>((o.box.tl() + o.box.br()) / 2);
    if (o.kind == "house") {
      EXPECT_FALSE(leaf_green(centre)) << "house hidden by a tree";
    }
    if (o.kind == "pool") {
      EXPECT_TRUE(blueish(centre)) << "pool is not blue";
    }
  }
}

void check_industrial(const SceneDescription& d, const cv::Mat& img) {
  EXPECT_GE(d.count("building"), 2);
  for (const auto& o : d.objects) {
    if (o.kind != "tank") continue;
    const Rgb c = img.at<Rgb>((o.box.tl() + o.box.br()) / 2);
    EXPECT_GT(std::min({c[0], c[1], c[2]}), 160) << "tank is not light";
  }
}

void check_highway(const SceneDescription& d, const cv::Mat& img) {
  const cv::Mat road = mask_of(img, asphalt);
  // Opening drops isolated grey pixels (dim tree shadows) and keeps the carriageways.
  cv::Mat carriageways;
  cv::morphologyEx(road, carriageways, cv::MORPH_OPEN, cv::getStructuringElement(cv::MORPH_RECT, {3, 3}));
  EXPECT_GT(fraction(carriageways), 0.05);
  EXPECT_EQ(centroid_compass(carriageways), d.position) << "highway is elsewhere than described";
  // Not with an overpass: that is a road across the highway.
  if (!d.has("overpass")) expect_elongated(carriageways, d.orientation);
  for (const auto& o : d.objects) {
    ASSERT_EQ(o.kind, "car");
    EXPECT_LT(fraction(road(o.box)), 0.8) << "car not visible on the asphalt";
  }
}

void check_airport(const SceneDescription& d, const cv::Mat& img) {
  EXPECT_TRUE(d.has("terminal"));
  for (const auto& o : d.objects) {
    ASSERT_EQ(o.kind, "plane");
    EXPECT_GT(fraction(mask_of(img(o.box), whitish)), 0.2) << "plane is not white";
  }
}

// The name of the car colour nearest to `px`.
const char* nearest_car_colour(const Rgb& px) {
  const auto& colours = draw::car_colours();
  const auto nearest = std::min_element(colours.begin(), colours.end(), [&](const auto& a, const auto& b) {
    return cv::norm(cv::Vec3d(px) - cv::Vec3d(a.rgb)) < cv::norm(cv::Vec3d(px) - cv::Vec3d(b.rgb));
  });
  return nearest->name;
}

// Named car colours: the body (away from the darker window in the middle) is nearest to the
// named colour among all car colours.
void check_parking_lot(const SceneDescription& d, const cv::Mat& img) {
  EXPECT_GE(d.count("car"), 1);
  // Samples 3 and 4 pixels either side of the centre along the car: at least 3 of the 4
  // are body pixels whatever the rounding of the box.
  for (const auto& o : d.objects) {
    const cv::Point c = (o.box.tl() + o.box.br()) / 2;
    const cv::Point axis = o.box.width > o.box.height ? cv::Point(1, 0) : cv::Point(0, 1);
    int matches = 0;
    for (int k : {-4, -3, 3, 4}) matches += nearest_car_colour(img.at<Rgb>(c + axis * k)) == o.colour;
    EXPECT_GE(matches, 3) << o.colour << " car at " << c.x << "," << c.y;
  }
}

// Class-specific checks of description and pixels.
void check_scene(const Scene& s, const std::string& label) {
  const auto& d = s.description;
  const cv::Mat& img = s.image;
  const cv::Mat water = mask_of(img, blueish);
  SCOPED_TRACE(label);
  switch (d.scene) {
    case SceneClass::farmland: check_farmland(d, img, water); break;
    case SceneClass::forest: check_forest(d, img, water); break;
    case SceneClass::desert: check_desert(d, img, water); break;
    case SceneClass::river: check_river(d, img, water); break;
    case SceneClass::lake: check_lake(d, img, water); break;
    case SceneClass::beach: check_beach(d, img, water); break;
    case SceneClass::harbor: check_harbor(d, img, water); break;
    case SceneClass::dense_residential: EXPECT_GE(d.count("house"), 50); break;
    case SceneClass::sparse_residential: check_sparse_residential(d, img); break;
    case SceneClass::industrial: check_industrial(d, img); break;
    case SceneClass::highway: check_highway(d, img); break;
    case SceneClass::airport: check_airport(d, img); break;
    case SceneClass::parking_lot: check_parking_lot(d, img); break;
  }
}

TEST(SceneRng, SplitMix64KnownAnswers) {
  // Reference sequence of splitmix64 seeded with 1234567 (Vigna's splitmix64.c).
  SceneRng rng(1234567);
  EXPECT_EQ(rng.next(), 6457827717110365317ULL);
  EXPECT_EQ(rng.next(), 3203168211198807973ULL);
  EXPECT_EQ(rng.next(), 9817491932198370423ULL);
  EXPECT_EQ(rng.next(), 4593380528125082431ULL);
  EXPECT_EQ(rng.next(), 16408922859458223821ULL);
}

TEST(SceneRng, RangesStayInBounds) {
  SceneRng rng(7);
  std::array<int, 5> hist{};
  for (int i = 0; i < 50000; ++i) {
    const int v = rng.range(-2, 2);
    ASSERT_GE(v, -2);
    ASSERT_LE(v, 2);
    ++hist[static_cast<std::size_t>(v + 2)];
    const double u = rng.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
  for (int h : hist) EXPECT_NEAR(h, 10000, 500);
}

TEST(SynthScenes, ClassNamesAreImageFolderNames) {
  ASSERT_EQ(all_scene_classes().size(), static_cast<std::size_t>(kSceneClassCount));
  std::set<std::string> names;
  for (SceneClass c : all_scene_classes()) {
    const std::string name(scene_class_name(c)), words(scene_class_words(c));
    names.insert(name);
    std::string spaced = name;
    std::replace(spaced.begin(), spaced.end(), '_', ' ');
    EXPECT_EQ(words.rfind(spaced, 0), 0u) << "caption words of " << name << " must start with the zero-shot class name";
  }
  EXPECT_EQ(names.size(), static_cast<std::size_t>(kSceneClassCount));
  EXPECT_GE(kSceneClassCount, 10);
}

TEST(SynthScenes, SameIdGivesIdenticalScene) {
  for (SceneClass c : all_scene_classes()) {
    const SceneId id{42, 1, 17};
    const Scene a = generate_scene(c, id), b = generate_scene(c, id);
    ASSERT_EQ(a.image.type(), CV_8UC3);
    ASSERT_EQ(a.image.size(), cv::Size(kSceneSize, kSceneSize));
    EXPECT_EQ(cv::norm(a.image, b.image, cv::NORM_INF), 0.0) << scene_class_name(c);
    EXPECT_EQ(a.captions, b.captions);
    EXPECT_EQ(a.description.objects.size(), b.description.objects.size());
  }
}

TEST(SynthScenes, SeedStreamAndIndexChangeTheScene) {
  for (SceneClass c : all_scene_classes()) {
    const Scene base = generate_scene(c, {42, 1, 17});
    for (const SceneId other : {SceneId{43, 1, 17}, SceneId{42, 2, 17}, SceneId{42, 1, 18}}) {
      const Scene s = generate_scene(c, other);
      cv::Mat diff;
      cv::absdiff(base.image, s.image, diff);
      EXPECT_GT(cv::countNonZero(diff.reshape(1)), static_cast<int>(diff.total()))
          << scene_class_name(c) << ": scenes from different ids look alike";
    }
  }
}

TEST(SynthScenes, CaptionsAndPixelsAgreeWithTheDescription) {
  std::map<std::string, std::set<std::string>> seen;  // per class: distinct captions
  for (SceneClass c : all_scene_classes()) {
    for (int i = 0; i < kPerClass; ++i) {
      const Scene s = generate_scene(c, {2024, 0, static_cast<std::uint64_t>(i)});
      const std::string label = std::string(scene_class_name(c)) + " #" + std::to_string(i);
      ASSERT_EQ(s.description.scene, c);
      for (const auto& o : s.description.objects) {
        EXPECT_EQ(o.box & cv::Rect(0, 0, kSceneSize, kSceneSize), o.box) << label << ": " << o.kind << " outside";
      }
      check_captions(s, label);
      check_scene(s, label);
      seen[std::string(scene_class_name(c))].insert(s.captions.begin(), s.captions.end());
    }
  }
  // Captions vary within a class (attributes), so retrieval is more than classification.
  for (const auto& [name, captions] : seen) {
    EXPECT_GE(captions.size(), 30u) << name << ": too few distinct captions";
    std::printf("  %-20s %3zu distinct captions over %d images\n", name.c_str(), captions.size(), kPerClass);
  }
}

TEST(SynthScenes, AttributesVaryWithinAClass) {
  // Each attribute the captions use takes several values over a handful of scenes.
  std::map<SceneClass, std::set<std::string>> positions, orientations, sizes;
  std::map<SceneClass, std::set<int>> counts;
  for (SceneClass c : all_scene_classes()) {
    for (int i = 0; i < kPerClass; ++i) {
      const auto d = generate_scene(c, {5, 0, static_cast<std::uint64_t>(i)}).description;
      positions[c].insert(std::string(compass_name(d.position)));
      orientations[c].insert(d.orientation);
      sizes[c].insert(d.size + d.density);
      counts[c].insert(static_cast<int>(d.objects.size()));
    }
  }
  for (SceneClass c : {SceneClass::river, SceneClass::lake, SceneClass::beach, SceneClass::highway}) {
    EXPECT_GE(positions[c].size(), 3u) << scene_class_name(c);
  }
  for (SceneClass c : {SceneClass::farmland, SceneClass::river, SceneClass::highway, SceneClass::airport}) {
    EXPECT_GE(orientations[c].size(), 2u) << scene_class_name(c);
  }
  for (SceneClass c : {SceneClass::lake, SceneClass::river, SceneClass::parking_lot, SceneClass::forest}) {
    EXPECT_GE(sizes[c].size(), 2u) << scene_class_name(c);
  }
  for (SceneClass c : {SceneClass::harbor, SceneClass::highway, SceneClass::airport, SceneClass::sparse_residential,
                       SceneClass::parking_lot, SceneClass::industrial}) {
    EXPECT_GE(counts[c].size(), 4u) << scene_class_name(c);
  }
}

TEST(SynthScenes, NumberWords) {
  EXPECT_EQ(number_word(0), "zero");
  EXPECT_EQ(number_word(7), "seven");
  EXPECT_EQ(number_word(20), "twenty");
  EXPECT_EQ(number_word(21), "21");
}

}  // namespace
}  // namespace rsclip::data
