// Procedural remote-sensing-like scenes for the newcomer demo and for tests: pretrained
// weights and real RS datasets cannot be downloaded everywhere, yet a small CLIP trained on
// these must visibly learn zero-shot classification and retrieval.
//
// A scene is drawn (OpenCV core/imgproc only) from one SceneRng, so (seed, stream, index)
// decides every pixel. Each scene also returns a structured description of what was really
// drawn (class, land around it, orientation, position, colours, counted objects with their
// boxes, extra features and where they are), and its captions are generated from that
// description only, so a caption never names something the image lacks. The classes follow
// RS benchmarks (RESISC45 / AID / EuroSAT names) and stay distinguishable at 64x64.
//
// Image coordinates: x grows east, y grows south ("north" = top of the image, as in
// north-up satellite imagery).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>

namespace rsclip::data {

enum class SceneClass : int {
  farmland,
  forest,
  river,
  lake,
  beach,
  harbor,
  dense_residential,
  sparse_residential,
  industrial,
  highway,
  airport,
  parking_lot,
  desert,
};
inline constexpr int kSceneClassCount = 13;

// Folder-style name ("dense_residential": the ImageFolder class name) and the words the
// captions use for it ("dense residential area").
std::string_view scene_class_name(SceneClass c);
std::string_view scene_class_words(SceneClass c);
std::span<const SceneClass> all_scene_classes();

enum class Compass : int { none, centre, north, south, east, west, north_east, north_west, south_east, south_west };
std::string_view compass_name(Compass c);  // "north-east", "centre", "" for none
// The compass region of a point: thirds of the image in each direction.
Compass compass_of(cv::Point2d p, cv::Size size);

// An object the caption may count. `box` is its axis-aligned bounding box in the 256x256
// scene (kSceneSize), before any resize.
struct SceneObject {
  std::string kind;  // "car", "boat", "house", "plane", "tank", "pool", "building"
  cv::Rect box;
  std::string colour;  // named colour where the caption may use it, else empty
};

// A feature drawn in addition to the main one ("bridge", "road", "clearing", "pier",
// "waves", "sandbank", "farmhouse", "median", "terminal", "trees", "umbrellas", ...).
struct SceneFeature {
  std::string name;
  Compass where = Compass::none;
};

struct SceneDescription {
  SceneClass scene = SceneClass::farmland;
  std::string setting;               // land cover around the main feature: "forest", "farmland", "grassland", "desert"
  std::string orientation;           // "north-south", "east-west", "diagonal" or empty
  Compass position = Compass::none;  // where the main feature (river, lake, sea, runway, ...) lies
  std::string size;                  // "small", "large", "narrow", "wide" or empty
  std::string density;               // "dense", "sparse", "almost full", "half full", "nearly empty" or empty
  std::vector<std::string> colours;  // named colours of the main surfaces, most prominent first
  std::vector<SceneFeature> features;
  std::vector<SceneObject> objects;

  int count(std::string_view kind) const;
  bool has(std::string_view feature) const;
  const SceneFeature* feature(std::string_view name) const;  // nullptr if absent
};

inline constexpr int kSceneSize = 256;
// A lake is described as "large" when its visible water covers at least this fraction of
// the image, else "small".
inline constexpr double kLargeLakeFraction = 0.08;
inline constexpr int kCaptionsPerImage = 5;

struct Scene {
  cv::Mat image;  // CV_8UC3, RGB channel order, kSceneSize x kSceneSize
  SceneDescription description;
  std::vector<std::string> captions;  // kCaptionsPerImage different captions
};

// Identifies one generated item. Streams keep the training and test sets disjoint: the same
// index in different streams yields unrelated scenes.
struct SceneId {
  std::uint64_t seed = 0;
  std::uint64_t stream = 0;
  std::uint64_t index = 0;
};

// Draws the scene of class `cls` for `id` with its description and captions.
Scene generate_scene(SceneClass cls, const SceneId& id);

// The captions of a description (deterministic in `rng`): kCaptionsPerImage different
// sentences from the class's templates, each naming the class and some drawn attributes.
std::vector<std::string> scene_captions(const SceneDescription& d, std::uint64_t caption_seed);

// English number word for 0..20 ("three"), digits above.
std::string number_word(int n);

}  // namespace rsclip::data
