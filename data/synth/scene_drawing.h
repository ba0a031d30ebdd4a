// Drawing primitives shared by the synthetic scenes (data/synth/synth_scenes.cpp and data/synth/scenes_*.cpp):
// textures, land covers and the small objects the captions count. Images are CV_8UC3 in RGB order. Everything random
// comes from SceneRng, and the noise/lighting arithmetic is done here in plain C++ (not cv::resize / cv::warpAffine,
// whose SIMD paths may round differently on other CPUs) so the bytes depend on the seed only.
#pragma once

#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "data/synth/scene_rng.h"
#include "data/synth/synth_scenes.h"

namespace rsclip::data::draw {

using Rgb = cv::Vec3b;

struct NamedColour {
  const char* name;
  Rgb rgb;
};

cv::Scalar scalar(Rgb c);
// Each channel moved by up to +-amount plus a common brightness shift of up to +-amount.
Rgb jitter(Rgb c, SceneRng& rng, int amount);
Rgb scale(Rgb c, double factor);
Rgb mix(Rgb a, Rgb b, double t);  // (1-t)*a + t*b

// Smooth value noise (smoothstep-interpolated random lattice, `octaves` octaves starting at
// `cells` lattice cells across), CV_32F in about [-1, 1].
cv::Mat value_noise(SceneRng& rng, cv::Size size, int cells, int octaves);

// Fills the image (or the non-zero pixels of `mask`) with a blend of two colours driven by
// a noise field (t = 0.5 + 0.5 * noise).
void fill_blend(cv::Mat& img, Rgb a, Rgb b, const cv::Mat& noise, const cv::Mat& mask = {});

// img *= 1 + strength * noise (where mask, if given, is non-zero).
void modulate(cv::Mat& img, const cv::Mat& noise, float strength, const cv::Mat& mask = {});

// Independent per-pixel noise of +-amplitude on every channel (sensor grain).
void add_grain(cv::Mat& img, SceneRng& rng, int amplitude);

// Global brightness / contrast / colour cast of a different acquisition.
void apply_lighting(cv::Mat& img, SceneRng& rng);

// Polygon helpers.
std::vector<cv::Point> rotated_rect(cv::Point2d centre, double length, double width, double angle_deg);
// A closed blob around `centre`: radius modulated by a few random harmonics (irregularity
// 0 = ellipse).
std::vector<cv::Point> blob(SceneRng& rng, cv::Point2d centre, double rx, double ry, double irregularity);
void fill(cv::Mat& img, const std::vector<cv::Point>& poly, Rgb colour);

// A wandering centre line across the whole image: from one border to the opposite one,
// in direction `angle_deg` (0 = west->east, 90 = north->south), through `through`, with a
// sinusoidal meander of the given amplitude (pixels) and wavelength.
std::vector<cv::Point2d> meander(SceneRng& rng, cv::Point2d through, double angle_deg, double amplitude,
                                 double wavelength);
// Thick polyline (round joins) of a path.
void stroke(cv::Mat& img, const std::vector<cv::Point2d>& path, Rgb colour, int thickness);

// Tree crowns: `count` attempts at random points (kept where `mask` is non-zero, if given),
// radius in [rmin, rmax], each with a shadow to the south-east and a lit side to the
// north-west (sun from the north-west, as in most RS imagery of the northern hemisphere).
void scatter_trees(cv::Mat& img, SceneRng& rng, int count, int rmin, int rmax, Rgb base, int colour_jitter,
                   const cv::Mat& mask = {});

// Land covers used as the setting of rivers, lakes and highways.
enum class Land { grassland, forest, farmland, desert };
const char* land_name(Land land);
void paint_land(cv::Mat& img, SceneRng& rng, Land land);

// Farmland parcels in stripes along `angle_deg` (0 = rows running east-west); returns the
// named crop colours used, most area first; `fields` receives the number of parcels.
std::vector<std::string> paint_fields(cv::Mat& img, SceneRng& rng, double angle_deg, int stripes, int* fields);

// Small objects; each returns its bounding box.
cv::Rect draw_car(cv::Mat& img, cv::Point2d centre, double angle_deg, Rgb colour);
cv::Rect draw_boat(cv::Mat& img, cv::Point2d centre, double angle_deg, double length);
cv::Rect draw_plane(cv::Mat& img, cv::Point2d centre, double angle_deg, double length);
cv::Rect draw_house(cv::Mat& img, cv::Point2d centre, double length, double width, double angle_deg, Rgb roof);
cv::Rect draw_tank(cv::Mat& img, cv::Point2d centre, int radius, Rgb colour);

// Axis-aligned box of a rotated rectangle (to test a placement before drawing it).
cv::Rect footprint(cv::Point2d centre, double length, double width, double angle_deg);

// Named car colours (saturated or clearly darker/lighter than asphalt).
const std::vector<NamedColour>& car_colours();

// True if the rectangles overlap after growing `a` by `margin` pixels on every side.
bool overlaps(const cv::Rect& a, const std::vector<SceneObject>& placed, int margin);

// The image border rectangle shrunk by `margin`.
cv::Rect inner(int margin);

}  // namespace rsclip::data::draw
