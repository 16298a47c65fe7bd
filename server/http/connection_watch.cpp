#include "server/http/connection_watch.h"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <mutex>
#include <thread>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "server/http/connection_loop_server.h"

namespace kvs {
namespace {

// One epoll thread for every watched connection. Callbacks run with the
// mutex held, so remove() returning means none is running.
class HangupMonitor {
 public:
  static HangupMonitor& instance() {
    // NOTE: never destroyed: the thread blocks in epoll_wait for the life of
    // the process (a static destructor would race handlers still running).
    static HangupMonitor* monitor = new HangupMonitor();
    return *monitor;
  }

  uint64_t add(int fd, std::function<void()> callback) {
    if (epoll_fd_ < 0) return 0;
    std::lock_guard<std::mutex> lock(mutex_);
    const uint64_t token = next_token_++;
    epoll_event event{};
    event.events = EPOLLRDHUP | EPOLLONESHOT;  // EPOLLHUP and EPOLLERR are always reported
    event.data.u64 = token;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) return 0;
    callbacks_.emplace(token, std::move(callback));
    return token;
  }

  void remove(int fd, uint64_t token) {
    std::lock_guard<std::mutex> lock(mutex_);
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    callbacks_.erase(token);
  }

 private:
  HangupMonitor() : epoll_fd_(epoll_create1(EPOLL_CLOEXEC)) {
    if (epoll_fd_ < 0) {
      spdlog::warn("epoll_create1 failed: client hang-ups are noticed only when a write fails");
      return;
    }
    std::thread([this] { run(); }).detach();
  }

  void run() {
    epoll_event events[64];
    for (;;) {
      const int n = epoll_wait(epoll_fd_, events, 64, -1);
      std::lock_guard<std::mutex> lock(mutex_);
      for (int i = 0; i < n; ++i) {
        const auto it = callbacks_.find(events[i].data.u64);
        if (it == callbacks_.end()) continue;  // removed meanwhile
        it->second();
        callbacks_.erase(it);
      }
    }
  }

  const int epoll_fd_;
  std::mutex mutex_;
  std::unordered_map<uint64_t, std::function<void()>> callbacks_;
  uint64_t next_token_ = 1;
};

}  // namespace

ConnectionWatch::ConnectionWatch() : fd_(current_connection_socket()) {}

ConnectionWatch::~ConnectionWatch() {
  if (token_ != 0) HangupMonitor::instance().remove(fd_, token_);
}

void ConnectionWatch::watch(std::function<void()> on_hang_up) {
  if (fd_ < 0 || token_ != 0) return;
  token_ = HangupMonitor::instance().add(fd_, std::move(on_hang_up));
}

bool ConnectionWatch::hung_up() const {
  if (fd_ < 0) return false;
  pollfd p{fd_, static_cast<short>(POLLIN | POLLRDHUP), 0};
  if (poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL)) return true;
  if (p.revents & POLLIN) {
    // Readable: either a pipelined next request (still connected) or EOF.
    char byte;
    return recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
  }
  return false;
}

}  // namespace kvs
