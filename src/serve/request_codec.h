// The Processor's request and response messages, translated to what tzrec
// runs: a PBRequest (FG mode) becomes one raw row per candidate item for the
// export's FG; a PredictRequest (bypass mode) becomes the model's input
// tensors; model outputs become ArrayProtos. Malformed requests throw
// BadRequest with a one-line reason naming the feature or input at fault.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "features/fg/input_batch.h"
#include "models/model.h"
#include "serve/item_table.h"
#include "serve/protos/pairec_predict.pb.h"
#include "serve/protos/torch_predict.pb.h"

namespace tzrec::serve {

namespace pairec = com::alibaba::pairec::processor;
namespace eas = torch::eas;

// A request the server refuses: HTTP `status` (400, 413) with `what()` as the
// body.
class BadRequest : public std::runtime_error {
 public:
  explicit BadRequest(const std::string& reason, int status = 400)
      : std::runtime_error(reason), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

// FG input text of one feature value, as a CSV cell holding it would read:
// numbers in their shortest exact form, lists joined by `separator`, maps as
// key:value pairs joined by `separator`, lists of lists joined by ";" (the
// sequence delimiter) between inner lists. An unset value is "" (FG default).
std::string FeatureText(const pairec::PBFeature& feature, char separator = '\x1d');

// The raw rows of a PBRequest's items: one per item that can be scored, in
// request order; `items[r]` is the request's index of row r.
struct RequestRows {
  fg::OwnedInputBatch rows{0};
  std::vector<int> items;
};

// Holds each of `input_columns` for each item, taken from the request's
// item_features, context_features (per item, in item order), the item table
// (by item id), or user_features (the same for every item), in that order; a
// column none of them has is "" (FG applies its default). With an item table
// and no item_features in the request, an item id the table lacks cannot be
// scored and gets no row. BadRequest when a per-item feature does not have
// one value per item.
RequestRows ToRows(const pairec::PBRequest& request, const std::vector<std::string>& input_columns,
                   const ItemTable* item_table = nullptr);

// A bypass-mode request: the model's inputs by name and the indexes of the
// outputs wanted (empty: all).
struct TensorRequest {
  models::TensorMap inputs;
  std::vector<int> output_filter;
};

// Parses a PredictRequest numbered as the Processor documentation numbers it
// (map_inputs = 2) or as the EAS SDK's TorchRequest does (map_inputs = 3):
// the numbering under which every map_inputs entry is a well-formed array is
// the one the caller used; a body that is neither is tried as snappy-compressed
// (the SDK's TorchRequest(True) compresses without saying so) and refused
// (413) when it would expand past `max_uncompressed_bytes`. BadRequest when
// neither numbering or both fit.
TensorRequest ParseTensorRequest(const std::string& body, size_t max_uncompressed_bytes);

// An ArrayProto as a tensor of its dtype and shape (float, double, int32 and
// narrower, int64, bool); BadRequest naming `name` when its values do not fill
// its shape or its dtype has no tensor form here.
at::Tensor ArrayToTensor(const eas::ArrayProto& array, const std::string& name);

// A tensor as an ArrayProto: float32 values (any floating or integer tensor),
// its shape as array_shape.
eas::ArrayProto TensorToArray(const at::Tensor& tensor);

}  // namespace tzrec::serve
