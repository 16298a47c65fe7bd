#pragma once
// Error types the engine throws. Callers at the edge (CLI, server) catch
// kvs::Error and turn it into a message / HTTP status; nothing inside the engine
// swallows them.
#include <stdexcept>
#include <string>

namespace kvs {

// Base class for every error kvserve raises on purpose.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A model file or folder that cannot be loaded: corrupt, truncated, missing
// tensors, unsupported types, inconsistent config. The message names the file
// and what is wrong with it.
class ModelLoadError : public Error {
 public:
  using Error::Error;
};

// Bad input from a caller (empty prompt, out-of-range parameter, unknown
// template...). Maps to HTTP 400 at the server edge.
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

}  // namespace kvs
