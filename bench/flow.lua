-- wrk script: the whole flow as a partner's users run it, over and over: a sign-in of one
-- existing user at /user/api/auth/external, then the redemption of the oneTimeToken it
-- answered at /user/api/auth/token (a new session each time). Every token is redeemed once.
-- Use one thread (-t1): the tokens wait in this thread's queue.
-- RATE (requests a second, optional): paced to that rate, each request sent at its turn in
-- a fixed schedule from the first (wrk waits whole milliseconds; the schedule keeps the
-- average exact); unset or 0, as fast as the server answers.
local key = os.getenv("BENCH_KEY")
local rate = tonumber(os.getenv("RATE") or "0") or 0

if rate > 0 then
  -- A millisecond clock (LuaJIT's ffi), needed only to pace.
  local ffi = require("ffi")
  ffi.cdef[[
    typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
    int clock_gettime(int clock, bench_timespec *now);
  ]]
  local clock = ffi.new("bench_timespec")
  local function now_ms()
    ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC
    return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
  end
  local start, scheduled = nil, 0
  delay = function()
    local now = now_ms()
    start = start or now
    scheduled = scheduled + 1
    local due = start + scheduled * 1000 / rate
    return math.max(0, math.floor(due - now))
  end
end
local tokens, head, tail = {}, 1, 0

local sign_in = {
  ["Authorization"] = "Bearer " .. key,
  ["Content-Type"] = "application/json",
}
local redeem = {
  ["Content-Type"] = "application/json",
  ["X-TechCentrix-App-Id"] = "bench",
}
local profile = '{"id":"user1-external","email":"user1@techcentrix.com","firstName":"User1Name"}'

request = function()
  if head <= tail then
    local token = tokens[head]
    tokens[head] = nil
    head = head + 1
    return wrk.format("POST", "/user/api/auth/token", redeem, '{"oneTimeToken":"' .. token .. '"}')
  end
  return wrk.format("POST", "/user/api/auth/external", sign_in, profile)
end

-- A sign-in answers the token as text; a redemption answers JSON.
response = function(status, _, body)
  if status == 200 and body:sub(1, 1) ~= "{" then
    tail = tail + 1
    tokens[tail] = body
  end
end

dofile("bench/report.lua")
