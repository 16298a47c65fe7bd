#include "server/http/connection_loop_server.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

#include "server/http/tiered_task_queue.h"

namespace kvs {
namespace {

thread_local int t_connection_socket = -1;

// Sets the thread's current connection for as long as it lives.
class CurrentConnection {
 public:
  explicit CurrentConnection(int fd) { t_connection_socket = fd; }
  ~CurrentConnection() { t_connection_socket = -1; }
  CurrentConnection(const CurrentConnection&) = delete;
  CurrentConnection& operator=(const CurrentConnection&) = delete;
};

int to_ms(time_t sec, time_t usec) { return static_cast<int>(sec * 1000 + usec / 1000); }

// Waits up to `timeout_ms` for `events` on `fd`; retries on EINTR.
bool wait_for(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  for (;;) {
    const int n = poll(&p, 1, timeout_ms);
    if (n >= 0) return n > 0;
    if (errno != EINTR) return false;
  }
}

void address_of(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  const int rc = peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len)
                      : getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  char host[NI_MAXHOST];
  char service[NI_MAXSERV];
  if (rc != 0 || getnameinfo(reinterpret_cast<const sockaddr*>(&addr), len, host, sizeof host, service, sizeof service,
                             NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return;
  }
  ip = host;
  port = std::atoi(service);
}

// A connected socket as httplib's Stream, with a small read buffer (httplib
// reads request lines a byte at a time).
class SocketStream final : public httplib::Stream {
 public:
  SocketStream(int fd, int read_timeout_ms, int write_timeout_ms)
      : fd_(fd), read_timeout_ms_(read_timeout_ms), write_timeout_ms_(write_timeout_ms) {}

  bool is_readable() const override { return buffered() > 0 || wait_for(fd_, POLLIN, read_timeout_ms_); }
  bool is_writable() const override { return wait_for(fd_, POLLOUT, write_timeout_ms_); }

  ssize_t read(char* ptr, size_t size) override {
    if (buffered() == 0) {
      if (!wait_for(fd_, POLLIN, read_timeout_ms_)) return -1;
      if (size >= sizeof buffer_) return receive(ptr, size);
      const ssize_t n = receive(buffer_, sizeof buffer_);
      if (n <= 0) return n;
      begin_ = 0;
      end_ = static_cast<size_t>(n);
    }
    const size_t n = std::min(size, buffered());
    std::memcpy(ptr, buffer_ + begin_, n);
    begin_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!is_writable()) return -1;
    for (;;) {
      const ssize_t n = send(fd_, ptr, size, MSG_NOSIGNAL);
      if (n >= 0 || errno != EINTR) return n;
    }
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override { address_of(fd_, true, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { address_of(fd_, false, ip, port); }
  socket_t socket() const override { return fd_; }

  size_t buffered() const { return end_ - begin_; }

 private:
  ssize_t receive(char* ptr, size_t size) {
    for (;;) {
      const ssize_t n = recv(fd_, ptr, size, 0);
      if (n >= 0 || errno != EINTR) return n;
    }
  }

  int fd_;
  int read_timeout_ms_;
  int write_timeout_ms_;
  char buffer_[4096];
  size_t begin_ = 0, end_ = 0;
};

// FIN after the response, drop what the client sent that was never read
// (closing with unread data would send a reset), then close.
void close_gracefully(int fd) {
  shutdown(fd, SHUT_WR);
  char discard[4096];
  while (recv(fd, discard, sizeof discard, MSG_DONTWAIT) > 0) {
  }
  close(fd);
}

constexpr int kStopCheckMs = 50;  // how often an idle connection looks whether the server stops

}  // namespace

int current_connection_socket() { return t_connection_socket; }

bool ConnectionLoopServer::wait_for_request(socket_t sock) const {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(keep_alive_timeout_sec_);
  while (svr_sock_ != INVALID_SOCKET) {
    if (wait_for(sock, POLLIN, kStopCheckMs)) return true;  // data, or EOF (then the read ends it)
    if (std::chrono::steady_clock::now() >= deadline) return false;
  }
  return false;
}

bool ConnectionLoopServer::refused_from_request_line(socket_t sock) const {
  char head[512];
  const ssize_t n = recv(sock, head, sizeof head, MSG_PEEK | MSG_DONTWAIT);
  if (n <= 0) return false;
  const std::string line(head, static_cast<size_t>(n));
  const size_t end = line.find("\r\n");
  const size_t space = line.find(' ');
  if (end == std::string::npos || space == std::string::npos || space > end) return false;  // let httplib judge it
  const size_t target_end = line.find(' ', space + 1);
  if (target_end == std::string::npos || target_end > end) return false;
  const std::string method = line.substr(0, space);
  std::string path = line.substr(space + 1, target_end - space - 1);
  path = path.substr(0, path.find('?'));
  std::string remote_addr;
  int remote_port = -1;
  address_of(sock, true, remote_addr, remote_port);
  const std::optional<std::string> response = busy_refusal_(method, path, remote_addr);
  if (!response) return false;
  SocketStream stream(sock, 0, to_ms(write_timeout_sec_, write_timeout_usec_));
  size_t sent = 0;
  while (sent < response->size()) {
    const ssize_t w = stream.write(response->data() + sent, response->size() - sent);
    if (w <= 0) break;
    sent += static_cast<size_t>(w);
  }
  return true;
}

bool ConnectionLoopServer::process_and_close_socket(socket_t sock) {
  // httplib writes a response's headers and body in separate sends: without
  // TCP_NODELAY the body waits for the client's delayed ACK (40 ms on Linux).
  int yes = 1;
  setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
  CurrentConnection current(sock);
  SocketStream stream(sock, to_ms(read_timeout_sec_, read_timeout_usec_), to_ms(write_timeout_sec_, write_timeout_usec_));
  const bool overflow = TieredTaskQueue::on_overflow_thread();
  if (overflow && busy_refusal_ && wait_for_request(sock) && refused_from_request_line(sock)) {
    close_gracefully(sock);
    return true;
  }
  size_t count = overflow ? 1 : keep_alive_max_count_;
  bool ok = false;
  while (count > 0 && svr_sock_ != INVALID_SOCKET && (stream.buffered() > 0 || wait_for_request(sock))) {
    bool connection_closed = false;
    ok = process_request(stream, /*close_connection=*/count == 1, connection_closed, nullptr);
    if (!ok || connection_closed) break;
    --count;
  }
  close_gracefully(sock);
  return ok;
}

}  // namespace kvs
