// Method-specific behaviour and the error paths of the PEFT layer on ViT-tiny-test: target
// globs and their errors, config validation, refusing a second application, non-finite
// merges, mismatched adapter files, CoOp's token placement, VPT's token layout,
// MRS-Adapter's sharing, and the HMMC input-dropout scope.
#include <gtest/gtest.h>

#include "core/base/config.h"
#include "core/base/error.h"
#include "core/io/safetensors.h"
#include "models/peft/adapter_io.h"
#include "models/peft/peft.h"
#include "models/peft/targets.h"
#include "tests/models/peft/peft_test_support.h"
#include "tests/reference/test_support.h"

namespace rsclip::models::peft {
namespace {

PeftConfig method(const std::string& name) {
  PeftConfig c;
  c.method = name;
  return c;
}

std::string error_text(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return std::string(e.what()) + " | where: " + e.where() + " | hint: " + e.hint();
  }
  return "";
}

TEST(PeftTargets, GlobMatchesWholeNames) {
  EXPECT_TRUE(glob_match("*.attn.in_proj", "visual.transformer.resblocks.0.attn.in_proj"));
  EXPECT_TRUE(glob_match("*.attn.in_proj", "transformer.resblocks.11.attn.in_proj"));
  EXPECT_TRUE(glob_match("visual.transformer.resblocks.?.mlp.c_fc", "visual.transformer.resblocks.3.mlp.c_fc"));
  EXPECT_FALSE(glob_match("visual.transformer.resblocks.?.mlp.c_fc", "visual.transformer.resblocks.11.mlp.c_fc"));
  EXPECT_FALSE(glob_match("*.attn", "transformer.resblocks.0.attn.out_proj"));  // whole name only
  EXPECT_TRUE(glob_match("*", "anything.at.all"));
  EXPECT_FALSE(glob_match("visual.*", "transformer.resblocks.0"));
}

TEST(PeftTargets, PatternMatchingNothingIsAnErrorListingCloseNames) {
  auto cfg = method("lora");
  cfg.lora.targets = {"*.attn.in_proj", "visual.transformer.resblocks.*.attn.qkv"};
  const auto msg = error_text([&] { TinyFixture f(cfg); });
  std::printf("%s\n", msg.c_str());
  EXPECT_NE(msg.find("'visual.transformer.resblocks.*.attn.qkv' matches none"), std::string::npos);
  EXPECT_NE(msg.find("visual.transformer.resblocks.0.attn.in_proj"), std::string::npos);  // a close name
  EXPECT_NE(msg.find("peft.lora.targets"), std::string::npos);

  auto blocks = method("houlsby");
  blocks.houlsby.targets = {"visual.transformer.resblocks.7"};
  EXPECT_NE(error_text([&] { TinyFixture f(blocks); }).find("visual.transformer.resblocks.1"), std::string::npos);
  // LayerNorms are no LoRA target.
  auto ln = method("lora");
  ln.lora.targets = {"*.ln_1"};
  EXPECT_NE(error_text([&] { TinyFixture f(ln); }).find("matches none"), std::string::npos);
}

TEST(PeftConfigTest, UnknownMethodAndBadOptionsAreErrors) {
  EXPECT_NE(error_text([] { find_method("lroa"); }).find("did you mean 'lora'"), std::string::npos);
  EXPECT_NE(error_text([] { config::read<PeftConfig>(YAML::Load("method: mrs_adaptr")); }).find("mrs_adapter"),
            std::string::npos);
  EXPECT_NE(error_text([] {
              config::read<PeftConfig>(YAML::Load("method: lora\nlora: {rnak: 4}"));
            }).find("did you mean 'rank'"),
            std::string::npos);
  EXPECT_NE(error_text([] { config::read<PeftConfig>(YAML::Load("lora: {qkv: qx}")); }).find("qkv may only contain"),
            std::string::npos);
  auto rank0 = method("lora");
  rank0.lora.rank = 0;
  EXPECT_NE(error_text([&] { TinyFixture f(rank0); }).find("peft.lora"), std::string::npos);
  auto wide = method("mrs_adapter");  // default shared_dim 64 = the tiny towers' width
  EXPECT_NE(error_text([&] { TinyFixture f(wide); }).find("shared_dim"), std::string::npos);
  auto lock_nothing = method("lock");
  lock_nothing.lock.image = false;
  EXPECT_NE(error_text([&] { TinyFixture f(lock_nothing); }).find("neither tower"), std::string::npos);
  auto towers = method("clip_adapter");
  towers.clip_adapter.towers = {"image", "audio"};
  EXPECT_NE(error_text([&] { TinyFixture f(towers); }).find("unknown tower 'audio'"), std::string::npos);
}

TEST(PeftConfigTest, YamlAndJsonRoundTrip) {
  const auto cfg = config::read<PeftConfig>(
      YAML::Load("method: lora\nlora: {rank: 4, alpha: 8.5, qkv: qkv, targets: ['*.mlp.c_fc']}"), "test.yaml");
  EXPECT_EQ(cfg.lora.rank, 4);
  EXPECT_DOUBLE_EQ(cfg.lora.alpha, 8.5);
  const auto json = to_json(cfg);
  EXPECT_EQ(json["lora"]["targets"][0], "*.mlp.c_fc");
  EXPECT_FALSE(json.contains("vpt"));  // only the chosen method's section
  const auto back = peft_config_from_json(json, "metadata");
  EXPECT_EQ(to_json(back), json);
  EXPECT_NE(error_text([] {
              peft_config_from_json(nlohmann::json::parse(R"({"method": "vpt", "vpt": {"deep": 3}})"), "m");
            }).find("true or false"),
            std::string::npos);
}

TEST(PeftApply, SecondApplicationIsRefused) {
  TinyFixture f(method("houlsby"));
  EXPECT_NE(error_text([&] { apply_method(*f.model, method("lora")); }).find("already carries PEFT method 'houlsby'"),
            std::string::npos);
}

TEST(PeftMerge, NonFiniteMergeIsRefusedAndChangesNothing) {
  auto cfg = method("lora");
  cfg.lora.targets = {"*.attn.in_proj", "*.mlp.c_fc"};
  TinyFixture f(cfg);
  auto params = f.model->named_parameters();
  {
    torch::NoGradGuard no_grad;
    for (auto& p : params) {
      if (p.key().find("lora_B") != std::string::npos) p.value().normal_();
    }
    params["transformer.resblocks.1.mlp.c_fc.lora_B.weight"][0][0] = std::numeric_limits<float>::infinity();
  }
  StateDict before;
  for (const auto& p : params) before.insert(p.key(), p.value().detach().clone());
  const auto msg = error_text([&] { merge(*f.model); });
  EXPECT_NE(msg.find("non-finite"), std::string::npos) << msg;
  EXPECT_NE(msg.find("transformer.resblocks.1.mlp.c_fc"), std::string::npos) << msg;
  for (const auto& p : f.model->named_parameters()) EXPECT_TRUE(torch::equal(p.value(), before[p.key()])) << p.key();
  EXPECT_THROW(export_state_dict(*f.model), Error);
}

TEST(PeftAdapterFile, MismatchesAndForeignFilesAreErrors) {
  auto cfg = method("lora");
  cfg.lora.rank = 4;
  TinyFixture f(cfg);
  const auto dir = testing::scratch_dir();
  save_adapter(dir / "a.safetensors", *f.model, cfg);
  auto other = cfg;
  other.lora.rank = 2;
  TinyFixture g(other);
  const auto msg = error_text([&] { load_adapter_weights(*g.model, other, dir / "a.safetensors"); });
  EXPECT_NE(msg.find("Size mismatch"), std::string::npos) << msg;
  auto wider = cfg;
  wider.lora.qkv = "qkv";
  TinyFixture h(wider);
  EXPECT_NE(error_text([&] { load_adapter_weights(*h.model, wider, dir / "a.safetensors"); }).find("Missing key"),
            std::string::npos);
  save_safetensors(dir / "plain.safetensors", f.base_state);
  EXPECT_NE(error_text([&] { read_adapter_config(dir / "plain.safetensors"); }).find("not an rsclip adapter file"),
            std::string::npos);
  save_safetensors(
      dir / "bad.safetensors", f.base_state,
      {{"format", "rsclip.peft"}, {"format_version", "1"}, {"method", "lora"}, {"peft_config", "{not json"}});
  EXPECT_NE(error_text([&] { read_adapter_config(dir / "bad.safetensors"); }).find("not valid JSON"),
            std::string::npos);
}

// CoOp places the context around "the class" = the tokens between SOS and EOT.
TEST(PeftCoop, ContextPlacementAndTruncation) {
  const int64_t sos = 49406, eot = 49407, a = 320, b = 321;
  auto tokens = torch::zeros({2, 77}, torch::kLong);
  tokens[0][0] = sos, tokens[0][1] = a, tokens[0][2] = b, tokens[0][3] = eot;
  tokens[1][0] = sos;
  tokens[1].slice(0, 1, 76).fill_(a);
  tokens[1][76] = eot;
  struct Expect {
    const char* position;
    std::vector<int64_t> row0;  // first 7 ids, 0 = a context slot
  };
  for (const auto& e : {Expect{"end", {sos, 0, 0, a, b, eot, 0}}, Expect{"front", {sos, a, b, 0, 0, eot, 0}},
                        Expect{"middle", {sos, 0, a, b, 0, eot, 0}}}) {
    auto cfg = method("coop");
    cfg.coop.n_ctx = 2;
    cfg.coop.class_token_position = e.position;
    TinyFixture f(cfg);
    torch::NoGradGuard no_grad;
    const auto out = f.model->text->embed(tokens);
    EXPECT_TRUE(torch::equal(out.tokens[0].slice(0, 0, 7), torch::tensor(e.row0)))
        << e.position << out.tokens[0].slice(0, 0, 7);
    // Row 1 filled the context: it keeps its first tokens and ends in EOT.
    EXPECT_EQ(out.tokens[1][76].item<int64_t>(), eot) << e.position;
    EXPECT_EQ((out.tokens[1] == eot).sum().item<int64_t>(), 1) << e.position;
    // Embeddings: context slots hold ctx + position, text slots token embedding + position.
    const auto ctx = f.model->named_parameters()["coop_context.ctx"];
    const auto pos = f.model->text->positional_embedding;
    const auto table = f.model->text->token_embedding->weight;
    int64_t slot = 0;
    for (int64_t p = 0; p < 7; ++p) {
      const int64_t id = e.row0[p];
      const auto expected = (id == 0 && p < 6 && slot < 2) ? ctx[slot++] + pos[p] : table[id] + pos[p];
      EXPECT_TRUE(torch::allclose(out.embeddings[0][p], expected)) << e.position << " position " << p;
    }
  }
}

TEST(PeftVpt, PromptsAreRemovedAfterTheBlocksAndDeepDiffersFromShallow) {
  auto deep = method("vpt");
  deep.vpt.num_tokens = 4;
  auto shallow = deep;
  shallow.vpt.deep = false;
  TinyFixture d(deep), s(shallow);
  torch::NoGradGuard no_grad;
  d.model->eval();
  s.model->eval();
  const auto x = d.model->visual->embed(d.pixels);
  EXPECT_EQ(d.model->visual->transformer->forward(x, false).sizes(), x.sizes());
  EXPECT_EQ(d.model->named_parameters()["visual.vpt_prompts.tokens"].sizes(), torch::IntArrayRef({2, 4, 64}));
  EXPECT_EQ(s.model->named_parameters()["visual.vpt_prompts.tokens"].sizes(), torch::IntArrayRef({1, 4, 64}));
  EXPECT_FALSE(torch::allclose(d.model->encode_image(d.pixels), s.model->encode_image(s.pixels)));
}

TEST(PeftMrsAdapter, OneAdapterPerTowerAndOneSharedUpProjection) {
  auto cfg = method("mrs_adapter");
  cfg.mrs_adapter.bottleneck = 16;
  cfg.mrs_adapter.shared_dim = 16;
  TinyFixture f(cfg);
  std::vector<std::string> names;
  for (const auto& p : f.model->named_parameters()) {
    if (has_prefix_component(p.key(), "mrs_")) names.push_back(p.key() + " " + std::to_string(p.value().numel()));
  }
  const std::vector<std::string> expected{"visual.transformer.mrs_adapter.down.weight 1024",
                                          "visual.transformer.mrs_adapter.down.bias 16",
                                          "visual.transformer.mrs_adapter.up.weight 768",
                                          "visual.transformer.mrs_adapter.up.bias 48",
                                          "transformer.mrs_adapter.down.weight 1024",
                                          "transformer.mrs_adapter.down.bias 16",
                                          "transformer.mrs_adapter.up.weight 768",
                                          "transformer.mrs_adapter.up.bias 48",
                                          "mrs_shared_up.weight 256",
                                          "mrs_shared_up.bias 16"};
  EXPECT_EQ(names, expected);
  auto& vb = *f.model->visual->transformer->resblocks;
  auto& tb = *f.model->text->transformer->resblocks;
  const auto* image_adapter = vb[0]->as<ResidualAttentionBlockImpl>()->parallel_adapter.get();
  const auto* text_adapter = tb[0]->as<ResidualAttentionBlockImpl>()->parallel_adapter.get();
  ASSERT_NE(image_adapter, nullptr);
  EXPECT_NE(image_adapter, text_adapter);
  for (const auto& m : vb) EXPECT_EQ(m->as<ResidualAttentionBlockImpl>()->parallel_adapter.get(), image_adapter);
  for (const auto& m : tb) EXPECT_EQ(m->as<ResidualAttentionBlockImpl>()->parallel_adapter.get(), text_adapter);
  // Training moves the shared projection with gradients from both towers.
  f.train_steps(2);
  EXPECT_GT(f.model->named_parameters()["mrs_shared_up.weight"].abs().sum().item<double>(), 0);
}

TEST(PeftInputDropout, ScopeAppliesTokenDropoutAndRestores) {
  TinyFixture f(method("full"));
  f.model->eval();
  torch::NoGradGuard no_grad;
  {
    InputDropoutScope scope(*f.model, 0.2);
    EXPECT_DOUBLE_EQ(f.model->visual->input_dropout, 0.2);
    EXPECT_FALSE(torch::allclose(f.model->encode_image(f.pixels), f.base_image));  // applies in eval mode too
    EXPECT_FALSE(torch::allclose(f.model->encode_text(f.tokens), f.base_text));
  }
  EXPECT_DOUBLE_EQ(f.model->text->input_dropout, 0.0);
  EXPECT_TRUE(torch::equal(f.model->encode_image(f.pixels), f.base_image));
  EXPECT_TRUE(torch::equal(f.model->encode_text(f.tokens), f.base_text));
  InputDropoutScope none(*f.model, 0.0);
  EXPECT_TRUE(torch::equal(f.model->encode_image(f.pixels), f.base_image));
}

}  // namespace
}  // namespace rsclip::models::peft
