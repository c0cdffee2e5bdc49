// When an S3 request is tried again, and how long tzrec waits first.
// Transient: the connection failed, broke or stalled (no progress for the
// low-speed time), or the server answered 5xx / 429 (S3's "slow down"). Any
// other answer (403 bad signature, 404 no such bucket) is final: asking again
// cannot change it.
#pragma once

namespace tzrec::exporting::remote {

// `curl_code` is a CURLcode (0 = a response arrived, then `http_status` counts).
bool IsTransientFailure(int curl_code, long http_status);

// Seconds to wait before try number `next_attempt` (2, 3, ...): `base`
// doubling per failure, capped at 16 * base, scaled by `jitter` in [0, 1)
// into [0.5, 1) of that so parallel transfers do not retry in lockstep.
double BackoffSeconds(int next_attempt, double base, double jitter);

}  // namespace tzrec::exporting::remote
