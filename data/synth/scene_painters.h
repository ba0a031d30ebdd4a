// The per-class scene painters behind generate_scene (data/synth/synth_scenes.cpp). Each draws
// one 256x256 RGB scene from `rng` into `img` and fills `d` with what it really drew.
// Several draw in a canonical frame (river and highway running east-west, sea in the north,
// quay in the south) and then turn the scene by a random number of quarter turns, which
// moves pixels exactly (cv::rotate) and the description with them.
#pragma once

#include <opencv2/core.hpp>

#include "data/synth/scene_rng.h"
#include "data/synth/synth_scenes.h"

namespace rsclip::data::scenes {

void paint_farmland(cv::Mat& img, SceneRng& rng, SceneDescription& d);
void paint_forest(cv::Mat& img, SceneRng& rng, SceneDescription& d);
void paint_desert(cv::Mat& img, SceneRng& rng, SceneDescription& d);
void paint_river(cv::Mat& img, SceneRng& rng, SceneDescription& d);
void paint_lake(cv::Mat& img, SceneRng& rng, SceneDescription& d);
void paint_beach(cv::Mat& img, SceneRng& rng, SceneDescription& d);
void paint_harbor(cv::Mat& img, SceneRng& rng, SceneDescription& d);
void paint_dense_residential(cv::Mat& img, SceneRng& rng, SceneDescription& d);
void paint_sparse_residential(cv::Mat& img, SceneRng& rng, SceneDescription& d);
void paint_industrial(cv::Mat& img, SceneRng& rng, SceneDescription& d);
void paint_highway(cv::Mat& img, SceneRng& rng, SceneDescription& d);
void paint_airport(cv::Mat& img, SceneRng& rng, SceneDescription& d);
void paint_parking_lot(cv::Mat& img, SceneRng& rng, SceneDescription& d);

// Turns image and description clockwise by `turns` quarter turns (north becomes east).
void rotate_quarter_turns(cv::Mat& img, SceneDescription& d, int turns);

// The compass region of the non-zero pixels of a CV_8U mask (none if empty).
Compass mask_compass(const cv::Mat& mask);

}  // namespace rsclip::data::scenes
