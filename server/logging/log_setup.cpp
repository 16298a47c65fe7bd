#include "server/logging/log_setup.h"

#include <chrono>
#include <ctime>
#include <memory>

#include <nlohmann/json.hpp>
#include <spdlog/formatter.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include "engine/errors.h"

namespace kvs {
namespace {

thread_local std::string t_request_id;

constexpr size_t kMaxRequestIdLength = 128;

std::string utc_time(std::chrono::system_clock::time_point time) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[40];
  const size_t n = std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buffer + n, sizeof buffer - n, ".%03dZ", static_cast<int>(millis));
  return buffer;
}

// One JSON object per line; nlohmann escapes the message (invalid UTF-8 is
// replaced, never passed into the line).
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    nlohmann::ordered_json line = {{"time", utc_time(msg.time)},
                           {"level", std::string(spdlog::level::to_string_view(msg.level).data(),
                                                 spdlog::level::to_string_view(msg.level).size())},
                           {"message", std::string(msg.payload.data(), msg.payload.size())}};
    if (!t_request_id.empty()) line["request_id"] = t_request_id;
    const std::string text = line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

}  // namespace

void configure_logging(const std::string& format, const std::string& level) {
  const spdlog::level::level_enum parsed = spdlog::level::from_str(level);
  // NOTE: from_str answers `off` for any name it does not know.
  if (parsed == spdlog::level::off && level != "off") throw InvalidArgument("unknown log level '" + level + "'");
  if (format == "json") {
    spdlog::set_formatter(std::make_unique<JsonFormatter>());
  } else if (format != "text") {
    throw InvalidArgument("unknown log format '" + format + "' (text or json)");
  }
  spdlog::set_level(parsed);
}

RequestLogScope::RequestLogScope(std::string request_id) : previous_(std::move(t_request_id)) {
  t_request_id = std::move(request_id);
}

RequestLogScope::~RequestLogScope() { t_request_id = std::move(previous_); }

const std::string& current_request_id() { return t_request_id; }

bool is_valid_request_id(const std::string& id) {
  if (id.empty() || id.size() > kMaxRequestIdLength) return false;
  for (const char c : id) {
    if (c < 0x21 || c > 0x7E) return false;
  }
  return true;
}

}  // namespace kvs
