#include "train/loop/train_state.h"

#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "core/io/safetensors.h"

namespace rsclip::train {
namespace fs = std::filesystem;

void write_train_checkpoint(const fs::path& dir, const Checkpoint& c) {
  save_safetensors(
      dir / "model.safetensors", c.model,
      {{"format", "rsclip-checkpoint"}, {"model_config", c.model_config_json}, {"peft", c.peft_config_json}});
  save_safetensors(dir / "optimizer.safetensors", c.optimizer);
  if (!c.ema.is_empty()) save_safetensors(dir / "ema.safetensors", c.ema);
  save_safetensors(dir / "rng.safetensors", c.rng);
  nlohmann::json j = {
      {"format_version", kCheckpointFormat},
      {"step", c.counters.step},
      {"epoch", c.counters.epoch},
      {"samples", c.counters.samples},
      {"nonfinite_skipped", c.counters.nonfinite_skipped},
      {"best_metric", c.counters.best_metric},
      {"best_value", c.counters.best_step >= 0 ? nlohmann::json(c.counters.best_value) : nlohmann::json()},
      {"best_step", c.counters.best_step},
      {"seconds", c.counters.seconds},
      {"world_size", c.world_size},
      {"metrics_records", c.metrics_records},
      {"data_states", nlohmann::json::array()}};
  for (const auto& s : c.data_states) j["data_states"].push_back(nlohmann::json::parse(s));
  write_file_atomic(dir / "trainer.json", j.dump(1) + "\n");
  write_file_atomic(dir / "config.yaml", c.config_yaml);
}

Checkpoint read_train_checkpoint(const fs::path& dir) {
  Checkpoint c;
  const std::string where = dir.string();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(dir / "trainer.json"));
    if (j.at("format_version").get<int>() != kCheckpointFormat) {
      throw Error("checkpoint format " + j["format_version"].dump() + ", this rsclip reads " +
                      std::to_string(kCheckpointFormat),
                  where, "resume with the rsclip version that wrote it");
    }
    c.counters.step = j.at("step");
    c.counters.epoch = j.at("epoch");
    c.counters.samples = j.at("samples");
    c.counters.nonfinite_skipped = j.at("nonfinite_skipped");
    c.counters.best_metric = j.at("best_metric");
    c.counters.best_step = j.at("best_step");
    c.counters.seconds = j.value("seconds", 0.0);
    if (!j.at("best_value").is_null()) c.counters.best_value = j["best_value"];
    c.world_size = j.at("world_size");
    c.metrics_records = j.value("metrics_records", int64_t{-1});
    for (const auto& s : j.at("data_states")) c.data_states.push_back(s.dump());
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("malformed trainer.json: ") + e.what(), where);
  }
  Metadata meta;
  c.model = load_safetensors(dir / "model.safetensors", &meta);
  c.model_config_json = meta["model_config"];
  c.peft_config_json = meta["peft"];
  c.optimizer = load_safetensors(dir / "optimizer.safetensors");
  if (fs::exists(dir / "ema.safetensors")) c.ema = load_safetensors(dir / "ema.safetensors");
  c.rng = load_safetensors(dir / "rng.safetensors");
  c.config_yaml = read_file(dir / "config.yaml");
  return c;
}

StateDict capture_rng(int rank, torch::Device device) {
  StateDict s;
  at::Generator cpu = at::detail::getDefaultCPUGenerator();
  s.insert(fmt::format("rank{}.cpu", rank), cpu.get_state());
  if (device.is_cuda()) {
    at::Generator cuda = at::globalContext().defaultGenerator(device);
    s.insert(fmt::format("rank{}.cuda", rank), cuda.get_state());
  }
  return s;
}

void restore_rng(const StateDict& rng, int rank, torch::Device device) {
  const auto* cpu_state = rng.find(fmt::format("rank{}.cpu", rank));
  if (!cpu_state) throw Error(fmt::format("no RNG state for rank {}", rank), "rng.safetensors");
  at::Generator cpu = at::detail::getDefaultCPUGenerator();
  cpu.set_state(*cpu_state);
  if (device.is_cuda()) {
    if (const auto* cuda_state = rng.find(fmt::format("rank{}.cuda", rank))) {
      at::Generator cuda = at::globalContext().defaultGenerator(device);
      cuda.set_state(*cuda_state);
    }
  }
}

std::vector<std::string> gather_strings(Distributed* dist, const std::string& s) {
  if (!dist || !dist->enabled()) return {s};
  const auto opts = torch::TensorOptions().device(dist->device());
  auto len = torch::full({1}, static_cast<int64_t>(s.size()), opts.dtype(torch::kLong));
  auto lens = dist->all_gather(len).cpu();
  const int64_t max_len = lens.max().item<int64_t>();
  auto bytes = torch::zeros({max_len}, torch::kUInt8);
  std::memcpy(bytes.data_ptr(), s.data(), s.size());
  auto all = dist->all_gather(bytes.to(dist->device())).cpu().view({dist->world_size(), max_len});
  std::vector<std::string> out;
  for (int r = 0; r < dist->world_size(); ++r) {
    out.emplace_back(reinterpret_cast<const char*>(all[r].data_ptr<uint8_t>()), lens[r].item<int64_t>());
  }
  return out;
}

}  // namespace rsclip::train
