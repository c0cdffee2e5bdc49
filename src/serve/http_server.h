// `tzrec serve`: an HTTP/1.1 server (cpp-httplib) answering the TorchEasyRec
// Processor's protocol for one export. POST /api/predict/<service> (the path
// the EAS SDK posts to) and POST /predict take a serialized PBRequest
// (--fg_mode normal) or PredictRequest (bypass) and answer the matching
// response message; GET /health is 200 once the model is loaded and warmed
// up; GET /metrics is Prometheus text. Refusals are one line of text: 400 for
// a malformed request, 401 without the token, 413 for a body over the limit.
#pragma once

#include <cstddef>
#include <string>

#include "serve/served_model.h"

namespace tzrec::serve {

struct ServeOptions {
  std::string model_dir;  // a published export (or a match model's user/ or item/)
  // Instead of model_dir: serve the newest published export under this
  // directory, polling it every model_poll_ms for newer ones (model_versions.h).
  std::string model_base_dir;
  int64_t model_poll_ms = 10000;
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port
  int threads = 2;  // request threads (and FG engines)
  // Client connections served at once, each on a thread that mostly waits for
  // its next request; the work itself is bounded by `threads` FG engines.
  int max_connections = 32;
  int model_threads = 1;  // libtorch intra-op threads of the model calls
  int model_workers = 1;  // model calls that may run at once
  bool fg_mode_normal = false;  // PBRequest + FG; else bypass (PredictRequest)
  std::string token;  // empty: no Authorization required
  size_t max_body_bytes = 64 << 20;
  // What each loaded export is served with: outputs, item limit, item table,
  // batching, retrieval (served_model.h). fg_engines follows `threads`.
  ServedModel::Options model;
};

// Loads and warms up the model, binds, prints "tzrec serve: listening on
// http://HOST:PORT" on stdout, and serves until SIGTERM or SIGINT; then
// finishes the requests in flight and returns.
void Serve(const ServeOptions& options);

}  // namespace tzrec::serve
