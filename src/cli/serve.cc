// `tzrec serve`: answers the TorchEasyRec Processor's request protocol for one
// export (serve/http_server.h), so that EAS SDK and PAI-REC callers work
// against it unchanged.
#include "cli/subcommand.h"
#include "common/strings.h"
#include "serve/http_server.h"

namespace tzrec::cli {
namespace {

std::function<int()> Setup(CLI::App& app) {
  auto options = std::make_shared<serve::ServeOptions>();
  auto fg_mode = std::make_shared<std::string>("bypass");
  auto outputs = std::make_shared<std::string>();
  auto* model_dir = app.add_option("--scripted_model_path", options->model_dir,
                                   "published export directory (a match model's user/ or item/ "
                                   "export)");
  auto* base_dir = app.add_option("--model_base_dir", options->model_base_dir,
                                  "serve the newest published export under this directory and "
                                  "switch to newer ones as they appear");
  model_dir->excludes(base_dir);
  app.add_option("--model_poll_ms", options->model_poll_ms,
                 "how often --model_base_dir is checked for a newer export");
  app.add_option("--host", options->host, "address to listen on");
  app.add_option("--port", options->port, "port to listen on (0: any free port)");
  app.add_option("--threads", options->threads, "request threads");
  app.add_option("--max_connections", options->max_connections,
                 "client connections served at once (keep-alive connections beyond it wait)");
  app.add_option("--model_threads", options->model_threads,
                 "libtorch intra-op threads of each model call");
  app.add_option("--model_workers", options->model_workers,
                 "model calls that may run at once, each on its own thread");
  app.add_option("--fg_mode", *fg_mode,
                 "normal: PBRequest of raw features, FG runs here; bypass: PredictRequest of "
                 "model inputs")
      ->check(CLI::IsMember({"normal", "bypass"}));
  app.add_option("--outputs", *outputs, "model outputs to return, comma separated (default all)");
  app.add_option("--token", options->token,
                 "service token callers must send in the Authorization header (plain or "
                 "EAS-signed)");
  app.add_option("--max_body_bytes", options->max_body_bytes, "largest request body (413 above)");
  app.add_option("--max_items", options->model.max_items, "most item_ids one request may score");
  app.add_option("--item_feature_path", options->model.item_feature_path,
                 "item features by item id for requests that send only ids: CSV with a header "
                 "or Parquet (a file, a directory of part files, a comma list or glob)");
  app.add_option("--item_id_field", options->model.item_id_field, "item id column of --item_feature_path");
  app.add_option("--item_empty_score", options->model.item_empty_score,
                 "score of an item id --item_feature_path lacks");
  app.add_option("--max_batch_items", options->model.batching.max_batch_rows,
                 "concurrent requests share one model call up to this many items");
  app.add_option("--batch_timeout_us", options->model.batching.batch_timeout_us,
                 "how long a model call waits for more requests to share it (0: never waits)");
  app.add_option("--max_queued_requests", options->model.batching.max_queued,
                 "requests waiting for the model beyond this get 503 at once");
  app.add_option("--faiss_index_dir", options->model.faiss_index_dir,
                 "retrieval with a match model's user/ export: the index create_faiss_index "
                 "wrote; requests get the nearest item ids");
  app.add_option("--faiss_neigh_num", options->model.faiss_neigh_num,
                 "neighbours returned when a request does not say (PBRequest.faiss_neigh_num)");
  app.add_option("--faiss_nprobe", options->model.faiss_nprobe, "lists an IVF index searches");
  return [options, fg_mode, outputs]() {
    options->fg_mode_normal = *fg_mode == "normal";
    options->model.outputs = SplitList(*outputs);
    serve::Serve(*options);
    return 0;
  };
}

const bool kRegistered = Register(
    {"serve", "serve an export over HTTP with the TorchEasyRec Processor's protocol", Setup});

}  // namespace
}  // namespace tzrec::cli
