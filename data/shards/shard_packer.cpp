#include "data/shards/shard_packer.h"

#include <fstream>
#include <iterator>
#include <memory>

#include <nlohmann/json.hpp>

#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "core/base/log.h"
#include "core/base/py_random.h"
#include "core/base/utf8.h"
#include "data/eval/csv_reader.h"
#include "data/eval/eval_datasets.h"
#include "data/shards/tar_writer.h"

namespace rsclip::data {
namespace {

namespace fs = std::filesystem;

std::vector<std::uint8_t> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read image", path.string(), "check the path and permissions");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::span<const std::uint8_t> text_bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::string lower_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  if (!ext.empty()) ext.erase(0, 1);
  for (char& c : ext) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  // The extension becomes the field name; anything unusual is stored as generic image bytes.
  if (ext.empty() || ext.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789") != std::string::npos) return "img";
  return ext;
}

std::string shard_name(const std::string& prefix, std::size_t index) {
  char number[16];
  std::snprintf(number, sizeof number, "%06zu", index);
  return prefix + "-" + number + ".tar";
}

}  // namespace

PackResult pack_shards(const std::vector<PackItem>& items, const PackOptions& o) {
  if (o.max_count < 1) throw Error("must be at least 1", "--maxcount");
  if (o.max_size < 1) throw Error("must be positive", "--maxsize");
  if (o.prefix.empty() || o.prefix.find('/') != std::string::npos) throw Error("bad shard prefix", "--prefix");
  fs::create_directories(o.out_dir);
  PackResult result;
  std::unique_ptr<TarWriter> writer;
  std::int64_t count = 0;
  const auto close = [&] {
    if (!writer) return;
    writer->close();
    result.bytes += writer->bytes_written();
    result.counts.push_back(count);
    writer.reset();
  };
  const int digits = items.size() < 100'000'000 ? 8 : 12;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& item = items[i];
    if (!is_valid_utf8(item.caption)) throw Error("caption is not valid UTF-8", item.image.string());
    if (writer && (count >= o.max_count || static_cast<std::int64_t>(writer->bytes_written()) >= o.max_size)) close();
    if (!writer) {
      result.shards.push_back(o.out_dir / shard_name(o.prefix, result.shards.size()));
      writer = std::make_unique<TarWriter>(result.shards.back());
      count = 0;
    }
    char key[32];
    std::snprintf(key, sizeof key, "%0*zu", digits, i);
    const auto image = read_bytes(item.image);
    const std::string rel =
        o.relative_to.empty() ? item.image.string() : item.image.lexically_relative(o.relative_to).string();
    if (o.rs5m_names) {
      writer->add(std::string(key) + ".caption", text_bytes(item.caption));
      writer->add(std::string(key) + ".img_content", image);
      const std::string name = item.image.filename().string();
      writer->add(std::string(key) + ".img_name", text_bytes(name));
    } else {
      nlohmann::json meta = {{"path", rel}};
      if (!item.class_name.empty()) meta["class"] = item.class_name;
      const std::string meta_text = meta.dump();
      const std::string ext = lower_extension(item.image);
      // ShardWriter's order: fields sorted by name ("jpg" < "json" < "txt").
      std::vector<std::pair<std::string, std::span<const std::uint8_t>>> fields = {
          {ext, image}, {"json", text_bytes(meta_text)}, {"txt", text_bytes(item.caption)}};
      std::sort(fields.begin(), fields.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      for (const auto& [name, bytes] : fields) writer->add(std::string(key) + "." + name, bytes);
    }
    ++count;
  }
  close();
  nlohmann::json sizes = nlohmann::json::object();
  for (std::size_t i = 0; i < result.shards.size(); ++i) sizes[result.shards[i].filename().string()] = result.counts[i];
  const std::string text = sizes.dump(1) + "\n";
  write_file_atomic(o.out_dir / "sizes.json", text);
  return result;
}

std::vector<PackItem> pack_items(const PackSource& s) {
  std::vector<PackItem> items;
  if (s.kind == "imagefolder") {
    if (s.caption_template.find("{}") == std::string::npos)
      throw Error("the caption template has no {}", "--template", "e.g. \"a satellite image of {}.\"");
    const auto set = read_image_folder(s.path);
    for (std::size_t i = 0; i < set.images.size(); ++i) {
      const auto& cls = set.classes[static_cast<std::size_t>(set.labels[i])];
      std::string caption = s.caption_template;
      caption.replace(caption.find("{}"), 2, cls);
      items.push_back({set.images[i], caption, set.folders[static_cast<std::size_t>(set.labels[i])]});
    }
  } else if (s.kind == "karpathy" || s.kind == "csv") {
    RetrievalOptions opt;
    opt.split = s.split;
    opt.image_root = s.image_root;
    opt.encoding = s.encoding;
    const auto set = s.kind == "karpathy" ? read_karpathy_json(s.path, opt) : read_caption_csv(s.path, opt);
    for (std::size_t c = 0; c < set.captions.size(); ++c)
      items.push_back({set.images[static_cast<std::size_t>(set.caption_image[c])], set.captions[c], {}});
  } else {
    throw Error("unknown source kind '" + s.kind + "'", "--from", "one of imagefolder, karpathy, csv");
  }
  if (items.empty()) throw Error("no image-caption pairs found", s.path.string(), "check the path (and --split)");
  return items;
}

void shuffle_items(std::vector<PackItem>& items, std::uint64_t seed) {
  PyRandom rng(seed);
  for (std::size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[rng.randbelow(i)]);
}

}  // namespace rsclip::data
