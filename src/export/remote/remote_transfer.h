// Whole-directory transfers between a local directory and an object-store
// prefix, built on S3Client: several files at once (TZREC_S3_PARALLEL), large
// files (>= TZREC_S3_MULTIPART_THRESHOLD) in parts that also go in parallel.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "export/remote/remote_url.h"
#include "export/remote/s3_client.h"

namespace tzrec::exporting::remote {

// Files under `local_dir`, as sorted '/'-separated relative paths.
std::vector<std::string> ListLocalFiles(const std::string& local_dir);

// How a file of `size` bytes is cut into parts of `part_size`: (offset, size)
// pairs; one part for an empty file.
std::vector<std::pair<uint64_t, uint64_t>> SplitIntoParts(uint64_t size, uint64_t part_size);

// Uploads every file of `local_dir` to `destination`/<relative path>.
// `publish_last` (a relative path, may be empty) is held back and uploaded
// alone after every other file has landed, so its presence means the rest is
// complete. On failure: multipart uploads in progress are aborted, nothing of
// `publish_last` was written, and the Error says so.
void UploadDirectory(const S3Client& client, const std::string& local_dir,
                     const RemoteUrl& destination, const std::string& publish_last);

// Downloads every object under `source`'s directory prefix into `local_dir`
// (keys relative to the prefix become relative paths), several at once.
// Returns the number of files; an Error when there is none.
size_t DownloadDirectory(const S3Client& client, const RemoteUrl& source,
                         const std::string& local_dir);

}  // namespace tzrec::exporting::remote
