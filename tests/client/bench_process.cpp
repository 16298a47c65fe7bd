#include "tests/client/bench_process.h"

#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fcntl.h>
#include <fstream>
#include <thread>

#include <httplib.h>

#include "tests/common/test_paths.h"

extern char** environ;

namespace kvs::test {

int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

ChildProcess::ChildProcess(const std::vector<std::string>& args, const std::string& stdout_path) {
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!stdout_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const std::string err = stdout_path + ".err";
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  }
  if (posix_spawn(&pid_, copy[0].c_str(), &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
  posix_spawn_file_actions_destroy(&actions);
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    if (wait(30) < 0) {
      kill(pid_, SIGKILL);
      wait(10);
    }
  }
}

int ChildProcess::wait(double timeout_s) {
  if (pid_ <= 0) return exit_code_;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  for (;;) {
    int status = 0;
    const pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      pid_ = -1;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return exit_code_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void ChildProcess::signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

bool wait_healthy(int port, double timeout_s) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(1, 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto res = client.Get("/health"); res && res->status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

std::string bench_binary() { return binary_dir() + "/kvserve-bench"; }
std::string test_server_binary() { return binary_dir() + "/tests/kvs_openai_test_server"; }

int run_bench(const std::vector<std::string>& args, const std::string& dir, nlohmann::json& result,
              std::string* stdout_text, double timeout_s) {
  const std::string json_path = dir + "/result.json";
  std::remove(json_path.c_str());
  std::vector<std::string> full = {bench_binary()};
  full.insert(full.end(), args.begin(), args.end());
  full.insert(full.end(), {"--quiet", "--result-json", json_path});
  int code = -1;
  {
    ChildProcess bench(full, dir + "/stdout.txt");
    code = bench.wait(timeout_s);
  }
  if (stdout_text != nullptr) *stdout_text = read_file(dir + "/stdout.txt") + read_file(dir + "/stdout.txt.err");
  result = nullptr;
  std::ifstream in(json_path);
  if (in) result = nlohmann::json::parse(in);
  return code;
}

}  // namespace kvs::test
