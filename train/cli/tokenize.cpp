// `rsclip tokenize`: one text per line in, a safetensors file with `tokens` [N, context]
// int64 out, equal to open_clip's tokenizer(texts) for the chosen tokenizer.
#include <sys/resource.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include <ATen/Parallel.h>

#include "core/base/error.h"
#include "core/base/log.h"
#include "core/io/safetensors.h"
#include "data/text/text_unicode.h"
#include "data/text/tokenizer.h"
#include "train/cli/command.h"

namespace rsclip::cli::tokenize_command {

// Lines split on '\n' with one trailing '\r' dropped (CRLF files); a final newline does not
// start another text. Counts lines that are not valid UTF-8 (they are tokenised with U+FFFD
// in place of each bad sequence).
std::vector<std::string> read_lines(const std::string& path, std::size_t& invalid_utf8) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open the texts file", path, "pass a UTF-8 text file with one text per line");
  std::vector<std::string> lines;
  std::string line;
  std::u32string scratch;
  invalid_utf8 = 0;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!data::text::utf8_to_u32(line, scratch)) ++invalid_utf8;
    lines.push_back(std::move(line));
  }
  if (in.bad()) throw Error("read error", path);
  return lines;
}

double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

struct Options {
  std::string texts, out, tokenizer = "clip", sentencepiece_model, clean;
  int context_length = 77;
  bool sentencepiece_bos = false, no_sentencepiece_eos = false;
  int sentencepiece_pad_id = -1;
  int threads = 0;
};

void run(const Options& o) {
  data::TokenizerConfig cfg;
  cfg.type = o.tokenizer;
  cfg.sentencepiece_model = o.sentencepiece_model;
  cfg.context_length = o.context_length;
  cfg.clean = o.clean;
  cfg.sentencepiece_bos = o.sentencepiece_bos;
  cfg.sentencepiece_eos = !o.no_sentencepiece_eos;
  cfg.sentencepiece_pad_id = o.sentencepiece_pad_id;
  auto tokenizer = data::make_tokenizer(cfg);
  if (o.threads > 0) at::set_num_threads(o.threads);

  std::size_t invalid = 0;
  const auto texts = read_lines(o.texts, invalid);
  if (invalid > 0) log::warn("{} of {} lines are not valid UTF-8; bad bytes read as U+FFFD", invalid, texts.size());

  const double cpu_start = process_cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  const torch::Tensor tokens = tokenizer->tokenize(texts);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu = process_cpu_seconds() - cpu_start;
  log::info("tokenized {} texts in {:.3f} s ({:.0f} texts/s, {} threads; {:.3f} s CPU, {:.0f} texts per CPU-second)",
            texts.size(), seconds, seconds > 0 ? texts.size() / seconds : 0.0, at::get_num_threads(), cpu,
            cpu > 0 ? texts.size() / cpu : 0.0);

  Metadata meta{{"tokenizer", cfg.type},
                {"context_length", std::to_string(cfg.context_length)},
                {"texts", std::to_string(texts.size())}};
  if (!cfg.clean.empty()) meta["clean"] = cfg.clean;
  if (!cfg.sentencepiece_model.empty()) meta["sentencepiece_model"] = cfg.sentencepiece_model;
  save_safetensors(o.out, {{"tokens", tokens}}, meta);
}

const Command reg("tokenize", [](CLI::App& cmd) {
  static Options o;
  cmd.description(
      "Tokenize a text file, one text per line, into a safetensors file holding `tokens` [N, context_length] "
      "int64, as open_clip's tokenizer does (clip: SimpleTokenizer; sentencepiece: SigLIP-style layout).");
  cmd.add_option("--texts", o.texts, "UTF-8 text file, one text per line")->required();
  cmd.add_option("--out", o.out, "output .safetensors file")->required();
  cmd.add_option("--tokenizer", o.tokenizer, "clip or sentencepiece")->capture_default_str();
  cmd.add_option("--sentencepiece-model", o.sentencepiece_model,
                 "SentencePiece .model file (--tokenizer sentencepiece)");
  cmd.add_option("--context-length", o.context_length, "ids per text")->capture_default_str();
  cmd.add_option("--clean", o.clean,
                 "text cleaning: lower, whitespace or canonicalize (default: lower for clip, canonicalize for "
                 "sentencepiece)");
  cmd.add_flag("--sentencepiece-bos", o.sentencepiece_bos, "start each sequence with the model's BOS id");
  cmd.add_flag("--no-sentencepiece-eos", o.no_sentencepiece_eos, "do not end each sequence with the model's EOS id");
  cmd.add_option("--sentencepiece-pad-id", o.sentencepiece_pad_id,
                 "padding id (default: the model's pad id, or 0; SigLIP T5 vocabularies use 1)");
  cmd.add_option("--threads", o.threads, "worker threads (default: all cores)");
  cmd.callback([] { run(o); });
});

}  // namespace rsclip::cli::tokenize_command
