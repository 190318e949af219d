-- wrk script: the guide's request. USERS=repeat sends one existing user; USERS=distinct
-- gives every request a new user id (a sign-up each time).
local key = os.getenv("BENCH_KEY")
local distinct = os.getenv("USERS") == "distinct"
local counter = 0
local thread_tag = tostring(math.random(1, 1e9))

wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. key
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"id":"user1-external","email":"user1@techcentrix.com","firstName":"User1Name"}'

request = function()
  if distinct then
    counter = counter + 1
    local body = '{"id":"u-' .. thread_tag .. '-' .. counter ..
      '","email":"user1@techcentrix.com","firstName":"User1Name"}'
    return wrk.format(nil, nil, nil, body)
  end
  return wrk.format()
end

done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format("RESULT requests=%d duration_us=%d errors=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, errors,
    latency:percentile(50), latency:percentile(99)))
end
