// Hand-off from an HTTP session to a WebSocket session once an upgrade is accepted.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "handover/http/message.hpp"
#include "server_state.hpp"

namespace handover::http {

// Starts a WebSocket session on `socket`, whose executor must be the connection's strand,
// and must be called on that strand. The session completes the handshake for `upgrade`,
// then calls route.handler->on_open with `request`. It keeps `slot` until the connection
// has closed. `route` and `state` must outlive the session (they belong to the server).
void start_websocket_session(boost::asio::ip::tcp::socket socket,
                             boost::beast::http::request<boost::beast::http::string_body> upgrade,
                             Request request, const WebSocketRoute& route, ServerState& state,
                             ConnectionSlot slot);

}  // namespace handover::http
