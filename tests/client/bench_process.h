// Test helpers for running real binaries: a free loopback port, a child
// process with its output in files, and the test server / kvserve-bench paths.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kvs::test {

int free_port();

// A child process; killed (SIGTERM, then waited for) on destruction.
class ChildProcess {
 public:
  // stdout and stderr go to `stdout_path` / `stdout_path + ".err"` when given.
  ChildProcess(const std::vector<std::string>& args, const std::string& stdout_path = "");
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // Waits up to `timeout_s`; the exit code (128 + signal when signalled), -1 on timeout.
  int wait(double timeout_s);
  void signal(int sig);

 private:
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

// Polls GET http://127.0.0.1:port/health until it answers 200 (false after `timeout_s`).
bool wait_healthy(int port, double timeout_s);

std::string bench_binary();        // kvserve-bench
std::string test_server_binary();  // kvs_openai_test_server

// Runs kvserve-bench with `args` (plus --quiet and --result-json into `dir`),
// returns the exit code, and the parsed result in `result` (null when none).
int run_bench(const std::vector<std::string>& args, const std::string& dir, nlohmann::json& result,
              std::string* stdout_text = nullptr, double timeout_s = 300);

}  // namespace kvs::test
