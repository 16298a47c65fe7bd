#include <cmath>
#include <sstream>
#include <string>

#include "engine/errors.h"
#include "engine/sampling/sampler.h"

namespace kvs {
namespace {

template <typename Value>
[[noreturn]] void fail(const char* field, const char* requirement, Value value) {
  std::ostringstream message;
  message << "sampling parameter " << field << " must be " << requirement << ", got " << value;
  throw InvalidArgument(message.str());
}

}  // namespace

void SamplingParams::validate() const {
  if (!std::isfinite(temperature) || temperature < 0.0f) {
    fail("temperature", "a finite number >= 0", temperature);
  }
  if (!(top_p > 0.0f && top_p <= 1.0f)) fail("top_p", "in (0, 1]", top_p);
  if (top_k < -1) fail("top_k", ">= -1 (-1 or 0 disable it)", top_k);
  if (!(min_p >= 0.0f && min_p <= 1.0f)) fail("min_p", "in [0, 1]", min_p);
  if (!std::isfinite(repetition_penalty) || !(repetition_penalty > 0.0f)) {
    fail("repetition_penalty", "a finite number > 0", repetition_penalty);
  }
  if (!(presence_penalty >= -2.0f && presence_penalty <= 2.0f)) {
    fail("presence_penalty", "in [-2, 2]", presence_penalty);
  }
  if (!(frequency_penalty >= -2.0f && frequency_penalty <= 2.0f)) {
    fail("frequency_penalty", "in [-2, 2]", frequency_penalty);
  }
  for (const auto& [id, bias] : logit_bias) {
    if (id < 0) fail("logit_bias", "keyed by token ids >= 0", id);
    if (!(bias >= -100.0f && bias <= 100.0f)) fail("logit_bias", "a bias in [-100, 100]", bias);
  }
  if (min_tokens < 0) fail("min_tokens", ">= 0", min_tokens);
}

}  // namespace kvs
