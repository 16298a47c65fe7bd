#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "engine/errors.h"
#include "engine/sampling/sampler.h"

namespace kvs {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// validate()'s message for params changed by `edit`; "" when valid.
std::string validation_error(const std::function<void(SamplingParams&)>& edit) {
  SamplingParams params;
  edit(params);
  try {
    params.validate();
  } catch (const InvalidArgument& error) {
    return error.what();
  }
  return "";
}

TEST(SamplingParams, DefaultsAndBoundariesAreValid) {
  EXPECT_EQ(validation_error([](SamplingParams&) {}), "");
  EXPECT_EQ(validation_error([](SamplingParams& p) {
              p.temperature = 0.0f;
              p.top_p = 1.0f;
              p.top_k = -1;
              p.min_p = 1.0f;
              p.repetition_penalty = 0.01f;
              p.presence_penalty = -2.0f;
              p.frequency_penalty = 2.0f;
            }),
            "");
  EXPECT_EQ(validation_error([](SamplingParams& p) {
              p.temperature = 100.0f;
              p.top_p = 1e-6f;
              p.top_k = 1;
              p.min_p = 0.0f;
              p.presence_penalty = 2.0f;
              p.frequency_penalty = -2.0f;
            }),
            "");
}

TEST(SamplingParams, EachBadFieldIsNamed) {
  const std::vector<std::pair<std::string, std::function<void(SamplingParams&)>>> cases = {
      {"temperature", [](SamplingParams& p) { p.temperature = -0.1f; }},
      {"temperature", [](SamplingParams& p) { p.temperature = kNaN; }},
      {"temperature", [](SamplingParams& p) { p.temperature = kInf; }},
      {"top_p", [](SamplingParams& p) { p.top_p = 0.0f; }},
      {"top_p", [](SamplingParams& p) { p.top_p = 1.01f; }},
      {"top_p", [](SamplingParams& p) { p.top_p = kNaN; }},
      {"top_k", [](SamplingParams& p) { p.top_k = -2; }},
      {"min_p", [](SamplingParams& p) { p.min_p = -0.01f; }},
      {"min_p", [](SamplingParams& p) { p.min_p = 1.5f; }},
      {"min_p", [](SamplingParams& p) { p.min_p = kNaN; }},
      {"repetition_penalty", [](SamplingParams& p) { p.repetition_penalty = 0.0f; }},
      {"repetition_penalty", [](SamplingParams& p) { p.repetition_penalty = -1.0f; }},
      {"repetition_penalty", [](SamplingParams& p) { p.repetition_penalty = kInf; }},
      {"presence_penalty", [](SamplingParams& p) { p.presence_penalty = 2.01f; }},
      {"presence_penalty", [](SamplingParams& p) { p.presence_penalty = kNaN; }},
      {"frequency_penalty", [](SamplingParams& p) { p.frequency_penalty = -2.5f; }},
      {"frequency_penalty", [](SamplingParams& p) { p.frequency_penalty = kNaN; }},
  };
  for (const auto& [field, edit] : cases) {
    const std::string message = validation_error(edit);
    EXPECT_NE(message.find(field), std::string::npos) << field << ": '" << message << "'";
  }
}

TEST(SamplingParams, SamplerRejectsInvalidParams) {
  SamplingParams params;
  params.top_p = 0.0f;
  EXPECT_THROW(Sampler(params, 1), InvalidArgument);
}

}  // namespace
}  // namespace kvs
