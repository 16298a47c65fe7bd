#pragma once
// Tells when an HTTP client hangs up while its handler waits for tokens, so
// its generation stops at the engine's next step (streaming or not, queued,
// prefilling or decoding), not when the next write happens to fail.
//
// A watch is made on the handler's thread and takes the socket of the
// connection that thread serves (current_connection_socket(), set by
// ConnectionLoopServer). watch() hands the socket to one process-wide epoll
// thread, which runs the callback as soon as the peer closes or resets the
// connection.
//
// Ownership: borrows the descriptor, never closes it. Thread-safety: create,
// use and destroy a watch on the handler's own thread, while the connection is
// open (a handler, or the content provider it set); the callback runs on the
// monitor thread (see watch()).
#include <cstdint>
#include <functional>

namespace kvs {

class ConnectionWatch {
 public:
  // Watches the calling thread's current connection (none: found() is false).
  ConnectionWatch();
  // Stops watching: once it returns, the callback is not running and never will.
  ~ConnectionWatch();
  ConnectionWatch(const ConnectionWatch&) = delete;
  ConnectionWatch& operator=(const ConnectionWatch&) = delete;

  // Runs `on_hang_up` once, on the monitor thread, when the peer closes
  // (or half-closes: a client that sent EOF can use no answer) or resets the
  // connection. It must be quick and thread-safe (cancel engine requests).
  // At most one callback per watch; does nothing when the socket was not found.
  void watch(std::function<void()> on_hang_up);
  // True once the peer hung up (as above). Never blocks; false when the
  // socket was not found (then only a failed write tells).
  bool hung_up() const;
  bool found() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
  uint64_t token_ = 0;  // the monitor's registration, 0 = none
};

}  // namespace kvs
