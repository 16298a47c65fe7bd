#pragma once
// Result of a kernel launcher: kernels never throw; launchers check their
// arguments and return a status the engine turns into an exception.
#include <string>

namespace kvs::kernels {

enum class StatusCode { Ok, InvalidArgument, Unsupported };

struct Status {
  StatusCode code = StatusCode::Ok;
  std::string message;  // empty when ok

  bool ok() const { return code == StatusCode::Ok; }
  static Status success() { return {}; }
  static Status invalid(std::string what) { return {StatusCode::InvalidArgument, std::move(what)}; }
  static Status unsupported(std::string what) { return {StatusCode::Unsupported, std::move(what)}; }
};

}  // namespace kvs::kernels
