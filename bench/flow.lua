-- wrk script: the whole flow as a partner's users run it, over and over: a sign-in of one
-- existing user at /user/api/auth/external, then the redemption of the oneTimeToken it
-- answered at /user/api/auth/token (a new session each time). Every token is redeemed once.
-- Use one thread (-t1): the tokens wait in this thread's queue.
local key = os.getenv("BENCH_KEY")
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
