// rsclip shards: pack a dataset into webdataset shards (--from), describe shards
// (--inspect), or measure the training loader on them (--bench).
#include <cstdio>

#include <sys/resource.h>

#include <chrono>
#include <memory>

#include "core/base/error.h"
#include "core/base/log.h"
#include "data/image/image_decode.h"
#include "data/loader/clip_processor.h"
#include "data/loader/loader.h"
#include "data/shards/shard_inspect.h"
#include "data/shards/shard_packer.h"
#include "train/cli/command.h"

namespace rsclip::cli::shards_command {

struct Args {
  std::string from, src, out, inspect, bench;
  std::int64_t max_count = 100000, max_size = 3'000'000'000;
  bool rs5m_names = false, no_shuffle = false, decode = false, per_shard = false;
  std::uint64_t seed = 0;
  data::PackSource source;
  std::string prefix = "shard";
  data::DataConfig data;
  std::int64_t batches = 20, warmup = 3;
};

double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

void run_pack(Args& a) {
  if (a.out.empty()) throw Error("--from needs --out DIR", "rsclip shards");
  a.source.kind = a.from;
  a.source.path = a.src;
  auto items = data::pack_items(a.source);
  if (!a.no_shuffle) data::shuffle_items(items, a.seed);
  data::PackOptions o;
  o.out_dir = a.out;
  o.prefix = a.prefix;
  o.max_count = a.max_count;
  o.max_size = a.max_size;
  o.rs5m_names = a.rs5m_names;
  o.relative_to =
      a.source.kind == "imagefolder"
          ? std::filesystem::path(a.src)
          : (a.source.image_root.empty() ? std::filesystem::path(a.src).parent_path() : a.source.image_root);
  const auto r = data::pack_shards(items, o);
  std::printf("%zu samples in %zu shards, %.1f MB: %s ... (sizes.json written)\n", items.size(), r.shards.size(),
              static_cast<double>(r.bytes) / 1e6, r.shards.front().string().c_str());
}

void run_inspect(const Args& a) {
  const auto shards = data::parse_shard_spec(a.inspect);
  const auto choice = data::FieldChoice::parse(a.data.image_fields, a.data.text_fields, a.data.json_fields);
  data::SampleCheck check;
  if (a.decode) {
    check = [](const data::Sample& s) -> std::optional<data::Fault> {
      thread_local cv::Mat rgb;
      try {
        data::decode_image(s.image, rgb);
      } catch (const data::ImageError& e) {
        return e.kind() == data::ImageError::Kind::too_large ? data::Fault::oversized_image
                                                             : data::Fault::undecodable_image;
      }
      return std::nullopt;
    };
  }
  data::ShardInspection total;
  for (const auto& url : shards.urls()) {
    const auto s = data::inspect_shard(url, choice, static_cast<std::uint64_t>(a.data.max_member_bytes), check);
    if (a.per_shard)
      std::printf("%-60s %8lld samples %10.1f MB  %s\n", data::shard_label(url).c_str(),
                  static_cast<long long>(s.samples), static_cast<double>(s.bytes) / 1e6, s.faults.summary().c_str());
    total += s;
  }
  std::printf("shards   %lld\nsamples  %lld (usable %lld, bad %lld)\nbytes    %.1f MB (%.1f KB per sample)\n",
              static_cast<long long>(total.shards), static_cast<long long>(total.samples),
              static_cast<long long>(total.faults.good), static_cast<long long>(total.faults.bad_samples()),
              static_cast<double>(total.bytes) / 1e6,
              total.samples ? static_cast<double>(total.bytes) / 1e3 / static_cast<double>(total.samples) : 0.0);
  std::printf("fields   (count, MB)\n");
  for (const auto& [name, f] : total.fields)
    std::printf("  %-16s %10lld %10.1f\n", name.c_str(), static_cast<long long>(f.count),
                static_cast<double>(f.bytes) / 1e6);
  std::printf("faults   %s%s\n", total.faults.summary().c_str(),
              a.decode ? "" : " (images not decoded: --decode checks them)");
}

void run_bench(Args& a) {
  a.data.shards = a.bench;
  data::ProcessorTimings timings;
  data::Loader loader(a.data, data::clip_processor(a.data, /*train=*/true, &timings));
  loader.start_epoch(0);
  for (std::int64_t i = 0; i < a.warmup; ++i)
    if (!loader.next()) throw Error("fewer batches than --warmup", "rsclip shards --bench");
  timings.decode_ns = timings.transform_ns = timings.tokenize_ns = timings.samples = 0;
  const double cpu0 = cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  std::int64_t images = 0, batches = 0;
  while (batches < a.batches) {
    auto b = loader.next();
    if (!b) break;
    images += b->images.size(0);
    ++batches;
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = cpu_seconds() - cpu0;
  const double n = static_cast<double>(std::max<std::int64_t>(timings.samples.load(), 1));
  const double decode = timings.decode_ns.load() / n / 1e6, transform = timings.transform_ns.load() / n / 1e6,
               tokenize = timings.tokenize_ns.load() / n / 1e6;
  const double per_image_cpu = cpu / std::max<std::int64_t>(images, 1) * 1e3;
  std::printf("images %lld in %.2f s with %d workers: %.0f images/s, %.0f images per CPU-second\n",
              static_cast<long long>(images), wall, a.data.workers, images / wall, images / cpu);
  std::printf(
      "per image (ms of one core): decode %.3f, transform %.3f, tokenize %.3f, rest %.3f (reading, "
      "grouping, shuffling, collation), total %.3f\n",
      decode, transform, tokenize, per_image_cpu - decode - transform - tokenize, per_image_cpu);
  std::printf(
      "{\"images\": %lld, \"wall_s\": %.4f, \"cpu_s\": %.4f, \"workers\": %d, \"decode_ms\": %.4f, "
      "\"transform_ms\": %.4f, \"tokenize_ms\": %.4f, \"faults\": %s}\n",
      static_cast<long long>(images), wall, cpu, a.data.workers, decode, transform, tokenize,
      loader.faults().to_json().dump().c_str());
}

const Command reg("shards", [](CLI::App& cmd) {
  cmd.description(
      "Pack a dataset into webdataset shards (--from), describe shards (--inspect) or measure the training "
      "loader on them (--bench)");
  auto a = std::make_shared<Args>();
  auto* from =
      cmd.add_option("--from", a->from, "pack: source kind")->check(CLI::IsMember({"imagefolder", "karpathy", "csv"}));
  cmd.add_option("src", a->src, "pack: ImageFolder root, Karpathy JSON or caption CSV");
  cmd.add_option("--out", a->out, "pack: output directory");
  cmd.add_option("--maxcount", a->max_count, "pack: samples per shard")->capture_default_str();
  cmd.add_option("--maxsize", a->max_size, "pack: bytes per shard")->capture_default_str();
  cmd.add_flag("--rs5m-names", a->rs5m_names, "pack: RS5M member names (KEY.img_content, KEY.img_name, KEY.caption)");
  cmd.add_option("--prefix", a->prefix, "pack: shard file prefix (PREFIX-000000.tar)")->capture_default_str();
  cmd.add_option("--template", a->source.caption_template, "pack imagefolder: caption with {} for the class")
      ->capture_default_str();
  cmd.add_option("--split", a->source.split, "pack karpathy: split to pack (\"\" = all)")->capture_default_str();
  cmd.add_option("--images", a->source.image_root, "pack karpathy/csv: image directory (default: beside the list)");
  cmd.add_option("--encoding", a->source.encoding, "pack csv: text encoding (gb18030 for RSICD)")
      ->capture_default_str();
  cmd.add_option("--seed", a->seed, "pack: seed of the sample shuffle")->capture_default_str();
  cmd.add_flag("--no-shuffle", a->no_shuffle, "pack: keep the source order");
  auto* inspect = cmd.add_option("--inspect", a->inspect, "inspect: shard SPEC (brace patterns, ::, globs, pipe:)");
  cmd.add_flag("--decode", a->decode, "inspect: decode every image too");
  cmd.add_flag("--per-shard", a->per_shard, "inspect: a line per shard");
  auto* bench = cmd.add_option("--bench", a->bench, "bench: shard SPEC to run the training loader on");
  cmd.add_option("--workers", a->data.workers, "bench: worker threads")->capture_default_str();
  cmd.add_option("--streams", a->data.streams, "bench: shard streams")->capture_default_str();
  cmd.add_option("--batch-size", a->data.batch_size, "bench: batch size")->capture_default_str();
  cmd.add_option("--batches", a->batches, "bench: batches to time")->capture_default_str();
  cmd.add_option("--warmup", a->warmup, "bench: batches before timing")->capture_default_str();
  cmd.add_option("--size", a->data.preprocess.size, "bench: image size")->capture_default_str();
  cmd.add_option("--jpeg-min-side", a->data.augment.jpeg_min_side, "bench: decode-time JPEG downscale (0: off)")
      ->capture_default_str();
  cmd.add_flag("--fast-resize", a->data.augment.fast_resize,
               "bench: OpenCV bilinear crop+resize (augment.fast_resize)");
  cmd.add_option("--image-fields", a->data.image_fields, "image extensions, in order of preference")
      ->capture_default_str();
  cmd.add_option("--text-fields", a->data.text_fields, "caption extensions")->capture_default_str();
  from->excludes(inspect)->excludes(bench);
  inspect->excludes(bench);
  cmd.callback([a, from, inspect, bench] {
    if (*from)
      run_pack(*a);
    else if (*inspect)
      run_inspect(*a);
    else if (*bench)
      run_bench(*a);
    else
      throw Error("nothing to do", "rsclip shards", "give --from KIND SRC --out DIR, --inspect SPEC or --bench SPEC");
  });
});

}  // namespace rsclip::cli::shards_command
