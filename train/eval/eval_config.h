// The `eval:` section of a training config (also built from `rsclip eval` flags): which
// zero-shot and retrieval sets to evaluate, with which templates and ensemble rule, how often,
// and which metric names the best checkpoint.
#pragma once

#include <string>
#include <vector>

namespace rsclip::train {

struct EvalSetConfig {
  std::string name;                // label in metrics (default: file/folder name)
  std::string path;                // ImageFolder dir (zeroshot) or .json/.csv/*_caps.txt (retrieval)
  std::string split = "test";      // Karpathy JSON split
  std::string encoding = "utf-8";  // CSV / txt encoding (RSICD's CSV: gb18030)
  std::string image_root;          // images of a retrieval list (default: beside it)
  template <class V>
  void visit(V& v) {
    v("name", name);
    v("path", path);
    v("split", split);
    v("encoding", encoding);
    v("image_root", image_root);
  }
};

struct EvalSection {
  int64_t every_steps = 0;  // 0: only at the end of each epoch (and never if no sets)
  std::vector<EvalSetConfig> zeroshot, retrieval;
  std::string templates;               // file with one "{}" template per line; default: the 105 RS templates
  std::string ensemble = "georsclip";  // georsclip | open_clip
  int64_t batch_size = 64;
  std::string best_metric;  // e.g. "retrieval/rsitmd/mR" or "zeroshot/aid/top1"; empty: no best
  template <class V>
  void visit(V& v) {
    v("every_steps", every_steps);
    v("zeroshot", zeroshot);
    v("retrieval", retrieval);
    v("templates", templates);
    v("ensemble", ensemble);
    v("batch_size", batch_size);
    v("best_metric", best_metric);
  }
  void validate() const;
};

}  // namespace rsclip::train
