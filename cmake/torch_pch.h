// Precompiled once and reused by the targets that use torch's tensor API (rsclip_module(TORCH_PCH)
// in CMakeLists.txt) and by the tests: torch is the expensive include.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <torch/torch.h>
