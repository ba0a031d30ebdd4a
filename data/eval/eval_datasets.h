// Evaluation datasets in the formats RS benchmarks ship in:
//   zero-shot:  ImageFolder (AID, RESISC45, EuroSAT, UCM classes): ROOT/<class>/<image>
//   retrieval:  Karpathy-style caption JSON (RSICD dataset_rsicd.json, RSITMD, UCM-Captions),
//               GeoRSCLIP's CSV lists (filename,title; one row per caption),
//               PE-RSITR / GaLR caption files (*_caps.txt + parallel *_filename.txt).
// Only paths and text are read here; images are decoded by the evaluator.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace rsclip::data {

struct ClassificationSet {
  std::string name;
  std::vector<std::string> folders;  // class folder names, sorted (torchvision ImageFolder order)
  std::vector<std::string> classes;  // prompt names: '_' and '/' -> ' ', lower-cased (GeoRSCLIP)
  std::vector<std::filesystem::path> images;
  std::vector<int64_t> labels;
};

// torchvision ImageFolder: class folders sorted by name, files sorted within each, only image
// extensions rsclip decodes (.jpg .jpeg .png .bmp .tif .tiff .webp, case-insensitive; the
// .ppm/.pgm files torchvision also lists are left out with a warning).
ClassificationSet read_image_folder(const std::filesystem::path& root);

// Whether the extension is one of the ImageFolder image extensions above (case-insensitive).
bool is_image_file(const std::filesystem::path& path);

// The image files under `root`, recursively, sorted by path (rsclip encode --images DIR).
std::vector<std::filesystem::path> list_image_files(const std::filesystem::path& root);

struct RetrievalSet {
  std::string name;
  std::vector<std::filesystem::path> images;
  std::vector<std::string> captions;
  std::vector<int64_t> caption_image;  // image index of each caption (several captions per image)
};

struct RetrievalOptions {
  std::string split = "test";        // Karpathy JSON: which "split" to keep ("" keeps all)
  std::filesystem::path image_root;  // where image files live (default: beside the list file)
  std::string encoding = "utf-8";    // CSV / txt text encoding (RSICD's CSV: gb18030)
  char sep = ',';                    // CSV separator
  std::string image_column = "filename", caption_column = "title";  // CSV columns
};

// Karpathy JSON: {"images": [{"filename", "filepath"?, "split", "sentences": [{"raw"}...]}]}.
// Image order = file order.
RetrievalSet read_karpathy_json(const std::filesystem::path& path, const RetrievalOptions& opt = {});

// GeoRSCLIP CSV: rows of the same image are merged, images in sorted filename order
// (numpy.unique in GeoRSCLIP's CsvDataset.duplicate), captions in row order.
RetrievalSet read_caption_csv(const std::filesystem::path& path, const RetrievalOptions& opt = {});

// PE-RSITR: `X_caps.txt` (one caption per line) with `X_filename.txt` (the image of each
// line); images in order of first appearance.
RetrievalSet read_caption_txt(const std::filesystem::path& caps, const std::filesystem::path& filenames,
                              const RetrievalOptions& opt = {});

// Picks the reader from the path: .json, .csv, or *_caps.txt (its *_filename.txt beside it).
RetrievalSet read_retrieval_set(const std::filesystem::path& path, const RetrievalOptions& opt = {});

}  // namespace rsclip::data
