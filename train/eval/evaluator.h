// Zero-shot classification and image-text retrieval evaluation of a CLIP model on the eval
// sets of a config (train/eval/eval_config.h), with the GeoRSCLIP protocol: images
// decoded as PIL does and put through open_clip's eval transform, texts through the model's
// tokenizer, class prompts from the 105 RS templates (or a template file) ensembled by the
// configured rule, metrics as train/eval/eval_metrics.h. Used by `rsclip eval` and by training.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/eval/eval_datasets.h"
#include "data/image/transforms.h"
#include "data/text/tokenizer.h"
#include "models/clip/clip.h"
#include "train/eval/eval_config.h"

namespace rsclip::train {

// The built-in RS zero-shot templates (configs/templates/rs_zeroshot.txt), or a file's lines.
std::vector<std::string> load_templates(const std::string& file);

class Evaluator {
 public:
  // Reads the dataset lists now (errors name the file); images are read at evaluate().
  Evaluator(const EvalSection& config, const data::PreprocessConfig& preprocess, const data::TokenizerConfig& tokenizer,
            int threads);

  bool empty() const { return zeroshot_.empty() && retrieval_.empty(); }

  // {"zeroshot": {NAME: {top1, top5, mean_per_class, samples, per_class: {class: top1}}},
  //  "retrieval": {NAME: {i2t_r1, i2t_r5, i2t_r10, t2i_r1, t2i_r5, t2i_r10, mR, images, captions}}}
  nlohmann::json evaluate(models::CLIPImpl& model, torch::Device device, bool bf16) const;

  // "zeroshot/NAME/top1" -> value, for metrics.jsonl and best-checkpoint tracking.
  static std::map<std::string, double> flatten(const nlohmann::json& results);

  // [N, 3, S, S] eval-transformed images (threads decode in parallel); rsclip::Error names
  // an unreadable file.
  torch::Tensor load_images(const std::vector<std::filesystem::path>& files) const;
  torch::Tensor tokenize(const std::vector<std::string>& texts) const;

 private:
  EvalSection config_;
  data::PreprocessConfig preprocess_;
  std::unique_ptr<data::Tokenizer> tokenizer_;
  int threads_;
  std::vector<std::string> templates_;
  std::vector<std::pair<std::string, data::ClassificationSet>> zeroshot_;
  std::vector<std::pair<std::string, data::RetrievalSet>> retrieval_;
};

}  // namespace rsclip::train
