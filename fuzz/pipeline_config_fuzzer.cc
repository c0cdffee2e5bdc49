// pipeline.config, text format and JSON (config/pipeline_config.h): the same
// bytes go to both parsers. A config that parses must also survive its own
// round trip (written back as text and as JSON and read again), as
// `tzrec export` writes the config it read into the export directory.
#include <cstdint>
#include <string>

#include "config/pipeline_config.h"
#include "fuzz_util.h"

namespace {

void RoundTrip(const tzrec::protos::EasyRecConfig& config) {
  tzrec::ParsePipelineConfigText(tzrec::PipelineConfigToText(config), "round trip");
  tzrec::ParsePipelineConfigJson(tzrec::PipelineConfigToJson(config), "round trip.json");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(tzrec::fuzzing::AsView(data, size));
  bool parsed = false;
  tzrec::protos::EasyRecConfig config;
  tzrec::fuzzing::ExpectOnlyTzrecErrors([&] {
    config = tzrec::ParsePipelineConfigText(text, "pipeline.config");
    parsed = true;
  });
  if (parsed) RoundTrip(config);  // must not throw at all
  parsed = false;
  tzrec::fuzzing::ExpectOnlyTzrecErrors([&] {
    config = tzrec::ParsePipelineConfigJson(text, "pipeline.json");
    parsed = true;
  });
  if (parsed) RoundTrip(config);
  return 0;
}
