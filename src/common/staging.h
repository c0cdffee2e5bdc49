// Staging paths: where a result is written before it is renamed into place.
//
// Every writer that publishes by rename (export staging directories,
// checkpoint saves, predict output files, FAISS index files) writes to
// "<target>.tmp-<pid>" beside its target, so a run killed half-way leaves
// something recognisable rather than anonymous garbage. The next run that
// writes to the same place removes those whose owning process is gone
// (RemoveStaleStaging); a pid that is alive (or that this process cannot
// signal) is left alone, so a concurrent writer's staging is never touched.
// Readers that list results (checkpoint listing) never take a staging name
// for a result: "model.ckpt-5.tmp-123" is not "model.ckpt-<digits>".
//
// The owner is known by pid alone: on a directory shared between machines, a
// pid can name a live process elsewhere that is dead here (its staging would
// be removed and its publish fail), so writers on several machines must not
// share a target.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace tzrec {

inline constexpr char kStagingInfix[] = ".tmp-";

// "<target>.tmp-<this process' pid>".
std::string StagingPath(const std::string& target);

// A staging file name split into the target's file name and the owner's pid;
// nullopt for any other name.
struct StagingName {
  std::string target;
  long pid = 0;
};
std::optional<StagingName> ParseStagingName(const std::string& file_name);

// Whether process `pid` exists (kill(pid, 0) succeeds or is refused for
// permission). Non-positive pids count as alive: nothing is removed for them.
bool ProcessAlive(long pid);

// Removes, from directory `dir`, every staging entry (file or directory)
// whose target file name `matches` and whose owner is neither this process
// nor alive. Returns the paths removed; a removal that fails is logged, not
// thrown (the run's own output does not depend on it).
std::vector<std::string> RemoveStaleStaging(const std::string& dir,
                                            const std::function<bool(const std::string&)>& matches);
// The same for one target path: staging entries of exactly its file name.
std::vector<std::string> RemoveStaleStaging(const std::string& target);

}  // namespace tzrec
