// Writing images without OpenCV's imgcodecs (whose codec plugins pull in GDAL, HDF5 and more):
// baseline JPEG through libjpeg(-turbo) with its defaults (4:2:0, Huffman tables as
// cv::imencode(".jpg") writes them), and 8-bit RGB PNG through libpng. Used by `rsclip synth`
// and the PNG charts.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include <opencv2/core.hpp>

namespace rsclip::data {

// `rgb`: CV_8UC3 in RGB order. rsclip::Error if libjpeg fails.
std::vector<std::uint8_t> encode_jpeg(const cv::Mat& rgb, int quality);

// `bgr`: CV_8UC3 in OpenCV's BGR order (as drawn with cv:: functions). Written atomically.
void write_png(const std::filesystem::path& path, const cv::Mat& bgr);

}  // namespace rsclip::data
