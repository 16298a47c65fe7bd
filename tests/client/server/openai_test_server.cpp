// A small OpenAI-compatible server for testing kvserve-bench (tests only).
// It streams `--output-tokens` (default: the request's max_tokens) tokens " t"
// on a fixed schedule: the first at --ttft-ms after the request arrived, each
// next --itl-ms later (sleep_until on absolute times, so jitter never adds up).
// Faults: --faults "ok,500,ok,drop,garbage" is cycled over the generation
// requests in arrival order:
//   ok      a normal response
//   500     HTTP 500 with an OpenAI error body
//   drop    stream: one token, then the connection is closed mid-body
//   garbage stream: one token, then lines that are not server-sent events
//   hang    nothing for --hang-ms, then a normal response (to trip timeouts)
// Counts of every outcome are served at GET /stats.
#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <httplib.h>
#include <sys/socket.h>
#include <nlohmann/json.hpp>

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Config {
  int port = 0;
  double ttft_ms = 0;
  double itl_ms = 0;
  int64_t output_tokens = 0;  // 0 = the request's max_tokens
  double hang_ms = 5000;
  std::vector<std::string> faults{"ok"};
  int threads = 256;
  std::string model = "test-model";
};

std::atomic<int64_t> g_counter{0};
std::mutex g_stats_mutex;
std::map<std::string, int64_t> g_stats;

void count(const std::string& what) {
  std::lock_guard<std::mutex> lock(g_stats_mutex);
  ++g_stats[what];
}

int64_t count_words(const std::string& text) {
  std::istringstream in(text);
  std::string word;
  int64_t n = 0;
  while (in >> word) ++n;
  return n;
}

Clock::time_point at(Clock::time_point t0, double ms) {
  return t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(ms));
}

json chunk(bool chat, const std::string& text, const json& finish, bool usage_field) {
  json choice = {{"index", 0}, {"finish_reason", finish}};
  if (chat) choice["delta"] = {{"content", text}};
  else choice["text"] = text;
  json out = {{"id", "test"}, {"object", chat ? "chat.completion.chunk" : "text_completion"},
              {"created", 0}, {"model", "test-model"}, {"choices", json::array({choice})}};
  if (usage_field) out["usage"] = nullptr;
  return out;
}

void handle(const Config& config, bool chat, const httplib::Request& req, httplib::Response& res) {
  const Clock::time_point t0 = Clock::now();
  const std::string fault = config.faults[static_cast<size_t>(g_counter++) % config.faults.size()];
  json body;
  try {
    body = json::parse(req.body);
  } catch (const json::exception&) {
    res.status = 400;
    res.set_content(R"({"error":{"message":"body is not JSON","type":"invalid_request_error"}})", "application/json");
    return;
  }
  count(fault);
  if (fault == "500") {
    res.status = 500;
    res.set_content(R"({"error":{"message":"injected failure","type":"server_error"}})", "application/json");
    return;
  }
  std::string prompt;
  if (chat) {
    for (const json& m : body.value("messages", json::array())) prompt += m.value("content", "") + " ";
  } else {
    prompt = body.value("prompt", "");
  }
  const int64_t prompt_tokens = count_words(prompt);
  const int64_t n = config.output_tokens > 0 ? config.output_tokens : body.value("max_tokens", int64_t{16});
  const bool stream = body.value("stream", false);
  const bool usage = body.contains("stream_options") && body["stream_options"].value("include_usage", false);
  const double delay = fault == "hang" ? config.hang_ms : 0;
  const json usage_json = {{"prompt_tokens", prompt_tokens}, {"completion_tokens", n},
                           {"total_tokens", prompt_tokens + n}};
  if (!stream) {
    std::this_thread::sleep_until(at(t0, delay + config.ttft_ms + config.itl_ms * static_cast<double>(n - 1)));
    if (fault == "drop") {
      res.set_content_provider(1000, "application/json", [](size_t, size_t, httplib::DataSink&) { return false; });
      return;
    }
    if (fault == "garbage") {
      res.set_content("this is not json", "application/json");
      return;
    }
    std::string text;
    for (int64_t i = 0; i < n; ++i) text += " t";
    json choice = {{"index", 0}, {"finish_reason", "length"}};
    if (chat) choice["message"] = {{"role", "assistant"}, {"content", text}};
    else choice["text"] = text;
    res.set_content(json{{"id", "test"}, {"object", chat ? "chat.completion" : "text_completion"},
                         {"model", config.model}, {"choices", json::array({choice})}, {"usage", usage_json}}
                        .dump(),
                    "application/json");
    return;
  }
  res.set_chunked_content_provider("text/event-stream", [=, &config](size_t, httplib::DataSink& sink) {
    const auto send = [&sink](const std::string& text) { return sink.write(text.data(), text.size()); };
    if (chat && !send("data: " + chunk(true, "", nullptr, usage).dump() + "\n\n")) return false;
    for (int64_t i = 0; i < n; ++i) {
      std::this_thread::sleep_until(at(t0, delay + config.ttft_ms + config.itl_ms * static_cast<double>(i)));
      const json finish = i + 1 == n ? json("length") : json(nullptr);
      if (!send("data: " + chunk(chat, " t", finish, usage).dump() + "\n\n")) return false;
      if (fault == "drop") return false;  // closes the connection mid-body
      if (fault == "garbage") {
        send("this line is not an event\n{\"choices\": oops\n\ndata: {\"choices\": [\n\n");
        sink.done();
        return true;
      }
    }
    if (usage) {
      json last = {{"id", "test"}, {"object", "chunk"}, {"model", config.model}, {"choices", json::array()},
                   {"usage", usage_json}};
      if (!send("data: " + last.dump() + "\n\n")) return false;
    }
    send("data: [DONE]\n\n");
    sink.done();
    return true;
  });
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  std::string faults = "ok";
  CLI::App app{"OpenAI-compatible test server with injected delays and faults (kvserve-bench tests)"};
  app.add_option("--port", config.port, "port on 127.0.0.1")->required();
  app.add_option("--ttft-ms", config.ttft_ms, "first token this long after the request arrives");
  app.add_option("--itl-ms", config.itl_ms, "gap between tokens");
  app.add_option("--output-tokens", config.output_tokens, "tokens per response (0 = max_tokens)");
  app.add_option("--hang-ms", config.hang_ms, "delay of a 'hang' fault");
  app.add_option("--faults", faults, "comma list cycled over requests: ok, 500, drop, garbage, hang");
  app.add_option("--threads", config.threads, "server threads (keep-alive connections each hold one)");
  CLI11_PARSE(app, argc, argv);
  config.faults.clear();
  std::stringstream in(faults);
  for (std::string item; std::getline(in, item, ',');) {
    if (item != "ok" && item != "500" && item != "drop" && item != "garbage" && item != "hang") {
      std::cerr << "unknown fault '" << item << "'\n";
      return 2;
    }
    config.faults.push_back(item);
  }
  if (config.faults.empty()) config.faults.push_back("ok");

  httplib::Server server;
  const int threads = config.threads;
  server.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  server.set_keep_alive_max_count(1000000);
  server.set_keep_alive_timeout(60);
  server.set_tcp_nodelay(true);
  server.Get("/health", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); });
  server.Get("/v1/models", [&config](const httplib::Request&, httplib::Response& res) {
    res.set_content(json{{"object", "list"}, {"data", json::array({{{"id", config.model}, {"object", "model"}}})}}.dump(),
                    "application/json");
  });
  server.Get("/stats", [](const httplib::Request&, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(g_stats_mutex);
    res.set_content(json(g_stats).dump(), "application/json");
  });
  server.Post("/v1/completions", [&config](const httplib::Request& req, httplib::Response& res) {
    handle(config, false, req, res);
  });
  server.Post("/v1/chat/completions", [&config](const httplib::Request& req, httplib::Response& res) {
    handle(config, true, req, res);
  });
  // NOTE: the packaged cpp-httplib listens with a backlog of 5, which drops
  // connections when dozens of clients connect at once (the load tests open
  // 64+). Linux lets a second listen() on the bound socket raise it.
  int listen_fd = -1;
  server.set_socket_options([&listen_fd](int fd) {
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_fd = fd;
  });
  if (!server.bind_to_port("127.0.0.1", config.port) || listen(listen_fd, 4096) != 0) {
    std::cerr << "cannot listen on 127.0.0.1:" << config.port << "\n";
    return 1;
  }
  return server.listen_after_bind() ? 0 : 1;
}
