// A sweep file (configs/sweeps/*.yaml) and its expansion into training variants.
//
//   base: ../train/tiny_cpu.yaml     # training config, relative to the sweep file
//   name: tiny_synth                 # sweep directory OUTPUT_DIR/NAME (default: file stem)
//   output_dir: sweeps               # relative to the working directory, as a run's output_dir
//   set:                             # overrides applied to every variant
//     schedule.max_steps: 8
//   list:                            # explicit variants (optional); `name:` replaces the
//     - {name: lora, peft.method: lora, optim.lr: 1.0e-3}   #   key=value parts of its name
//   grid:                            # cartesian product, first key varies slowest
//     optim.lr: [1.0e-3, 1.0e-4]
//   seeds: [0, 1]                    # shorthand for a last grid axis `seed: [0, 1]`
//   metrics: [zeroshot/synth/top1, retrieval/synth/mR]   # summary.json eval keys to tabulate
//   jobs: 1                          # variants run at once (`--jobs` overrides)
//
// Variants = list x grid (each list entry crossed with every grid point; either may be
// absent). A variant's name joins `label=value` parts (label = the key's last component, or
// the whole key where two axes share one) with "_", e.g. `method=lora_lr=0.001_seed=1`, made
// safe for paths; names are stable (they depend only on the file) so a rerun finds its runs
// in OUTPUT_DIR/NAME/runs/<variant>. Overrides per variant, in order: set, list entry, grid.
//
// The grid and list keep the file's key order (a std::map would sort them), so they are read
// as YAML nodes and walked here; the scalar fields use the visit pattern of core/base/config.h.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace rsclip::train {

// One dotted key and its value (kept as YAML so lists and mappings pass through `--set`).
using SweepAssignment = std::pair<std::string, YAML::Node>;

struct SweepListEntry {
  std::string name;  // optional
  std::vector<SweepAssignment> values;
};

struct SweepAxis {
  std::string key;
  std::vector<YAML::Node> values;
};

struct SweepConfig {
  std::filesystem::path file;  // the sweep file
  std::filesystem::path base;  // training config (resolved against the sweep file's folder)
  std::string name;
  std::filesystem::path output_dir = "sweeps";
  std::vector<SweepAssignment> set;
  std::vector<SweepListEntry> list;
  std::vector<SweepAxis> grid;  // `seeds:` appended as a `seed` axis
  std::vector<std::string> metrics;
  int64_t jobs = 1;

  std::filesystem::path dir() const { return output_dir / name; }
  std::filesystem::path runs_dir() const { return dir() / "runs"; }
};

struct SweepVariant {
  std::string name;                                       // stable and path-safe: the run directory's name
  std::string label;                                      // the values alone ("lora_1"), for chart axes
  std::vector<std::pair<std::string, std::string>> axes;  // varied key -> value text, in axis order
  std::vector<std::string> overrides;                     // "key=value" for `rsclip train --set`
  std::string group;                                      // name without the seed axis ("" when there is no seed axis)
  std::string group_label;                                // label without the seed
  std::string seed;                                       // the seed axis' value, "" if none
};

// Reads and checks a sweep file. rsclip::Error names the file and key.
SweepConfig load_sweep_config(const std::filesystem::path& file);

// All variants in order: list entries outermost, then the grid (first key slowest). Throws
// rsclip::Error for duplicate names.
std::vector<SweepVariant> expand_sweep(const SweepConfig& config);

// The `--set` arguments of a variant's training run: its overrides, then `name` and
// `output_dir` (the sweep's runs/ folder), then `extra` (e.g. model.device=cuda).
std::vector<std::string> train_overrides(const SweepConfig& config, const SweepVariant& variant,
                                         const std::vector<std::string>& extra = {});

// Loads the training config of every variant, so a bad key fails before anything runs.
// rsclip::Error names the sweep file, the variant and the key.
void validate_variants(const SweepConfig& config, const std::vector<SweepVariant>& variants,
                       const std::vector<std::string>& extra = {});

// A YAML value as one line of flow-style text ("1.0e-3", "[a, b]", "{name: x}").
std::string yaml_inline(const YAML::Node& value);

}  // namespace rsclip::train
