#include "models/modules/capsule.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace tzrec::models {
namespace {

protos::B2ICapsule Config(bool const_caps_num = false, const std::string& init = "normal") {
  protos::B2ICapsule config;
  config.set_max_k(4);
  config.set_max_seq_len(6);
  config.set_high_dim(5);
  config.set_num_iters(3);
  config.set_routing_logits_scale(20);
  config.set_routing_logits_stddev(1);
  config.set_squash_pow(0.2f);
  config.set_const_caps_num(const_caps_num);
  config.set_routing_init_method(init);
  return config;
}

// Upstream's CapsuleLayer.forward written out step by step; `logits0` is the
// initial routing logits [B, max_seq_len, max_k] before the stddev scaling.
std::pair<at::Tensor, at::Tensor> Reference(const protos::B2ICapsule& cfg, const at::Tensor& bilinear,
                                            at::Tensor inputs, const at::Tensor& seq_len,
                                            const at::Tensor& logits0) {
  const int64_t max_len = cfg.max_seq_len(), k = cfg.max_k();
  const int64_t b = inputs.size(0), s = inputs.size(1), d = inputs.size(2);
  inputs = inputs.slice(1, 0, max_len);
  if (s < max_len) inputs = at::cat({inputs, at::zeros({b, max_len - s, d})}, 1);
  at::Tensor seq_mask = at::arange(max_len).unsqueeze(0) < seq_len.unsqueeze(1);
  inputs = inputs * seq_mask.unsqueeze(-1).to(at::kFloat);
  at::Tensor n = cfg.const_caps_num()
                     ? at::full({b}, static_cast<double>(k))
                     : at::maximum(at::ones({1}), at::minimum(at::full({1}, static_cast<double>(k)),
                                                              at::log2(seq_len.to(at::kFloat))));
  at::Tensor cap_mask = at::arange(k).unsqueeze(0).to(at::kFloat) < n.unsqueeze(1);
  at::Tensor logits = logits0 * cfg.routing_logits_stddev();
  at::Tensor thresh = (cap_mask.unsqueeze(1).to(at::kFloat) * 2 - 1) * INFINITY;
  at::Tensor low = at::einsum("bsl,lh->bsh", {inputs, bilinear});
  at::Tensor low_norm = low / low.norm(2, {-1}, true).clamp_min(1e-12);
  at::Tensor high;
  for (int64_t it = 0; it < cfg.num_iters(); ++it) {
    logits = at::softmax(at::minimum(logits, thresh) * cfg.routing_logits_scale(), 2);
    logits = logits * seq_mask.unsqueeze(2).to(at::kFloat);
    if (it + 1 < cfg.num_iters()) {
      high = at::einsum("bsh,bsk->bkh", {low, logits});
      logits = logits + at::einsum("bkh,bsh->bsk", {high, low_norm});
    } else {
      high = at::einsum("bsh,bsk->bkh", {low, logits});
      at::Tensor norm = at::maximum(high.norm(2, {-1}, true), at::full({1}, 1e-7));
      high = at::pow(norm * norm / (1 + norm * norm), cfg.squash_pow()) / norm * high;
    }
  }
  return {high * cap_mask.unsqueeze(-1).to(at::kFloat), cap_mask};
}

at::Tensor Bilinear(torch::jit::Module& layer) {
  return layer.attr("bilinear_matrix").toTensor();
}

TEST(CapsuleLayerTest, ParameterIsUpstreams) {
  torch::jit::Module layer = BuildCapsuleLayer(Config(), 3, "capsule_config");
  std::vector<std::string> names;
  for (const auto& p : layer.named_parameters()) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"bilinear_matrix"}));
  EXPECT_EQ(Bilinear(layer).sizes(), (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(layer.named_buffers().size(), 0u);  // the routing logits are drawn per call
}

// Seeded the same way, the layer draws the same initial logits as a plain
// torch.randn of [B, max_seq_len, max_k]: the layer equals the reference.
TEST(CapsuleLayerTest, MatchesUpstreamRoutingWithSeededLogits) {
  for (bool const_caps : {false, true}) {
    SCOPED_TRACE(const_caps ? "const_caps_num" : "log2 capsules");
    const auto cfg = Config(const_caps);
    torch::jit::Module layer = BuildCapsuleLayer(cfg, 3, "capsule_config");
    // Longer than max_seq_len (cut) and shorter rows (padded, masked).
    at::Tensor inputs = at::randn({4, 8, 3});
    at::Tensor seq_len = at::tensor({8, 3, 1, 5}, at::kLong);
    at::manual_seed(21);
    auto out = layer.forward({inputs, seq_len}).toTuple();
    at::manual_seed(21);
    at::Tensor logits0 = at::randn({4, 6, 4});
    auto [expected, mask] = Reference(cfg, Bilinear(layer), inputs, seq_len, logits0);
    EXPECT_TRUE(at::allclose(out->elements()[0].toTensor(), expected, 1e-5, 1e-6));
    EXPECT_TRUE(at::equal(out->elements()[1].toTensor(), mask));
    if (!const_caps) {
      // log2: 8 -> 3 capsules, 3 -> 1.58 (2), 1 -> 0 (at least 1), 5 -> 2.32 (3).
      EXPECT_TRUE(at::equal(mask.sum(1), at::tensor({3, 2, 1, 3}, at::kLong)));
    }
  }
  // Shorter than max_seq_len for the whole batch.
  const auto cfg = Config();
  torch::jit::Module layer = BuildCapsuleLayer(cfg, 3, "capsule_config");
  at::Tensor inputs = at::randn({2, 2, 3});
  at::Tensor seq_len = at::tensor({2, 1}, at::kLong);
  at::manual_seed(3);
  at::Tensor got = layer.forward({inputs, seq_len}).toTuple()->elements()[0].toTensor();
  at::manual_seed(3);
  at::Tensor logits0 = at::randn({2, 6, 4});
  EXPECT_TRUE(at::allclose(got, Reference(cfg, Bilinear(layer), inputs, seq_len, logits0).first, 1e-5, 1e-6));
}

TEST(CapsuleLayerTest, ZerosInitIsDeterministic) {
  const auto cfg = Config(false, "zeros");
  torch::jit::Module layer = BuildCapsuleLayer(cfg, 3, "capsule_config");
  at::Tensor inputs = at::randn({3, 6, 3});
  at::Tensor seq_len = at::tensor({6, 4, 2}, at::kLong);
  at::Tensor a = layer.forward({inputs, seq_len}).toTuple()->elements()[0].toTensor();
  at::Tensor b = layer.forward({inputs, seq_len}).toTuple()->elements()[0].toTensor();
  EXPECT_TRUE(at::equal(a, b));
  EXPECT_TRUE(at::allclose(a, Reference(cfg, Bilinear(layer), inputs, seq_len, at::zeros({3, 6, 4})).first,
                           1e-5, 1e-6));
}

TEST(CapsuleLayerTest, ConfigErrors) {
  auto cfg = Config(false, "uniform");
  try {
    BuildCapsuleLayer(cfg, 3, "model_config.mind.user_tower.capsule_config");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("capsule_config.routing_init_method: 'uniform'"), std::string::npos)
        << e.what();
  }
  cfg = Config();
  cfg.set_num_iters(0);
  EXPECT_THROW(BuildCapsuleLayer(cfg, 3, "capsule_config"), ConfigError);
}

}  // namespace
}  // namespace tzrec::models
