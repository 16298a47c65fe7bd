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
//   thread is free again as soon as it has answered;
// - sets TCP_NODELAY (httplib sends headers and body apart, and the body
//   would wait for the client's delayed ACK);
// - closes gracefully: FIN after the response, then whatever the client sent
//   unread is discarded, so the close does not reset a response in flight.
// Otherwise it is httplib's loop: keep-alive up to keep_alive_max_count
// requests, keep_alive_timeout between them, read/write timeouts, and stop()
// ends idle connections within 50 ms.
//
// Ownership and thread-safety: as httplib::Server.
#include <httplib.h>

namespace kvs {

class ConnectionLoopServer : public httplib::Server {
 private:
  bool process_and_close_socket(socket_t sock) override;
  // Waits for the next request's first bytes (up to the keep-alive timeout);
  // false when the client closed, the time ran out or the server stops.
  bool wait_for_request(socket_t sock) const;
};

// The socket of the connection the calling thread serves now, -1 when none.
int current_connection_socket();

}  // namespace kvs
