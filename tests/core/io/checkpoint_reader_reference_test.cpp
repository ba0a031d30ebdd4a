// rsclip's checkpoint I/O against the Python stack: files written by torch.save /
// torch.jit.save / safetensors are read and compared bitwise with what open_clip's
// load_state_dict returns (scripts/reference/make_torch_files.py), and files rsclip writes
// are read back by torch.load(weights_only=True) and safetensors
// (scripts/reference/check_torch_files.py).
#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/io/checkpoint_reader.h"
#include "core/io/safetensors.h"
#include "tests/reference/test_support.h"

namespace rsclip {
namespace {
namespace fs = std::filesystem;

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

class CheckpointReference : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Per process: ctest runs each TEST of this file as its own process, possibly in parallel.
    dir_ = new fs::path(fs::path(RSCLIP_BINARY_DIR) / "test-tmp" /
                        ("checkpoint_reference_files-" + std::to_string(::getpid())));
    fs::remove_all(*dir_);
    testing::run_python("scripts/reference/make_torch_files.py", {dir_->string()});
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
    dir_ = nullptr;
  }
  static fs::path file(const std::string& name) { return *dir_ / name; }

  // read_state_dict(NAME.pt) equals open_clip's load_state_dict: same keys in the same
  // order, same dtypes, shapes and bytes, and the views and shared storages torch.load gives.
  static void expect_matches_open_clip(const std::string& name, bool check_layout = true) {
    SCOPED_TRACE(name);
    const StateDict sd = read_state_dict(file(name + ".pt"));
    const StateDict expected = load_safetensors(file(name + ".expected.safetensors"));
    const auto spec = read_json(file(name + ".expected.json"));
    std::vector<std::string> keys;
    for (const auto& item : sd) keys.push_back(item.key());
    EXPECT_EQ(keys, spec["keys"].get<std::vector<std::string>>());
    std::map<int, const void*> groups;
    for (const auto& item : sd) {
      const auto& t = item.value();
      ASSERT_TRUE(expected.contains(item.key())) << item.key();
      EXPECT_TRUE(testing::same_bytes(t, expected[item.key()]))
          << item.key() << ": " << t.scalar_type() << t.sizes() << " vs " << expected[item.key()].scalar_type()
          << expected[item.key()].sizes();
      EXPECT_FALSE(t.requires_grad()) << item.key();
      if (!check_layout) continue;
      const auto& layout = spec["layout"][item.key()];
      EXPECT_EQ(t.storage_offset(), layout[0].get<int64_t>()) << item.key();
      EXPECT_EQ(t.strides().vec(), layout[1].get<std::vector<int64_t>>()) << item.key();
      const void* storage = t.storage().unsafeGetStorageImpl();
      EXPECT_EQ(groups.emplace(layout[2].get<int>(), storage).first->second, storage)
          << item.key() << " does not share its storage as in torch.load";
    }
    std::set<const void*> distinct;
    for (const auto& g : groups) distinct.insert(g.second);
    EXPECT_EQ(distinct.size(), groups.size()) << "storages shared that torch.load keeps apart";
    std::printf("  %-16s %zu tensors, %zu storages: bitwise equal to open_clip.load_state_dict\n", name.c_str(),
                sd.size(), groups.size());
  }

  static fs::path* dir_;
};
fs::path* CheckpointReference::dir_ = nullptr;

TEST_F(CheckpointReference, PlainStateDictWithMetadata) { expect_matches_open_clip("plain_fp32"); }
TEST_F(CheckpointReference, AllStorageDtypes) { expect_matches_open_clip("dtypes"); }
TEST_F(CheckpointReference, SharedStoragesViewsAndStrides) { expect_matches_open_clip("views"); }
TEST_F(CheckpointReference, TrainingCheckpointYieldsStateDict) { expect_matches_open_clip("checkpoint"); }
TEST_F(CheckpointReference, ModulePrefixIsStripped) { expect_matches_open_clip("ddp"); }
TEST_F(CheckpointReference, ModulePrefixInsideCheckpoint) { expect_matches_open_clip("ddp_checkpoint"); }
TEST_F(CheckpointReference, BigEndianArchive) { expect_matches_open_clip("big_endian"); }
// TorchScript archives are read by rsclip's own readers (never torch::jit::load): the same
// tensors, names and order as open_clip's load of the scripted module's state_dict().
TEST_F(CheckpointReference, TorchScriptArchive) { expect_matches_open_clip("scripted", /*check_layout=*/false); }

TEST_F(CheckpointReference, GeneralCheckpointContents) {
  const c10::IValue value = read_torch_file(file("checkpoint.pt"));
  const auto spec = read_json(file("checkpoint.json"));
  ASSERT_TRUE(value.isGenericDict());
  const auto ckpt = value.toGenericDict();
  std::vector<std::string> keys;
  for (const auto& item : ckpt) keys.push_back(item.key().toStringRef());
  EXPECT_EQ(keys, (std::vector<std::string>{"epoch", "name", "state_dict", "optimizer"}));
  EXPECT_EQ(ckpt.at("epoch").toInt(), spec["epoch"].get<int64_t>());
  EXPECT_EQ(ckpt.at("name").toStringRef(), spec["name"].get<std::string>());

  const auto optimizer = ckpt.at("optimizer").toGenericDict();
  const auto group = optimizer.at("param_groups").toListRef()[0].toGenericDict();
  EXPECT_EQ(group.at("lr").toDouble(), spec["lr"].get<double>());
  const auto betas = group.at("betas").toTupleRef().elements();
  ASSERT_EQ(betas.size(), 2u);
  EXPECT_EQ(betas[0].toDouble(), spec["betas"][0].get<double>());
  EXPECT_EQ(betas[1].toDouble(), spec["betas"][1].get<double>());
  EXPECT_EQ(group.at("amsgrad").toBool(), spec["amsgrad"].get<bool>());
  std::vector<int64_t> params;
  for (const auto& p : group.at("params").toListRef()) params.push_back(p.toInt());
  EXPECT_EQ(params, spec["params"].get<std::vector<int64_t>>());

  // Optimizer state: int keys -> {'step', 'exp_avg', 'exp_avg_sq'} tensors.
  const StateDict expected = load_safetensors(file("checkpoint.optimizer.safetensors"));
  std::size_t compared = 0;
  for (const auto& entry : optimizer.at("state").toGenericDict()) {
    for (const auto& field : entry.value().toGenericDict()) {
      const std::string name = "state." + std::to_string(entry.key().toInt()) + "." + field.key().toStringRef();
      ASSERT_TRUE(expected.contains(name)) << name;
      EXPECT_TRUE(testing::same_bytes(field.value().toTensor(), expected[name])) << name;
      ++compared;
    }
  }
  EXPECT_EQ(compared, expected.size());
}

TEST_F(CheckpointReference, FormatIsDecidedByContentNotName) {
  const StateDict a = read_state_dict(file("disguised_safetensors.pt"));
  const StateDict b = read_state_dict(file("disguised_torch.safetensors"));
  EXPECT_TRUE(testing::same_bytes(a["x"], torch::ones({2})));
  EXPECT_TRUE(testing::same_bytes(b["x"], torch::ones({2})));
}

TEST_F(CheckpointReference, ReadsPythonSafetensors) {
  Metadata meta;
  const StateDict sd = load_safetensors(file("py_written.safetensors"), &meta);
  EXPECT_EQ(meta.at("who"), "python");
  EXPECT_EQ(sd["b"].scalar_type(), torch::kLong);
  EXPECT_TRUE(testing::same_bytes(sd["b"], torch::arange(5)));
  EXPECT_EQ(sd["c"].scalar_type(), torch::kBFloat16);
  EXPECT_EQ(sd["a"].sizes(), (std::vector<int64_t>{2, 3}));
  // The same file through the format-sniffing entry point.
  EXPECT_TRUE(testing::same_bytes(read_state_dict(file("py_written.safetensors"))["a"], sd["a"]));
}

// Which attributes are parameters is written in the archive's code/: without it the module
// tree cannot be read as weights, and rsclip says so rather than guessing.
TEST_F(CheckpointReference, TorchScriptWithoutItsCodeIsAClearError) {
  try {
    read_state_dict(file("scripted_nocode.zip"));
    FAIL() << "expected rsclip::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no definition of module class __torch__."), std::string::npos) << e.what();
  }
}

TEST_F(CheckpointReference, TorchScriptIsNotAGeneralTorchFile) {
  try {
    read_torch_file(file("scripted.pt"));
    FAIL() << "expected rsclip::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("TorchScript"), std::string::npos) << e.what();
  }
}

// rsclip writes; torch.load(weights_only=True) and safetensors read.
TEST(CheckpointWriteReference, PythonReadsWhatRsclipWrites) {
  const fs::path dir = testing::scratch_dir();
  torch::manual_seed(3);
  const auto base = torch::randn({6, 8});
  const auto half = torch::randn({10}).to(torch::kHalf);
  StateDict sd;
  sd.insert("visual.proj", torch::randn({5, 3}));
  sd.insert("base", base);
  sd.insert("base_t", base.t());
  sd.insert("slice", base.slice(0, 2, 5).slice(1, 1, 7, 2));
  sd.insert("row", base[3]);
  sd.insert("half", half);
  sd.insert("half_tail", half.slice(0, 4));
  sd.insert("bf16", torch::randn({4, 2}).to(torch::kBFloat16));
  sd.insert("f64", torch::randn({3}).to(torch::kDouble));
  sd.insert("i64", torch::randint(-(int64_t{1} << 40), int64_t{1} << 40, {2, 3}, torch::kLong));
  sd.insert("i32", torch::randint(-1000, 1000, {4}, torch::kInt));
  sd.insert("u8", torch::randint(0, 255, {5}, torch::kByte));
  sd.insert("flags", torch::rand({5}) > 0.5);
  sd.insert("logit_scale", torch::tensor(4.6052f));
  sd.insert("empty", torch::zeros({0, 3}));
  sd.insert("wide", torch::randn({2, 2, 2, 2, 3}));
  write_torch_state_dict(dir / "cpp_state_dict.pt", sd);

  StateDict contiguous;
  nlohmann::json spec{{"keys", nlohmann::json::array()}, {"layout", nlohmann::json::object()}};
  std::map<const void*, int> groups;
  for (const auto& item : sd) {
    contiguous.insert(item.key(), item.value().contiguous());
    const void* storage = item.value().storage().unsafeGetStorageImpl();
    const int group = groups.emplace(storage, static_cast<int>(groups.size())).first->second;
    spec["keys"].push_back(item.key());
    spec["layout"][item.key()] = {item.value().storage_offset(), item.value().strides().vec(), group};
  }
  save_safetensors(dir / "cpp_state_dict.safetensors", contiguous);
  std::ofstream(dir / "cpp_state_dict.json") << spec.dump();

  c10::impl::GenericDict nested(c10::AnyType::get(), c10::AnyType::get());
  nested.insert("ints", c10::IValue(std::vector<int64_t>{1, -2, 300, 70000, INT32_MIN, int64_t{1} << 31,
                                                         int64_t{1} << 40, -(int64_t{1} << 40), INT64_MAX, INT64_MIN}));
  nested.insert(int64_t{7}, "seven");
  c10::impl::GenericList flags(c10::AnyType::get());
  flags.push_back(true);
  flags.push_back(false);
  flags.push_back(c10::IValue());
  c10::impl::GenericDict trainer(c10::AnyType::get(), c10::AnyType::get());
  trainer.insert("step", int64_t{12});
  trainer.insert("lr", 0.5);
  trainer.insert("name", "run-\xc3\xa9");
  trainer.insert("betas", c10::ivalue::Tuple::create({0.9, 0.98}));
  trainer.insert("flags", flags);
  trainer.insert("nested", nested);
  trainer.insert("weights", torch::arange(6, torch::kFloat).view({2, 3}).t());
  write_torch_file(dir / "cpp_trainer.pt", trainer);

  const std::string out = testing::run_python("scripts/reference/check_torch_files.py", {dir.string()});
  std::printf("%s", out.c_str());
  EXPECT_NE(out.find("ok"), std::string::npos);

  // And rsclip reads its own files back identically.
  const StateDict back = read_state_dict(dir / "cpp_state_dict.pt");
  for (const auto& item : sd) EXPECT_TRUE(testing::same_bytes(back[item.key()], item.value())) << item.key();
}

}  // namespace
}  // namespace rsclip
