#pragma once
// An error a client caused (or the server refuses to serve), in OpenAI's shape:
// {"error": {"message", "type", "param", "code"}} with an HTTP status.
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace kvs {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string message, std::string param = "", std::string code = "")
      : std::runtime_error(message), status_(status), param_(std::move(param)), code_(std::move(code)) {}
  int status() const { return status_; }
  const std::string& param() const { return param_; }
  const std::string& code() const { return code_; }
  nlohmann::json to_json() const;

 private:
  int status_;
  std::string param_, code_;
};

// The 500 for a failure inside the server (an engine step that failed, an
// unexpected exception): names the request id so the client can quote it;
// code "internal_error". The failure's own text goes to the log only, never
// into a response.
ApiError internal_error(const std::string& request_id);

// OpenAI's error type for an HTTP status ("invalid_request_error", ...).
const char* error_type_for_status(int status);
// The body OpenAI sends for an error; param/code null when empty.
nlohmann::json error_body(int status, const std::string& message, const std::string& param = "",
                          const std::string& code = "");

}  // namespace kvs
