#include "serve/http_server.h"

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <atomic>
#include <optional>
#include <chrono>
#include <cstdio>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <ATen/Parallel.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include "common/error.h"
#include "serve/auth.h"
#include "artifacts/manifest.h"
#include "serve/metrics.h"
#include "serve/model_versions.h"
#include "serve/served_model.h"

namespace tzrec::serve {
namespace {

// One line, as every refusal's body is.
std::string OneLine(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return text + "\n";
}

// Answers one prediction request into `res`; returns the items it scored.
int64_t Answer(ServedModel& model, const ServeOptions& options, const httplib::Request& req,
               httplib::Response& res) {
  SignedRequest signed_request{req.path,
                               req.get_header_value("Authorization"),
                               req.get_header_value("Content-MD5"),
                               req.get_header_value("Content-Type"),
                               req.get_header_value("Date"),
                               &req.body};
  if (!Authorized(options.token, signed_request)) {
    res.status = 401;
    res.set_content("unauthorized: the Authorization header does not carry the service token\n",
                    "text/plain");
    return 0;
  }
  int64_t items = 0;
  try {
    std::string body;
    if (options.fg_mode_normal) {
      pairec::PBRequest request;
      if (!request.ParseFromString(req.body)) throw BadRequest("the body is not a PBRequest");
      items = request.item_ids_size();
      body = model.Predict(request).SerializeAsString();
    } else {
      const TensorRequest request = ParseTensorRequest(req.body, options.max_body_bytes);
      body = model.Predict(request).SerializeAsString();
    }
    res.status = 200;
    res.set_content(body, "application/octet-stream");
  } catch (const BadRequest& e) {
    res.status = e.status();
    res.set_content(OneLine(e.what()), "text/plain");
  } catch (const std::exception& e) {
    spdlog::error("request to {} failed: {}", req.path, e.what());
    res.status = 500;
    res.set_content(OneLine(std::string("internal error: ") + e.what()), "text/plain");
  }
  return items;
}

// Write end of the pipe the signal handler writes to.
std::atomic<int> stop_pipe_write{-1};

void OnStopSignal(int) {
  const char byte = 's';
  // Only async-signal-safe calls here; the watcher thread does the rest.
  [[maybe_unused]] const ssize_t n = write(stop_pipe_write.load(), &byte, 1);
}

// Turns SIGTERM / SIGINT into server.stop() (which lets requests in flight
// finish). A handler, not blocked signals and sigwait: threads that libraries
// start before main (OpenBLAS's) would take a blocked-elsewhere signal with
// its default action; with a handler installed, any thread may take it.
class StopOnSignal {
 public:
  explicit StopOnSignal(httplib::Server& server) {
    if (pipe(pipe_) != 0) Fail("cannot create a pipe for signal handling");
    stop_pipe_write = pipe_[1];
    struct sigaction action {};
    action.sa_handler = OnStopSignal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGINT, &action, nullptr);
    thread_ = std::thread([this, &server] {
      char byte = 0;
      while (read(pipe_[0], &byte, 1) < 0 && errno == EINTR) {
      }
      if (!done_) spdlog::info("tzrec serve: stopping after the requests in flight");
      server.stop();
    });
  }
  ~StopOnSignal() {
    done_ = true;
    OnStopSignal(0);  // the server stopped on its own: wake the watcher
    thread_.join();
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    stop_pipe_write = -1;
    close(pipe_[0]);
    close(pipe_[1]);
  }

 private:
  int pipe_[2] = {-1, -1};
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace

void Serve(const ServeOptions& options) {
  if (options.threads < 1) FailConfig("--threads must be at least 1, got {}", options.threads);
  if (options.max_connections < 1) {
    FailConfig("--max_connections must be at least 1, got {}", options.max_connections);
  }
  const ServedModel::Options& m = options.model;
  if (m.max_items < 1) FailConfig("--max_items must be at least 1, got {}", m.max_items);
  if (m.batching.max_batch_rows < 1) {
    FailConfig("--max_batch_items must be at least 1, got {}", m.batching.max_batch_rows);
  }
  if (m.batching.max_queued < 1) {
    FailConfig("--max_queued_requests must be at least 1, got {}", m.batching.max_queued);
  }
  if (options.model_threads < 1) {
    FailConfig("--model_threads must be at least 1, got {}", options.model_threads);
  }
  if (options.model_workers < 1) {
    FailConfig("--model_workers must be at least 1, got {}", options.model_workers);
  }
  // Requests run in parallel already (FG in their threads, the model calls on
  // the batcher's workers); intra-op threads on top of them mostly spin
  // against each other.
  at::set_num_threads(options.model_threads);
  ServedModel::Options model_options = options.model;
  model_options.fg_engines = options.threads;
  model_options.batching.workers = options.model_workers;
  if (options.model_dir.empty() == options.model_base_dir.empty()) {
    FailConfig("give either --scripted_model_path or --model_base_dir");
  }
  std::string first_dir = options.model_dir;
  if (!options.model_base_dir.empty()) {
    const std::optional<std::string> newest = NewestExport(options.model_base_dir);
    if (!newest) {
      FailConfig("--model_base_dir {}: no published export (a subdirectory with {}) in it",
                 options.model_base_dir, artifacts::kExportManifestFile);
    }
    first_dir = *newest;
  }
  auto load = [model_options](const std::string& dir) {
    return std::shared_ptr<ServedModel>(ServedModel::Load(dir, model_options));
  };
  ModelHolder holder(load(first_dir));
  std::optional<VersionWatcher> watcher;
  if (!options.model_base_dir.empty()) {
    watcher.emplace(options.model_base_dir, first_dir, holder, load,
                    std::chrono::milliseconds(options.model_poll_ms));
  }
  ServeMetrics metrics;

  httplib::Server server;
  // cpp-httplib serves a keep-alive connection on one pool thread until the
  // connection has made its requests: a pool of only `threads` threads left
  // the third and later clients waiting for whole connections (p99 57 ms with
  // 4 clients, docs/benchmarks.md). The pool holds connections; FG engines
  // (`threads` of them) bound the work.
  server.new_task_queue = [connections = std::max(options.threads, options.max_connections)] {
    return new httplib::ThreadPool(static_cast<size_t>(connections));
  };
  server.set_payload_max_length(options.max_body_bytes);
  // Answers go out at once: without it, Nagle and delayed ACKs add ~40 ms.
  server.set_tcp_nodelay(true);
  // SO_REUSEADDR only: cpp-httplib's default SO_REUSEPORT would let a second
  // server bind a port already served, and share its requests unnoticed.
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  auto predict = [&](const httplib::Request& req, httplib::Response& res) {
    const auto start = std::chrono::steady_clock::now();
    const int64_t items = Answer(*holder.Current(), options, req, res);
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    metrics.Record(res.status, took.count(), items);
  };
  server.Post(R"(/api/predict/[^/]+)", predict);
  server.Post("/predict", predict);
  server.Get("/health", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  server.Get("/metrics", [&metrics, &holder](const httplib::Request&, httplib::Response& res) {
    const std::shared_ptr<ServedModel> model = holder.Current();
    res.set_content(metrics.Text(model->dir(), model->batch_stats()), "text/plain; version=0.0.4");
  });

  int port = options.port;
  if (port == 0) {
    port = server.bind_to_any_port(options.host);
  } else if (!server.bind_to_port(options.host, port)) {
    port = -1;
  }
  if (port < 0) Fail("cannot listen on {}:{} (in use, or not an address of this machine)", options.host, options.port);
  StopOnSignal stop_on_signal(server);
  spdlog::info("serving {} ({} mode, outputs {})", first_dir,
               options.fg_mode_normal ? "normal" : "bypass",
               fmt::join(holder.Current()->output_names(), ", "));
  std::fputs(fmt::format("tzrec serve: listening on http://{}:{}\n", options.host, port).c_str(), stdout);
  std::fflush(stdout);
  server.listen_after_bind();
}

}  // namespace tzrec::serve
