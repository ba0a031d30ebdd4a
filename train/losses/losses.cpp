// Loss registry, the loss expression and the weighted sum the trainer calls.
#include "train/losses/losses.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <map>
#include <mutex>

#include "core/base/config.h"

namespace rsclip::train {
namespace {

// Built-ins are added by the constructor, so they exist whatever the static
// initialisation order of the translation units that register more.
struct Registry {
  Registry() {
    factories["clip"] = [](const LossConfig& c, const LossCollectives& coll) {
      return std::make_unique<ClipLoss>(c.clip, coll);
    };
    factories["siglip"] = [](const LossConfig& c, const LossCollectives& coll) {
      return std::make_unique<SigLipLoss>(c.siglip, coll);
    };
    factories["hmmc"] = [](const LossConfig& c, const LossCollectives&) { return std::make_unique<HmmcLoss>(c.hmmc); };
  }
  std::mutex mutex;
  std::map<std::string, LossFactory> factories;
};

Registry& registry() {
  static Registry r;
  return r;
}

bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; }

class ExpressionParser {
 public:
  explicit ExpressionParser(const std::string& text) : s_(text) {}

  std::vector<LossTerm> parse() {
    std::vector<LossTerm> terms;
    do {
      terms.push_back(term());
      for (std::size_t i = 0; i + 1 < terms.size(); ++i) {
        if (terms[i].name == terms.back().name) fail("'" + terms.back().name + "' appears twice");
      }
    } while (accept('+'));
    skip_space();
    if (pos_ != s_.size()) fail("expected '+' or the end");
    return terms;
  }

 private:
  LossTerm term() {
    LossTerm t;
    skip_space();
    if (pos_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '.')) {
      t.weight = number();
      if (!accept('*')) fail("expected '*' after the weight");
      t.name = name();
    } else {
      t.name = name();
      if (accept('*')) t.weight = number();
    }
    if (!std::isfinite(t.weight) || t.weight <= 0) fail("weights must be positive numbers");
    return t;
  }
  std::string name() {
    skip_space();
    const std::size_t begin = pos_;
    while (pos_ < s_.size() && is_name_char(s_[pos_])) ++pos_;
    if (begin == pos_ || std::isdigit(static_cast<unsigned char>(s_[begin]))) fail("expected a loss name");
    return s_.substr(begin, pos_ - begin);
  }
  double number() {
    skip_space();
    double value = 0;
    const auto [end, ec] = std::from_chars(s_.data() + pos_, s_.data() + s_.size(), value);
    if (ec != std::errc() || end == s_.data() + pos_) fail("expected a number");
    pos_ = static_cast<std::size_t>(end - s_.data());
    return value;
  }
  bool accept(char c) {
    skip_space();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void skip_space() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  [[noreturn]] void fail(const std::string& why) const {
    throw Error("bad loss expression '" + s_ + "' at column " + std::to_string(pos_ + 1) + ": " + why, "name",
                "write terms like: clip + 0.5*hmmc");
  }

  const std::string& s_;
  std::size_t pos_ = 0;
};

}  // namespace

void SigLipLossConfig::validate() const {
  if (dist_impl != "bidir" && dist_impl != "shift" && dist_impl != "gather") {
    throw Error("unknown dist_impl '" + dist_impl + "'" + config::did_you_mean(dist_impl, {"bidir", "shift", "gather"}),
                "dist_impl", "use bidir, shift or gather");
  }
}

void HmmcLossConfig::validate() const {
  if (!(margin >= 0) || !std::isfinite(margin)) throw Error("must be a finite number >= 0", "margin");
  if (!(token_dropout >= 0 && token_dropout < 1)) throw Error("must be in [0, 1)", "token_dropout");
}

void LossConfig::validate() const { parse_loss_expression(name); }

void register_loss(const std::string& name, LossFactory factory) {
  TORCH_CHECK(!name.empty() && std::all_of(name.begin(), name.end(), is_name_char) &&
                  !std::isdigit(static_cast<unsigned char>(name[0])),
              "loss names are [A-Za-z_-][A-Za-z0-9_-]*, got '", name, "'");
  auto& reg = registry();
  std::lock_guard lock(reg.mutex);
  TORCH_CHECK(reg.factories.emplace(name, std::move(factory)).second, "loss '", name, "' registered twice");
}

std::vector<std::string> registered_losses() {
  auto& reg = registry();
  std::lock_guard lock(reg.mutex);
  std::vector<std::string> names;
  for (const auto& [name, factory] : reg.factories) names.push_back(name);
  return names;
}

std::vector<LossTerm> parse_loss_expression(const std::string& expression) {
  return ExpressionParser(expression).parse();
}

TrainingLoss::TrainingLoss(std::vector<Part> parts) : parts_(std::move(parts)) {
  TORCH_CHECK(!parts_.empty(), "a training loss needs at least one term");
}

LossOutput TrainingLoss::operator()(const LossInputs& inputs) const {
  LossOutput out;
  for (const auto& part : parts_) {
    torch::Tensor value = part.loss->forward(inputs);
    if (part.term.weight != 1.0) value = value * part.term.weight;
    out.total = out.total.defined() ? out.total + value : value;
    out.terms.emplace_back(part.term.name + "_loss", value);
  }
  return out;
}

bool TrainingLoss::needs_augmented_features() const {
  return std::any_of(parts_.begin(), parts_.end(), [](const Part& p) { return p.loss->needs_augmented_features(); });
}

TrainingLoss build_loss(const LossConfig& config, const LossCollectives& collectives) {
  TORCH_CHECK(collectives.world_size >= 1 && collectives.rank >= 0 && collectives.rank < collectives.world_size,
              "bad rank ", collectives.rank, " for world size ", collectives.world_size);
  std::vector<TrainingLoss::Part> parts;
  for (auto& term : parse_loss_expression(config.name)) {
    LossFactory factory;
    {
      auto& reg = registry();
      std::lock_guard lock(reg.mutex);
      auto it = reg.factories.find(term.name);
      if (it == reg.factories.end()) {
        std::vector<std::string> known;
        for (const auto& [name, f] : reg.factories) known.push_back(name);
        std::string list;
        for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
        throw Error("unknown loss '" + term.name + "'" + config::did_you_mean(term.name, known), "loss.name",
                    "registered losses: " + list);
      }
      factory = it->second;
    }
    parts.push_back({std::move(term), factory(config, collectives)});
  }
  return TrainingLoss(std::move(parts));
}

bool needs_logit_bias(const LossConfig& config) {
  const TrainingLoss loss = build_loss(config);
  return std::any_of(loss.parts().begin(), loss.parts().end(),
                     [](const auto& p) { return p.loss->needs_logit_bias(); });
}

}  // namespace rsclip::train
