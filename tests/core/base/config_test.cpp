#include "core/base/config.h"

#include <fstream>

#include <gtest/gtest.h>

#include "tests/reference/test_support.h"

namespace rsclip::config {
namespace {

struct Optim {
  double lr = 5e-4;
  double weight_decay = 0.2;
  std::vector<double> betas{0.9, 0.98};
  template <class V>
  void visit(V& v) {
    v("lr", lr);
    v("weight_decay", weight_decay);
    v("betas", betas);
  }
  void validate() const {
    if (lr <= 0) throw Error("must be positive", "lr");
  }
};

struct RunCfg {
  std::string name = "run";
  int epochs = 1;
  bool resume = false;
  std::optional<std::string> checkpoint;
  std::map<std::string, int> sizes;
  Optim optim;
  template <class V>
  void visit(V& v) {
    v("name", name);
    v("epochs", epochs);
    v("resume", resume);
    v("checkpoint", checkpoint);
    v("sizes", sizes);
    v("optim", optim);
  }
};

void write_text(const std::filesystem::path& p, const std::string& text) { std::ofstream(p) << text; }

TEST(Config, ReadsFieldsAndKeepsDefaults) {
  auto run = read<RunCfg>(YAML::Load("name: b32\noptim: {lr: 1.0e-4}\nsizes: {a: 1}\n"));
  EXPECT_EQ(run.name, "b32");
  EXPECT_EQ(run.epochs, 1);
  EXPECT_DOUBLE_EQ(run.optim.lr, 1e-4);
  EXPECT_DOUBLE_EQ(run.optim.weight_decay, 0.2);
  EXPECT_EQ(run.sizes.at("a"), 1);
  EXPECT_FALSE(run.checkpoint.has_value());
}

TEST(Config, UnknownKeyIsAnErrorWithDidYouMean) {
  try {
    read<RunCfg>(YAML::Load("optim: {lrr: 1}\n"), "x.yaml");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.where(), "x.yaml: optim.lrr");
    EXPECT_NE(e.message().find("did you mean 'lr'"), std::string::npos) << e.what();
  }
}

TEST(Config, TypeErrorsNameTheKey) {
  try {
    read<RunCfg>(YAML::Load("epochs: many\n"));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.where(), "epochs");
    EXPECT_NE(e.message().find("expected an integer"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read<RunCfg>(YAML::Load("optim: {lr: -1}\n")), Error);  // validate()
}

TEST(Config, DottedOverridesCreateAndReplace) {
  YAML::Node root = YAML::Load("optim: {lr: 1.0}\n");
  apply_override(root, "optim.lr=2e-4");
  apply_override(root, "optim.betas=[0.5, 0.6]");
  apply_override(root, "checkpoint=/tmp/x.pt");
  auto run = read<RunCfg>(root);
  EXPECT_DOUBLE_EQ(run.optim.lr, 2e-4);
  EXPECT_EQ(run.optim.betas, (std::vector<double>{0.5, 0.6}));
  EXPECT_EQ(run.checkpoint.value(), "/tmp/x.pt");
  EXPECT_THROW(apply_override(root, "no-equals-sign"), Error);
  EXPECT_THROW(apply_override(root, "checkpoint.sub=1"), Error);  // checkpoint is a value, not a section
}

TEST(Config, InheritMergesBasesDeeply) {
  const auto dir = testing::scratch_dir();
  write_text(dir / "base.yaml", "name: base\nepochs: 3\noptim: {lr: 1.0, weight_decay: 0.1}\n");
  write_text(dir / "child.yaml", "inherit: base.yaml\nname: child\noptim: {lr: 2.0}\n");
  auto run = read<RunCfg>(load_file(dir / "child.yaml"));
  EXPECT_EQ(run.name, "child");
  EXPECT_EQ(run.epochs, 3);
  EXPECT_DOUBLE_EQ(run.optim.lr, 2.0);
  EXPECT_DOUBLE_EQ(run.optim.weight_decay, 0.1);
  write_text(dir / "loop.yaml", "inherit: loop.yaml\n");
  EXPECT_THROW(load_file(dir / "loop.yaml"), Error);
  EXPECT_THROW(load_file(dir / "missing.yaml"), Error);
}

TEST(Config, WriteRoundTrips) {
  RunCfg run;
  run.name = "rt";
  run.checkpoint = "c.pt";
  run.optim.betas = {0.1, 0.2};
  auto back = read<RunCfg>(YAML::Load(to_yaml(write(run))));
  EXPECT_EQ(back.name, "rt");
  EXPECT_EQ(back.checkpoint.value(), "c.pt");
  EXPECT_EQ(back.optim.betas, run.optim.betas);
}

}  // namespace
}  // namespace rsclip::config
