#include "features/fg/fg_engine.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include <fmt/format.h>

#include "common/error.h"
#include "features/fg/text_util.h"
#include "features/fg/transform.h"

namespace tzrec::fg {

// How each transform input is fed, resolved once at construction.
struct InputSource {
  enum Kind { kColumn, kFeature, kConst } kind = kColumn;
  std::string column;  // kColumn
  int slot = -1;       // kFeature: index into the per-row text slots
  std::string value;   // kConst
  bool is_sequence = false;
};

struct EncodedFeature {
  size_t spec_index = 0;
  bool sparse = true;
  bool sequence = false;
  bool weighted = false;
  int dim = 1;
  int64_t num_embeddings = 0;  // 0: unknown, no range check
  std::vector<int64_t> default_ids;
  std::vector<float> default_weights;
  std::vector<float> default_dense;
  bool has_default = false;
};

struct FgEngine::Plan {
  std::vector<std::unique_ptr<FeatureTransform>> transforms;  // by spec index
  std::vector<size_t> order;                                  // topological
  std::vector<std::vector<InputSource>> sources;              // by spec index
  std::vector<int> output_index;                              // by spec index, -1 stub
  std::vector<int> text_slot;                                 // by spec index, -1 none
  int num_slots = 0;
  size_t max_inputs = 0;
  std::vector<EncodedFeature> encoded;
};

FgEngine::FgEngine(std::vector<FeatureSpec> specs, FgEngineOptions options)
    : specs_(std::move(specs)), options_(std::move(options)), plan_(std::make_unique<Plan>()) {
  Plan& plan = *plan_;
  const size_t n = specs_.size();
  std::unordered_map<std::string, size_t> by_name;
  for (size_t i = 0; i < n; ++i) by_name[specs_[i].name] = i;
  plan.output_index.assign(n, -1);
  int next_output = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!specs_[i].stub) plan.output_index[i] = next_output++;
  }

  if (options_.mode == FgMode::kEncoded) {
    for (size_t i = 0; i < n; ++i) {
      const FeatureSpec& spec = specs_[i];
      if (spec.stub) continue;
      EncodedFeature ef;
      ef.spec_index = i;
      ef.sparse = spec.IsSparse();
      ef.sequence = spec.is_sequence;
      ef.weighted = spec.weighted;
      ef.dim = spec.DenseDim();
      if (spec.HasTokenBucketizer()) {
        ef.num_embeddings = TokenBucketizer(spec, options_.hash_kind).num_embeddings();
      } else if (!spec.boundaries.empty()) {
        ef.num_embeddings = static_cast<int64_t>(spec.boundaries.size()) + 1;
      }
      auto it = options_.fg_encoded_defaults.find(spec.name);
      if (it != options_.fg_encoded_defaults.end() && !it->second.empty()) {
        ef.has_default = true;
        const std::string where = "fg_encoded_default_value of feature '" + spec.name + "'";
        ForEachPart(it->second, options_.fg_encoded_multival_sep, [&](std::string_view part) {
          if (ef.sparse) {
            int64_t id;
            if (!ParseInt64(part, &id)) FailConfig("{}: '{}' is not an integer", where, part);
            ef.default_ids.push_back(id);
            ef.default_weights.push_back(1.0f);
          } else {
            double v;
            if (!ParseDouble(part, &v)) FailConfig("{}: '{}' is not a number", where, part);
            ef.default_dense.push_back(static_cast<float>(v));
          }
        });
        if (!ef.sparse && static_cast<int>(ef.default_dense.size()) != ef.dim) {
          FailConfig("{}: has {} values, the feature's dimension is {}", where,
                     ef.default_dense.size(), ef.dim);
        }
      }
      if (!ef.sequence && !ef.weighted && (ef.sparse || ef.dim == 1)) numeric_columns_.push_back(spec.name);
      plan.encoded.push_back(std::move(ef));
      input_columns_.push_back(spec.name);
    }
    return;
  }

  // FG mode: transforms, their input sources, and a DAG order.
  plan.transforms.resize(n);
  plan.sources.resize(n);
  plan.text_slot.assign(n, -1);
  std::vector<std::vector<size_t>> deps(n);
  for (size_t i = 0; i < n; ++i) {
    const FeatureSpec& spec = specs_[i];
    if (spec.inputs.empty()) {
      FailConfig("fg.json feature '{}' has no input expression; FG_DAG/FG_NORMAL need one "
                 "(use fg_mode FG_NONE for already-encoded data)",
                 spec.name);
    }
    plan.transforms[i] = MakeTransform(spec, options_.hash_kind);
    plan.max_inputs = std::max(plan.max_inputs, spec.inputs.size());
    for (const InputRef& in : spec.inputs) {
      InputSource src;
      src.is_sequence = in.is_sequence;
      if (in.side == "const") {
        src.kind = InputSource::kConst;
        src.value = in.name;
      } else if (in.side == "feature") {
        auto it = by_name.find(in.column);
        if (it == by_name.end()) it = by_name.find(in.name);
        if (it == by_name.end()) {
          FailConfig("fg.json feature '{}' reads feature:{}, which fg.json does not define", spec.name,
                     in.name);
        }
        src.kind = InputSource::kFeature;
        if (plan.text_slot[it->second] < 0) plan.text_slot[it->second] = plan.num_slots++;
        deps[i].push_back(it->second);
      } else {
        src.kind = InputSource::kColumn;
        src.column = in.column;
        if (std::find(input_columns_.begin(), input_columns_.end(), in.column) == input_columns_.end()) {
          input_columns_.push_back(in.column);
        }
      }
      plan.sources[i].push_back(std::move(src));
    }
  }
  // Resolve slots now that every referenced feature has one.
  for (size_t i = 0; i < n; ++i) {
    size_t d = 0;
    for (auto& src : plan.sources[i]) {
      if (src.kind == InputSource::kFeature) src.slot = plan.text_slot[deps[i][d++]];
    }
  }
  // Depth-first topological order; a cycle is a config error.
  std::vector<int> state(n, 0);
  std::function<void(size_t)> visit = [&](size_t i) {
    if (state[i] == 2) return;
    if (state[i] == 1) FailConfig("fg.json: features depend on each other in a cycle through '{}'", specs_[i].name);
    state[i] = 1;
    for (size_t d : deps[i]) visit(d);
    state[i] = 2;
    plan.order.push_back(i);
  };
  for (size_t i = 0; i < n; ++i) visit(i);
}

FgEngine FgEngine::FromFile(const std::string& fg_json_path, FgEngineOptions options) {
  return FgEngine(LoadFgJson(fg_json_path), std::move(options));
}

FgEngine::~FgEngine() = default;
FgEngine::FgEngine(FgEngine&&) noexcept = default;
FgEngine& FgEngine::operator=(FgEngine&&) noexcept = default;

std::vector<std::string> FgEngine::output_names() const {
  std::vector<std::string> names;
  for (const auto& s : specs_) {
    if (!s.stub) names.push_back(s.name);
  }
  return names;
}

FeatureBatch FgEngine::Process(const InputBatch& batch) const {
  FeatureBatch out;
  Process(batch, &out);
  return out;
}

void FgEngine::Process(const InputBatch& batch, FeatureBatch* out) const {
  out->skipped_rows.clear();
  if (options_.mode == FgMode::kEncoded) {
    ProcessEncoded(batch, *out);
  } else {
    ProcessFg(batch, *out);
  }
}

namespace {

StridedColumn RequireColumn(const InputBatch& batch, const std::string& column, const std::string& feature) {
  const StridedColumn* col = batch.Find(column);
  if (col == nullptr) {
    Fail("input column '{}' (read by feature '{}') is missing from the data{}", column, feature,
         batch.num_rows > 0 ? " (" + batch.RowOrigin(0) + ")" : "");
  }
  return *col;
}

// Makes `out` hold empty columns shaped like `shapes`, keeping the memory of
// columns it already has.
void ResetColumns(std::vector<FeatureColumn>& out, std::vector<FeatureColumn>&& shapes) {
  bool same = out.size() == shapes.size();
  for (size_t i = 0; same && i < out.size(); ++i) same = out[i].name == shapes[i].name;
  if (!same) {
    out = std::move(shapes);
    return;
  }
  for (auto& col : out) col.Rollback({0, 0, 0, 0, 0});
}

// Rolls every column back to the start of a row when the row is skipped.
struct RowMarks {
  std::vector<FeatureColumn::Mark> marks;
  void Take(const std::vector<FeatureColumn>& cols) {
    marks.resize(cols.size());
    for (size_t i = 0; i < cols.size(); ++i) marks[i] = cols[i].GetMark();
  }
  void Restore(std::vector<FeatureColumn>& cols) const {
    for (size_t i = 0; i < cols.size(); ++i) cols[i].Rollback(marks[i]);
  }
};

}  // namespace

void FgEngine::ProcessFg(const InputBatch& batch, FeatureBatch& out) const {
  const Plan& plan = *plan_;
  const size_t n = specs_.size();
  std::vector<FeatureColumn> stub_cols(n);
  std::vector<FeatureColumn> shapes;
  for (size_t i = 0; i < n; ++i) {
    if (plan.output_index[i] >= 0) shapes.push_back(plan.transforms[i]->MakeColumn());
  }
  ResetColumns(out.features, std::move(shapes));
  // Columns, resolved once per batch.
  std::vector<std::vector<StridedColumn>> cols(n);
  for (size_t i = 0; i < n; ++i) {
    for (const auto& src : plan.sources[i]) {
      cols[i].push_back(src.kind == InputSource::kColumn ? RequireColumn(batch, src.column, specs_[i].name)
                                                         : StridedColumn{});
    }
  }
  for (auto& col : out.features) {
    const size_t rows = static_cast<size_t>(batch.num_rows);
    col.lengths.reserve(rows);
    if (col.sequence) col.seq_lengths.reserve(rows);
    if (!col.sparse) col.dense.reserve(rows * col.dense_dim);
  }

  RawValues values;
  std::vector<std::string> texts(plan.num_slots);
  std::vector<std::string_view> inputs(plan.max_inputs);
  std::vector<std::string_view> row_inputs(plan.max_inputs);
  std::vector<std::vector<std::string_view>> elements(plan.max_inputs);
  std::string element_text;
  RowMarks marks;

  for (int64_t r = 0; r < batch.num_rows; ++r) {
    if (options_.skip_bad_rows) marks.Take(out.features);
    try {
      for (size_t i : plan.order) {
        const FeatureSpec& spec = specs_[i];
        const FeatureTransform& t = *plan.transforms[i];
        FeatureColumn& col = plan.output_index[i] >= 0 ? out.features[plan.output_index[i]] : stub_cols[i];
        if (plan.output_index[i] < 0) col.Rollback({0, 0, 0, 0, 0});
        std::string* text = plan.text_slot[i] >= 0 ? &texts[plan.text_slot[i]] : nullptr;
        const auto& srcs = plan.sources[i];
        for (size_t k = 0; k < srcs.size(); ++k) {
          switch (srcs[k].kind) {
            case InputSource::kColumn: row_inputs[k] = cols[i][k][r]; break;
            case InputSource::kFeature: row_inputs[k] = texts[srcs[k].slot]; break;
            case InputSource::kConst: row_inputs[k] = srcs[k].value; break;
          }
        }
        if (!spec.is_sequence) {
          int64_t count = t.Emit(row_inputs.data(), values, col, text);
          if (col.sparse) col.lengths.push_back(count);
          continue;
        }
        // Sequence: split the per-element inputs; an empty sequence becomes one
        // element holding default_value.
        size_t num_elements = 0;
        for (size_t k = 0; k < srcs.size(); ++k) {
          elements[k].clear();
          if (!srcs[k].is_sequence) continue;
          if (!row_inputs[k].empty()) SplitInto(row_inputs[k], spec.sequence_delim, elements[k]);
          num_elements = std::max(num_elements, elements[k].size());
        }
        if (num_elements == 0) num_elements = 1;
        if (spec.sequence_length > 0) {
          num_elements = std::min<size_t>(num_elements, static_cast<size_t>(spec.sequence_length));
        }
        if (text) text->clear();
        for (size_t e = 0; e < num_elements; ++e) {
          for (size_t k = 0; k < srcs.size(); ++k) {
            inputs[k] = !srcs[k].is_sequence ? row_inputs[k]
                        : e < elements[k].size() ? elements[k][e]
                                                 : std::string_view();
          }
          int64_t count = t.Emit(inputs.data(), values, col, text ? &element_text : nullptr);
          if (col.sparse) {
            if (!col.has_key_lengths && count != 1) {
              throw FgValueError(fmt::format(
                  "sequence feature '{}' (value_dim 1) got {} values for element {}; set a "
                  "non-empty default_value",
                  spec.name, count, e));
            }
            col.lengths.push_back(count);
          }
          if (text) {
            if (e) text->append(spec.sequence_delim);
            text->append(element_text);
          }
        }
        col.seq_lengths.push_back(static_cast<int64_t>(num_elements));
      }
    } catch (const FgValueError& e) {
      if (!options_.skip_bad_rows) Fail("{}: {}", batch.RowOrigin(r), e.what());
      marks.Restore(out.features);
      out.skipped_rows.push_back(r);
    }
  }
  out.num_rows = batch.num_rows - static_cast<int64_t>(out.skipped_rows.size());
}

namespace {

// One row of a numeric column into a scalar encoded feature (numeric_columns()):
// what its text would give, without the text.
void AppendNumber(const EncodedFeature& ef, const NumericColumn& column, int64_t row, FeatureColumn& col) {
  if (!ef.sparse) {
    const double v = column.ints ? static_cast<double>(column.ints[row]) : column.doubles[row];
    if (!std::isfinite(v)) {
      throw FgValueError(fmt::format("feature '{}': encoded value is not finite: '{}'", col.name, v));
    }
    col.dense.push_back(static_cast<float>(v));
    return;
  }
  int64_t id;
  if (column.ints) {
    id = column.ints[row];
  } else {
    const double v = column.doubles[row];
    id = static_cast<int64_t>(v);
    if (static_cast<double>(id) != v) {
      throw FgValueError(fmt::format("feature '{}': encoded id is not an integer: '{}'", col.name, v));
    }
  }
  if (id < 0 || (ef.num_embeddings > 0 && id >= ef.num_embeddings)) {
    throw FgValueError(fmt::format("feature '{}': id outside [0, {}): '{}'", col.name, ef.num_embeddings, id));
  }
  col.ids.push_back(id);
  col.lengths.push_back(1);
}

// A whole numeric column without nulls into a scalar encoded feature, as
// AppendNumber for every row would, in one tight loop: ids (range-checked,
// a bad one fails naming its row) or floats. False for other columns (nulls,
// float ids), which go row by row.
bool AppendNumericColumn(const EncodedFeature& ef, const NumericColumn& column, const InputBatch& batch,
                         FeatureColumn& col) {
  const int64_t rows = batch.num_rows;
  if (column.present != nullptr) return false;
  if (ef.sparse && column.ints != nullptr) {
    col.ids.insert(col.ids.end(), column.ints, column.ints + rows);
    col.lengths.insert(col.lengths.end(), static_cast<size_t>(rows), 1);
    const int64_t* ids = column.ints;
    for (int64_t r = 0; r < rows; ++r) {
      if (ids[r] < 0 || (ef.num_embeddings > 0 && ids[r] >= ef.num_embeddings)) {
        Fail("{}: feature '{}': id outside [0, {}): '{}'", batch.RowOrigin(r), col.name, ef.num_embeddings, ids[r]);
      }
    }
    return true;
  }
  if (!ef.sparse && column.doubles != nullptr) {
    const size_t before = col.dense.size();
    col.dense.resize(before + static_cast<size_t>(rows));
    float* out = col.dense.data() + before;
    for (int64_t r = 0; r < rows; ++r) {
      // FG turns NaN into the default; an encoded NaN or inf is corrupt data
      // that would silently poison training or every prediction it touches.
      if (!std::isfinite(column.doubles[r])) {
        Fail("{}: feature '{}': encoded value is not finite: '{}'", batch.RowOrigin(r), col.name, column.doubles[r]);
      }
      out[r] = static_cast<float>(column.doubles[r]);
    }
    return true;
  }
  return false;
}

}  // namespace

void FgEngine::ProcessEncoded(const InputBatch& batch, FeatureBatch& out) const {
  const Plan& plan = *plan_;
  const char msep = options_.fg_encoded_multival_sep;
  std::vector<StridedColumn> cols;
  std::vector<const NumericColumn*> numbers;
  std::vector<FeatureColumn> shapes;
  for (const auto& ef : plan.encoded) {
    const FeatureSpec& spec = specs_[ef.spec_index];
    FeatureColumn col;
    col.name = spec.name;
    col.sparse = ef.sparse;
    col.sequence = ef.sequence;
    col.weighted = ef.weighted;
    col.dense_dim = ef.dim;
    col.has_key_lengths = col.sequence && col.sparse && spec.value_dim.value_or(0) != 1;
    shapes.push_back(std::move(col));
    const NumericColumn* number = batch.FindNumeric(spec.name);
    numbers.push_back(number);
    cols.push_back(number != nullptr ? StridedColumn{} : RequireColumn(batch, spec.name, spec.name));
  }
  ResetColumns(out.features, std::move(shapes));
  for (auto& col : out.features) {
    const size_t rows = static_cast<size_t>(batch.num_rows);
    if (col.sparse) {
      col.lengths.reserve(rows);
      col.ids.reserve(rows);
    } else {
      col.dense.reserve(rows * col.dense_dim);
    }
  }

  // Numeric columns column by column (tight loops over plain arrays), unless
  // a bad row must be dropped from every feature: then row by row below.
  std::vector<char> done(plan.encoded.size(), 0);
  if (!options_.skip_bad_rows) {
    for (size_t f = 0; f < plan.encoded.size(); ++f) {
      if (numbers[f] != nullptr) done[f] = AppendNumericColumn(plan.encoded[f], *numbers[f], batch, out.features[f]);
    }
  }

  std::vector<std::string_view> elements;
  RowMarks marks;
  auto bad = [](const std::string& feature, std::string_view what, std::string_view value) {
    throw FgValueError(fmt::format("feature '{}': {} '{}'", feature, what, value));
  };

  for (int64_t r = 0; r < batch.num_rows; ++r) {
    if (options_.skip_bad_rows) marks.Take(out.features);
    try {
      for (size_t f = 0; f < plan.encoded.size(); ++f) {
        const EncodedFeature& ef = plan.encoded[f];
        FeatureColumn& col = out.features[f];
        if (done[f]) continue;
        if (numbers[f] != nullptr && !numbers[f]->IsNull(r)) {
          AppendNumber(ef, *numbers[f], r, col);
          continue;
        }
        // A null number reads as an empty cell.
        const std::string_view text = numbers[f] != nullptr ? std::string_view() : cols[f][r];

        // Appends the ids (or floats) of one cell or one sequence element.
        auto append_one = [&](std::string_view cell) -> int64_t {
          if (ef.sparse) {
            int64_t count = 0;
            ForEachPart(cell, msep, [&](std::string_view part) {
              if (part.empty()) return;
              int64_t id;
              std::string_view id_text = part;
              if (ef.weighted) {
                size_t colon = part.rfind(':');
                double w;
                if (colon == std::string_view::npos || !ParseDouble(part.substr(colon + 1), &w)) {
                  bad(col.name, "weighted value is not id:weight:", part);
                }
                if (!std::isfinite(w)) bad(col.name, "weight is not finite:", part);
                id_text = part.substr(0, colon);
                col.weights.push_back(static_cast<float>(w));
              }
              if (!ParseInt64(id_text, &id)) bad(col.name, "encoded id is not an integer:", part);
              if (id < 0 || (ef.num_embeddings > 0 && id >= ef.num_embeddings)) {
                bad(col.name, fmt::format("id outside [0, {}):", ef.num_embeddings), id_text);
              }
              col.ids.push_back(id);
              ++count;
            });
            return count;
          }
          int64_t count = 0;
          ForEachPart(cell, msep, [&](std::string_view part) {
            double v;
            if (!ParseDouble(part, &v)) bad(col.name, "encoded value is not a number:", part);
            if (!std::isfinite(v)) bad(col.name, "encoded value is not finite:", part);
            col.dense.push_back(static_cast<float>(v));
            ++count;
          });
          if (count != ef.dim) {
            bad(col.name, fmt::format("expected {} values, got {}:", ef.dim, count), cell);
          }
          return 1;
        };
        auto append_default = [&]() -> int64_t {
          if (ef.sparse) {
            col.ids.insert(col.ids.end(), ef.default_ids.begin(), ef.default_ids.end());
            if (ef.weighted) {
              col.weights.insert(col.weights.end(), ef.default_weights.begin(), ef.default_weights.end());
            }
            return static_cast<int64_t>(ef.default_ids.size());
          }
          col.dense.insert(col.dense.end(), ef.default_dense.begin(), ef.default_dense.end());
          return 1;
        };

        if (!ef.sequence) {
          int64_t count;
          if (text.empty()) {
            if (!ef.has_default && !ef.sparse) {
              bad(col.name, "empty cell and no fg_encoded_default_value for dense feature", "");
            }
            count = ef.has_default ? append_default() : 0;
          } else {
            count = append_one(text);
          }
          if (ef.sparse) col.lengths.push_back(count);
          continue;
        }
        int64_t num_elements = 0;
        if (text.empty()) {
          if (ef.has_default) {
            int64_t count = append_default();
            if (ef.sparse) col.lengths.push_back(count);
            num_elements = 1;
          }
        } else {
          SplitInto(text, specs_[ef.spec_index].sequence_delim, elements);
          for (auto element : elements) {
            int64_t count = append_one(element);
            if (ef.sparse) col.lengths.push_back(count);
          }
          num_elements = static_cast<int64_t>(elements.size());
        }
        col.seq_lengths.push_back(num_elements);
      }
    } catch (const FgValueError& e) {
      if (!options_.skip_bad_rows) Fail("{}: {}", batch.RowOrigin(r), e.what());
      marks.Restore(out.features);
      out.skipped_rows.push_back(r);
    }
  }
  out.num_rows = batch.num_rows - static_cast<int64_t>(out.skipped_rows.size());
}

}  // namespace tzrec::fg
