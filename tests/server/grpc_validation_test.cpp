// gRPC GenerateRequest -> GenerationOptions (server/grpc/grpc_validation.h),
// the checks the fuzz/grpc_request_fuzzer harness drives with random bytes.
#include "server/grpc/grpc_validation.h"

#include <gtest/gtest.h>

#include "server/api/api_error.h"

namespace kvs {
namespace {

int status_of(const kvserve::v1::GenerateRequest& request) {
  try {
    grpc_generation_options(request);
    grpc_prompt_token_ids(request);
  } catch (const ApiError& e) {
    return e.status();
  }
  return 200;
}

TEST(GrpcValidationTest, MapsFieldsAndNeutralZeros) {
  kvserve::v1::GenerateRequest request;
  request.set_text("hi");
  request.set_max_tokens(7);
  request.mutable_sampling()->set_temperature(0.5f);
  request.mutable_sampling()->set_seed(3);
  request.add_stop("END");
  request.add_stop_token_ids(2);
  request.set_kv_policy("h2o");
  request.set_kv_budget(0.5);
  const GenerationOptions options = grpc_generation_options(request);
  EXPECT_EQ(*options.max_tokens, 7);
  EXPECT_FLOAT_EQ(options.sampling.temperature, 0.5f);
  EXPECT_FLOAT_EQ(options.sampling.top_p, 1.0f);
  EXPECT_FLOAT_EQ(options.sampling.repetition_penalty, 1.0f);
  EXPECT_TRUE(options.sampling.has_seed);
  EXPECT_EQ(options.stop, std::vector<std::string>{"END"});
  EXPECT_EQ(options.stop_token_ids, std::vector<int32_t>{2});
  EXPECT_EQ(*options.kv_policy, KvPolicyKind::kH2O);
  EXPECT_DOUBLE_EQ(*options.kv_budget, 0.5);
  EXPECT_FALSE(grpc_generation_options(kvserve::v1::GenerateRequest()).max_tokens.has_value());
}

TEST(GrpcValidationTest, BadFieldsAre400) {
  kvserve::v1::GenerateRequest request;
  request.mutable_sampling()->set_temperature(-1.0f);
  EXPECT_EQ(status_of(request), 400);
  request.Clear();
  request.add_stop("");
  EXPECT_EQ(status_of(request), 400);
  request.Clear();
  request.set_kv_policy("no-such-policy");
  EXPECT_EQ(status_of(request), 400);
  request.Clear();
  request.mutable_token_ids()->add_ids(1);
  request.mutable_token_ids()->add_ids(-1);
  EXPECT_EQ(status_of(request), 400);
  request.mutable_token_ids()->set_ids(1, 5);
  EXPECT_EQ(grpc_prompt_token_ids(request), (std::vector<int32_t>{1, 5}));
}

TEST(GrpcValidationTest, ConstraintOneofMapsToASpecNamingItsField) {
  using Kind = grammar::ConstraintSpec::Kind;
  kvserve::v1::GenerateRequest request;
  EXPECT_FALSE(grpc_generation_options(request).constraint);
  request.set_json_schema(R"({"type":"object"})");
  GenerationOptions options = grpc_generation_options(request);
  ASSERT_TRUE(options.constraint);
  EXPECT_EQ(options.constraint->kind, Kind::kJsonSchema);
  EXPECT_EQ(options.constraint->text, R"({"type":"object"})");
  EXPECT_EQ(options.constraint_param, "constraint.json_schema");
  request.set_regex("[0-9]+");
  EXPECT_EQ(grpc_generation_options(request).constraint->kind, Kind::kRegex);
  request.mutable_choice()->add_choices("red");
  request.mutable_choice()->add_choices("blue");
  options = grpc_generation_options(request);
  EXPECT_EQ(options.constraint->kind, Kind::kChoice);
  EXPECT_EQ(options.constraint->choices, (std::vector<std::string>{"red", "blue"}));
  request.set_grammar("root ::= \"a\"");
  EXPECT_EQ(grpc_generation_options(request).constraint->kind, Kind::kGbnf);
  request.set_json_object(true);
  EXPECT_EQ(grpc_generation_options(request).constraint->kind, Kind::kJsonObject);
  request.set_json_object(false);
  EXPECT_FALSE(grpc_generation_options(request).constraint);
  // Empty texts and lists are a 400 naming the field.
  for (int which = 0; which < 4; ++which) {
    kvserve::v1::GenerateRequest bad;
    if (which == 0) bad.set_json_schema("");
    if (which == 1) bad.set_regex("");
    if (which == 2) bad.mutable_choice();
    if (which == 3) bad.set_grammar("");
    try {
      grpc_generation_options(bad);
      ADD_FAILURE() << "accepted case " << which;
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status(), 400);
      EXPECT_EQ(e.param().rfind("constraint.", 0), 0u) << e.param();
    }
  }
}

}  // namespace
}  // namespace kvs
