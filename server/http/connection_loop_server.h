#pragma once
// httplib::Server with kvserve's own per-connection loop (the part cpp-httplib
// 0.11 runs in its private process_and_close_socket, a virtual we override).
//
// Why: the stock loop hides the socket from handlers and keeps every
// connection for keep-alive. This one
// - makes the connection's socket known to its thread while it is served
//   (current_connection_socket(), for ConnectionWatch);
// - serves one request per connection on the overflow tier of a
//   TieredTaskQueue (the response says `Connection: close`), so an overflow
//   thread is free again as soon as it has answered; there a request the busy
//   refusal turns down (see set_busy_refusal) is answered from its request
//   line alone, without parsing the rest, so a burst drains in microseconds
//   per connection and probes behind it wait little;
// - sets TCP_NODELAY (httplib sends headers and body apart, and the body
//   would wait for the client's delayed ACK);
// - closes gracefully: FIN after the response, then whatever the client sent
//   unread is discarded, so the close does not reset a response in flight.
// Otherwise it is httplib's loop: keep-alive up to keep_alive_max_count
// requests, keep_alive_timeout between them, read/write timeouts, and stop()
// ends idle connections within 50 ms.
//
// Ownership and thread-safety: as httplib::Server.
#include <functional>
#include <optional>
#include <string>

#include <httplib.h>

namespace kvs {

class ConnectionLoopServer : public httplib::Server {
 public:
  // Given a request's method, path (query cut off) and peer address, the whole
  // HTTP response the overflow tier sends instead of serving it, or nullopt to
  // serve it. Runs on overflow threads: must be thread-safe.
  using BusyRefusal = std::function<std::optional<std::string>(const std::string& method, const std::string& path,
                                                               const std::string& remote_addr)>;
  // Call before listening.
  void set_busy_refusal(BusyRefusal refusal) { busy_refusal_ = std::move(refusal); }

 private:
  bool process_and_close_socket(socket_t sock) override;
  // Waits for the next request's first bytes (up to the keep-alive timeout);
  // false when the client closed, the time ran out or the server stops.
  bool wait_for_request(socket_t sock) const;
  // On the overflow tier: answers the waiting request with the busy refusal's
  // response if it says so (true: answered, the connection is done).
  bool refused_from_request_line(socket_t sock) const;

  BusyRefusal busy_refusal_;
};

// The socket of the connection the calling thread serves now, -1 when none.
int current_connection_socket();

}  // namespace kvs
