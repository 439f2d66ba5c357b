// Hand-off from an HTTP session to a streamed response (Server-Sent Events).
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <memory>
#include <string>

#include "handover/http/message.hpp"
#include "server_state.hpp"

namespace handover::http {

// Takes over `socket` (whose executor is the connection's strand; call on that strand),
// sends `head` (status line and headers, announcing a chunked body), then calls
// source->on_open and sends what the source writes as chunks, with heartbeat comments
// while idle, until either side closes. Keeps `slot` until the connection has closed.
// `state` must outlive the session.
void start_stream_session(boost::asio::ip::tcp::socket socket, std::string head,
                          std::shared_ptr<StreamSource> source, ServerState& state,
                          ConnectionSlot slot);

}  // namespace handover::http
