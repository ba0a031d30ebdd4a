// Scene classes, compass geometry and the generate_scene entry point; the painters live in
// data/synth/scenes_*.cpp, the caption templates in data/synth/scene_captions.cpp.
#include "data/synth/synth_scenes.h"

#include <array>
#include <utility>

#include <c10/util/Exception.h>
#include <opencv2/imgproc.hpp>

#include "data/synth/scene_drawing.h"
#include "data/synth/scene_painters.h"

namespace rsclip::data {
namespace {

struct ClassInfo {
  SceneClass cls;
  std::string_view name, words;
  void (*paint)(cv::Mat&, SceneRng&, SceneDescription&);
};

// Folder names as in RESISC45 (dense_residential, parking_lot, ...); the zero-shot class
// text is the name with '_' -> ' ', so the caption words start with the same words.
constexpr std::array<ClassInfo, kSceneClassCount> kClasses{{
    {SceneClass::farmland, "farmland", "farmland", scenes::paint_farmland},
    {SceneClass::forest, "forest", "forest", scenes::paint_forest},
    {SceneClass::river, "river", "river", scenes::paint_river},
    {SceneClass::lake, "lake", "lake", scenes::paint_lake},
    {SceneClass::beach, "beach", "beach", scenes::paint_beach},
    {SceneClass::harbor, "harbor", "harbor", scenes::paint_harbor},
    {SceneClass::dense_residential, "dense_residential", "dense residential area", scenes::paint_dense_residential},
    {SceneClass::sparse_residential, "sparse_residential", "sparse residential area", scenes::paint_sparse_residential},
    {SceneClass::industrial, "industrial", "industrial area", scenes::paint_industrial},
    {SceneClass::highway, "highway", "highway", scenes::paint_highway},
    {SceneClass::airport, "airport", "airport", scenes::paint_airport},
    {SceneClass::parking_lot, "parking_lot", "parking lot", scenes::paint_parking_lot},
    {SceneClass::desert, "desert", "desert", scenes::paint_desert},
}};

const ClassInfo& info(SceneClass c) {
  const auto i = static_cast<std::size_t>(c);
  TORCH_CHECK(i < kClasses.size() && kClasses[i].cls == c, "bad scene class ", static_cast<int>(c));
  return kClasses[i];
}

constexpr std::array<SceneClass, kSceneClassCount> kAll{SceneClass::farmland,
                                                        SceneClass::forest,
                                                        SceneClass::river,
                                                        SceneClass::lake,
                                                        SceneClass::beach,
                                                        SceneClass::harbor,
                                                        SceneClass::dense_residential,
                                                        SceneClass::sparse_residential,
                                                        SceneClass::industrial,
                                                        SceneClass::highway,
                                                        SceneClass::airport,
                                                        SceneClass::parking_lot,
                                                        SceneClass::desert};

// Quarter turn clockwise: the north edge becomes the east edge.
Compass turn(Compass c) {
  switch (c) {
    case Compass::north: return Compass::east;
    case Compass::north_east: return Compass::south_east;
    case Compass::east: return Compass::south;
    case Compass::south_east: return Compass::south_west;
    case Compass::south: return Compass::west;
    case Compass::south_west: return Compass::north_west;
    case Compass::west: return Compass::north;
    case Compass::north_west: return Compass::north_east;
    case Compass::centre:
    case Compass::none: return c;
  }
  return c;
}

}  // namespace

std::string_view scene_class_name(SceneClass c) { return info(c).name; }
std::string_view scene_class_words(SceneClass c) { return info(c).words; }
std::span<const SceneClass> all_scene_classes() { return kAll; }

std::string_view compass_name(Compass c) {
  switch (c) {
    case Compass::none: return "";
    case Compass::centre: return "centre";
    case Compass::north: return "north";
    case Compass::south: return "south";
    case Compass::east: return "east";
    case Compass::west: return "west";
    case Compass::north_east: return "north-east";
    case Compass::north_west: return "north-west";
    case Compass::south_east: return "south-east";
    case Compass::south_west: return "south-west";
  }
  return "";
}

Compass compass_of(cv::Point2d p, cv::Size size) {
  const int col = p.x * 3 < size.width ? 0 : (p.x * 3 < 2.0 * size.width ? 1 : 2);
  const int row = p.y * 3 < size.height ? 0 : (p.y * 3 < 2.0 * size.height ? 1 : 2);
  static constexpr std::array<std::array<Compass, 3>, 3> kGrid{{
      {Compass::north_west, Compass::north, Compass::north_east},
      {Compass::west, Compass::centre, Compass::east},
      {Compass::south_west, Compass::south, Compass::south_east},
  }};
  return kGrid[row][col];
}

int SceneDescription::count(std::string_view kind) const {
  int n = 0;
  for (const auto& o : objects) n += o.kind == kind;
  return n;
}

bool SceneDescription::has(std::string_view name) const { return feature(name) != nullptr; }

const SceneFeature* SceneDescription::feature(std::string_view name) const {
  for (const auto& f : features) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::string number_word(int n) {
  static constexpr std::array<std::string_view, 21> kWords{
      "zero",     "one",     "two",     "three",     "four",     "five",     "six",
      "seven",    "eight",   "nine",    "ten",       "eleven",   "twelve",   "thirteen",
      "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"};
  if (n >= 0 && n <= 20) return std::string(kWords[static_cast<std::size_t>(n)]);
  return std::to_string(n);
}

namespace scenes {

void rotate_quarter_turns(cv::Mat& img, SceneDescription& d, int turns) {
  turns = ((turns % 4) + 4) % 4;
  for (int t = 0; t < turns; ++t) {
    cv::Mat rotated;
    cv::rotate(img, rotated, cv::ROTATE_90_CLOCKWISE);
    img = rotated;
    // (x, y) -> (W - 1 - y, x): a box [x, x+w) x [y, y+h) becomes [W - y - h, W - y) x [x, x+w).
    for (auto& o : d.objects) o.box = cv::Rect(img.cols - o.box.y - o.box.height, o.box.x, o.box.height, o.box.width);
    for (auto& f : d.features) f.where = turn(f.where);
    d.position = turn(d.position);
    if (d.orientation == "east-west")
      d.orientation = "north-south";
    else if (d.orientation == "north-south")
      d.orientation = "east-west";
  }
}

Compass mask_compass(const cv::Mat& mask) {
  const cv::Moments m = cv::moments(mask, true);
  if (m.m00 <= 0) return Compass::none;
  return compass_of({m.m10 / m.m00, m.m01 / m.m00}, mask.size());
}

}  // namespace scenes

Scene generate_scene(SceneClass cls, const SceneId& id) {
  SceneRng rng = SceneRng::for_item(id.seed, id.stream, id.index);
  Scene scene;
  scene.image = cv::Mat(kSceneSize, kSceneSize, CV_8UC3, cv::Scalar(0, 0, 0));
  scene.description.scene = cls;
  info(cls).paint(scene.image, rng, scene.description);
  draw::apply_lighting(scene.image, rng);
  draw::add_grain(scene.image, rng, 4);
  scene.captions = scene_captions(scene.description, rng.next());
  return scene;
}

}  // namespace rsclip::data
