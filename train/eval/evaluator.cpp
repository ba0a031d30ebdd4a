#include "train/eval/evaluator.h"

#include <atomic>
#include <sstream>
#include <thread>

#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "core/base/log.h"
#include "core/base/stop_signal.h"
#include "data/image/image_decode.h"
#include "models/io/model_io.h"
#include "train/eval/eval_metrics.h"

extern "C" const unsigned char rsclip_rs_templates_begin[];
extern "C" const unsigned char rsclip_rs_templates_end[];

namespace rsclip::train {
namespace fs = std::filesystem;

std::vector<std::string> load_templates(const std::string& file) {
  const std::string text = file.empty() ? std::string(reinterpret_cast<const char*>(rsclip_rs_templates_begin),
                                                      reinterpret_cast<const char*>(rsclip_rs_templates_end))
                                        : read_file(file);
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (line.find("{}") == std::string::npos) {
      throw Error("template without {} for the class name: '" + line + "'", file.empty() ? "built-in templates" : file);
    }
    out.push_back(line);
  }
  if (out.empty()) throw Error("no templates", file);
  return out;
}

namespace {

std::string set_name(const EvalSetConfig& s) {
  if (!s.name.empty()) return s.name;
  fs::path p(s.path);
  if (p.filename().empty()) p = p.parent_path();
  return p.stem().string();
}

double round2(double v) { return std::round(v * 100.0) / 100.0; }

}  // namespace

Evaluator::Evaluator(const EvalSection& config, const data::PreprocessConfig& preprocess,
                     const data::TokenizerConfig& tokenizer, int threads)
    : config_(config),
      preprocess_(preprocess),
      tokenizer_(data::make_tokenizer(tokenizer)),
      threads_(std::max(1, threads)) {
  for (const auto& s : config.zeroshot) zeroshot_.emplace_back(set_name(s), data::read_image_folder(s.path));
  for (const auto& s : config.retrieval) {
    data::RetrievalOptions opt;
    opt.split = s.split;
    opt.encoding = s.encoding;
    opt.image_root = s.image_root;
    retrieval_.emplace_back(set_name(s), data::read_retrieval_set(s.path, opt));
  }
  if (!zeroshot_.empty()) templates_ = load_templates(config.templates);
}

torch::Tensor Evaluator::load_images(const std::vector<fs::path>& files) const {
  const int64_t size = preprocess_.size;
  auto out = torch::empty({static_cast<int64_t>(files.size()), 3, size, size});
  std::atomic<std::size_t> next{0};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  auto work = [&] {
    auto transform = data::make_eval_transform(preprocess_);
    cv::Mat rgb;
    for (std::size_t i; (i = next++) < files.size();) {
      if (stop::requested()) next = files.size();  // a stop signal: give up within one image
      try {
        const std::string bytes = read_file(files[i]);
        data::decode_image({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}, rgb);
        transform->apply(rgb, 0, out[static_cast<int64_t>(i)].data_ptr<float>());
      } catch (...) {  // every exception reaches the caller; none ends a thread (std::terminate)
        std::lock_guard<std::mutex> lock(failure_mutex);
        if (!failure) {
          try {
            throw;
          } catch (const Error& e) {
            failure = std::make_exception_ptr(Error(e.message(), files[i].string(), e.hint()));
          } catch (...) {
            failure = std::current_exception();
          }
        }
        next = files.size();
      }
    }
  };
  std::vector<std::thread> pool;
  const int n = std::min<int>(threads_, static_cast<int>(std::max<std::size_t>(files.size(), 1)));
  for (int t = 0; t < n; ++t) pool.emplace_back(work);
  for (auto& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
  stop::throw_if_requested();
  return out;
}

torch::Tensor Evaluator::tokenize(const std::vector<std::string>& texts) const { return tokenizer_->tokenize(texts); }

nlohmann::json Evaluator::evaluate(models::CLIPImpl& model, torch::Device device, bool bf16) const {
  const bool was_training = model.is_training();
  model.eval();
  const int64_t batch = config_.batch_size;
  auto encode_images = [&](const torch::Tensor& pixels) {
    return models::encode_batched([&](const torch::Tensor& x) { return model.encode_image(x); }, pixels, batch, device,
                                  bf16);
  };
  auto encode_texts = [&](const std::vector<std::string>& texts) {
    return models::encode_batched([&](const torch::Tensor& x) { return model.encode_text(x); }, tokenize(texts), batch,
                                  device, bf16);
  };
  nlohmann::json results = {{"zeroshot", nlohmann::json::object()}, {"retrieval", nlohmann::json::object()}};
  const Ensemble ensemble = parse_ensemble(config_.ensemble);
  for (const auto& [name, set] : zeroshot_) {
    std::vector<torch::Tensor> per_class;
    for (const auto& cls : set.classes) {
      std::vector<std::string> prompts;
      for (const auto& t : templates_) {
        std::string p = t;
        p.replace(p.find("{}"), 2, cls);
        prompts.push_back(std::move(p));
      }
      per_class.push_back(encode_texts(prompts));
    }
    const auto classifier = build_classifier(per_class, ensemble);
    const auto features = encode_images(load_images(set.images));
    const auto r = zeroshot_metrics(features, classifier, torch::tensor(set.labels, torch::kLong));
    nlohmann::json per_class_json = nlohmann::json::object();
    for (std::size_t c = 0; c < set.classes.size(); ++c) per_class_json[set.folders[c]] = round2(r.per_class[c]);
    results["zeroshot"][name] = {{"top1", round2(r.top1)},
                                 {"top5", round2(r.top5)},
                                 {"mean_per_class", round2(r.mean_per_class)},
                                 {"samples", r.samples},
                                 {"per_class", per_class_json}};
  }
  for (const auto& [name, set] : retrieval_) {
    const auto images = encode_images(load_images(set.images));
    const auto texts = encode_texts(set.captions);
    const auto r = retrieval_metrics(images, texts, set.caption_image);
    results["retrieval"][name] = {
        {"i2t_r1", round2(r.i2t_r1)},  {"i2t_r5", round2(r.i2t_r5)}, {"i2t_r10", round2(r.i2t_r10)},
        {"t2i_r1", round2(r.t2i_r1)},  {"t2i_r5", round2(r.t2i_r5)}, {"t2i_r10", round2(r.t2i_r10)},
        {"mR", round2(r.mean_recall)}, {"images", r.images},         {"captions", r.captions}};
  }
  if (was_training) model.train();
  return results;
}

std::map<std::string, double> Evaluator::flatten(const nlohmann::json& results) {
  std::map<std::string, double> out;
  for (const char* kind : {"zeroshot", "retrieval"}) {
    if (!results.contains(kind)) continue;
    for (auto set = results[kind].begin(); set != results[kind].end(); ++set) {
      for (auto m = set->begin(); m != set->end(); ++m) {
        if (m->is_number() && m.key() != "samples" && m.key() != "images" && m.key() != "captions") {
          out[std::string(kind) + "/" + set.key() + "/" + m.key()] = m->get<double>();
        }
      }
    }
  }
  return out;
}

void EvalSection::validate() const {
  if (every_steps < 0 || batch_size < 1) throw Error("every_steps >= 0 and batch_size >= 1 needed", "eval");
  if (ensemble != "georsclip" && ensemble != "open_clip") throw Error("must be georsclip or open_clip", "ensemble");
  for (const auto* sets : {&zeroshot, &retrieval}) {
    for (const auto& s : *sets) {
      if (s.path.empty()) throw Error("every eval set needs a path", sets == &zeroshot ? "zeroshot" : "retrieval");
    }
  }
  if (!best_metric.empty() && best_metric.rfind("zeroshot/", 0) != 0 && best_metric.rfind("retrieval/", 0) != 0) {
    throw Error("best_metric must look like zeroshot/NAME/top1 or retrieval/NAME/mR", "best_metric");
  }
}

}  // namespace rsclip::train
