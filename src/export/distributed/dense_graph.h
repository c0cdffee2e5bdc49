// The dense half of a distributed-embedding export: the model without its
// embedding tables, reading the embeddings a lookup service computed.
//
// scripted_model.pt: forward(data: Dict[str, Tensor]) -> Dict[str, Tensor]
// with the model's usual outputs. Its inputs (models' embedded-inputs mode,
// see models/modules/embedding_group.h):
//   "<key>__ebc"      float [B, dim] pooled embedding of a DEEP/WIDE feature;
//   "<key>__ec"       float [N, dim] rows of a sequence-group feature, with
//   "<key>__lengths"  int64 [B] rows per sample;
//   "<f>.values"      dense features as in the normal export;
//   "batch_size"      int64: INPUT_TILE=3, user-side inputs may arrive with
//                     one row and are tiled to batch_size rows (give 1 when
//                     every input already has all rows).
// <key> is the feature's name, or "<feature>@<table>" for a feature reading
// two tables of the same kind (a DEEP and a WIDE table).
//
// dense_meta.json says how the inputs are assembled from looked-up
// embeddings, in upstream's form: "sequence__ec" lists the sequence inputs
// and their lengths; every other key is a pooled input and lists the
// "<key>__ebc" embeddings concatenated into it (tzrec's graph takes each
// feature's embedding as its own input, so each list has one entry).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "checkpoint/state_reader.h"
#include "config/protos/pipeline.pb.h"
#include "export/distributed/sparse_tables.h"
#include "features/feature.h"

namespace tzrec::exporting::distributed {

// The embedded inputs of the model's embedding group with the checkpoint
// names of their tables, in the group's first-use order. Builds no table.
std::vector<SparseInput> DenseGraphInputs(const protos::EasyRecConfig& config,
                                          const std::vector<const Feature*>& features);

nlohmann::ordered_json DenseMeta(const std::vector<SparseInput>& inputs);

// Builds the dense graph, restores its weights from `checkpoint` (reading only
// the tensors it has: no embedding table is read), checks that it runs on a
// small zero batch, and saves it to `path`. Returns forward's output names.
std::vector<std::string> WriteDenseGraph(const protos::EasyRecConfig& config,
                                         const std::vector<const Feature*>& features,
                                         const std::vector<SparseInput>& inputs,
                                         const checkpoint::StateReader& checkpoint,
                                         const std::string& path);

}  // namespace tzrec::exporting::distributed
