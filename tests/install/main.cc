// score_one_row EXPORT_DIR CSV: scores the first data row of CSV (a header
// line, then rows in the export's input format) with tzrec's exported model
// and prints one line per model output, "<name> <value>..." (a vector output's
// values in order), sorted by name.
//
// What a program linking the installed library does to serve one row: load the
// export (artifacts::ExportedModel), read the row (data::CsvReader), run the
// export's FG (fg::FgEngine), turn features into tensors and run the model.
#include <cstdio>
#include <exception>
#include <map>
#include <string>

#include "artifacts/exported_model.h"
#include "data/csv_reader.h"
#include "data/data_parser.h"
#include "data/row_reader.h"
#include "features/fg/fg_engine.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s EXPORT_DIR CSV\n", argv[0]);
    return 2;
  }
  try {
    auto model = tzrec::artifacts::ExportedModel::Load(argv[1], {});

    tzrec::data::CsvOptions csv;
    csv.with_header = true;
    tzrec::data::CsvReader reader(argv[2], csv);
    tzrec::data::RowBatch rows;
    if (reader.ReadRows(1, &rows) != 1) {
      std::fprintf(stderr, "%s has no data row\n", argv[2]);
      return 1;
    }

    const tzrec::fg::FgEngine engine = model->NewFgEngine();
    const tzrec::fg::FeatureBatch features = engine.Process(rows.ToInputBatch());
    tzrec::data::TensorMap inputs;
    tzrec::data::AddFeatureTensors(features, inputs);

    std::map<std::string, at::Tensor> outputs;  // sorted by name
    for (const auto& output : model->Run(inputs)) {
      outputs[output.key()] = output.value()[0].to(at::kDouble).reshape({-1}).contiguous();
    }
    for (const auto& [name, row] : outputs) {
      std::printf("%s", name.c_str());
      for (int64_t i = 0; i < row.numel(); ++i) std::printf(" %.17g", row.data_ptr<double>()[i]);
      std::printf("\n");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "score_one_row: %s\n", e.what());
    return 1;
  }
  return 0;
}
