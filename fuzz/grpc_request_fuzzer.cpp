// Harness: gRPC GenerateRequest decoding and validation
// (server/grpc/grpc_validation.h; the checks GrpcServer's Generate applies
// before anything reaches the engine) and the request's KV policy
// (server/serving/kv_policy_request.h).
//
// Input: a serialized kvserve.v1.GenerateRequest (proto/kvserve.proto), any
// bytes; bytes protobuf cannot parse are dropped (what gRPC does before the
// handler runs). Contract: grpc_generation_options returns options with
// valid sampling parameters and no empty stop string, or throws
// ApiError(400); grpc_prompt_token_ids returns non-negative ids or throws
// ApiError(400); resolve_kv_policy returns a valid spec or nothing, or throws
// ApiError(400). Never a crash, leak, UB, any other exception or a hang.
// Seeds: fuzz/corpus/grpc_request_fuzzer (fuzz/make_seeds.py).
#include <google/protobuf/stubs/logging.h>

#include <cstdint>

#include "engine/errors.h"
#include "fuzz/fuzz_common.h"
#include "proto/kvserve.pb.h"
#include "server/api/api_error.h"
#include "server/grpc/grpc_validation.h"
#include "server/serving/kv_policy_request.h"

// protobuf logs every string field with invalid UTF-8 it drops; at thousands
// of inputs a second that is most of the time spent.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kvserve::v1::GenerateRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  try {
    const kvs::GenerationOptions options = kvs::grpc_generation_options(request);
    options.sampling.validate();  // documented: already valid
    for (const std::string& stop : options.stop) KVS_FUZZ_CHECK(!stop.empty());
    KVS_FUZZ_CHECK(!options.max_tokens || *options.max_tokens >= 1);
    for (const kvs::KvPolicySpec& server_default :
         {kvs::KvPolicySpec{}, kvs::KvPolicySpec{kvs::KvPolicyKind::kH2O, 0.5}}) {
      try {
        const auto spec = kvs::resolve_kv_policy(options.kv_policy, options.kv_budget, server_default);
        if (spec) spec->validate();
      } catch (const kvs::ApiError& e) {
        KVS_FUZZ_CHECK(e.status() == 400);
      }
    }
  } catch (const kvs::ApiError& e) {
    KVS_FUZZ_CHECK(e.status() == 400);
  }
  try {
    for (int32_t id : kvs::grpc_prompt_token_ids(request)) KVS_FUZZ_CHECK(id >= 0);
  } catch (const kvs::ApiError& e) {
    KVS_FUZZ_CHECK(e.status() == 400);
  }
  return 0;
}
