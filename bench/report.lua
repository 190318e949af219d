-- Shared by the wrk scripts: one machine-readable line for bench/load.sh.
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d errors=%d p50_us=%d p99_us=%d error_kinds=connect:%d,read:%d,write:%d,status:%d,timeout:%d\n",
    summary.requests, summary.duration, errors,
    latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
