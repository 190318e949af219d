-- wrk script: POST /user/api/auth/refresh, every refresh token presented once.
--
-- REFRESH_TOKENS names a file of refresh tokens, one a line, minted beforehand by real
-- redemptions (bench/backends.sh: one sign-in and one redemption each). Each answer's new
-- refresh token goes to the back of the queue, so a run of any length needs only a few more
-- tokens than connections (each connection has one request in flight, whose token is out of
-- the queue): the families rotate again and again, as long-lived sessions do, and every
-- token is still used exactly once. Use one thread (-t1): threads would share the file's
-- tokens, not the queue.
local queue, head, tail = {}, 1, 0
for line in io.lines(os.getenv("REFRESH_TOKENS")) do
  if line ~= "" then
    tail = tail + 1
    queue[tail] = line
  end
end

local headers = { ["Content-Type"] = "application/json" }

request = function()
  local token = "exhausted"
  if head <= tail then
    token = queue[head]
    queue[head] = nil
    head = head + 1
  end
  return wrk.format("POST", "/user/api/auth/refresh", headers,
    '{"refreshToken":"' .. token .. '"}')
end

response = function(status, _, body)
  if status == 200 then
    local next = body:match('"refreshToken":"([^"]+)"')
    if next then
      tail = tail + 1
      queue[tail] = next
    end
  end
end

dofile("bench/report.lua")
