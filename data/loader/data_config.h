// DataConfig: the `data:` section of a training config. The loader's settings (loader_options.h)
// plus how a sample becomes a model input: image preprocessing (from the model's preprocess
// config: size, mean, std, interpolation, resize mode), training augmentation (GeoRSCLIP's
// RandomResizedCrop 0.9-1.0 + flip + rotation by default) and the tokenizer.
//
//   data:
//     shards: /data/rs5m/pub11-train-{0000..0031}.tar::/data/rs5m/rs3-train-{0000..0031}.tar
//     samples_per_epoch: 5000000
//     batch_size: 400
//     workers: 16
//     augment: {rotate: true, jpeg_min_side: 0, fast_resize: false}
//     tokenizer: {type: clip, context_length: 77}
#pragma once

#include "data/image/transform_config.h"
#include "data/loader/loader_options.h"
#include "data/text/tokenizer_config.h"

namespace rsclip::data {

struct DataConfig : LoaderOptions {
  PreprocessConfig preprocess;
  AugmentConfig augment;
  TokenizerConfig tokenizer;

  template <class V>
  void visit(V& v) {
    LoaderOptions::visit(v);
    v("preprocess", preprocess);
    v("augment", augment);
    v("tokenizer", tokenizer);
  }
};

}  // namespace rsclip::data
