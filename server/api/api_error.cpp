#include "server/api/api_error.h"

namespace kvs {

const char* error_type_for_status(int status) {
  switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 429: return "rate_limit_error";
    case 503: return "service_unavailable_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

nlohmann::json error_body(int status, const std::string& message, const std::string& param, const std::string& code) {
  return {{"error",
           {{"message", message},
            {"type", error_type_for_status(status)},
            {"param", param.empty() ? nlohmann::json(nullptr) : nlohmann::json(param)},
            {"code", code.empty() ? nlohmann::json(nullptr) : nlohmann::json(code)}}}};
}

ApiError internal_error(const std::string& request_id) {
  return ApiError(500, "Internal server error (request id " + request_id + "); the server's log has the details.", "",
                  "internal_error");
}

nlohmann::json ApiError::to_json() const { return error_body(status_, what(), param_, code_); }

}  // namespace kvs
