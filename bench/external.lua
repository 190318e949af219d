-- wrk script: the guide's request. USERS=repeat sends one existing user; USERS=distinct
-- gives every request a new user id (a sign-up each time).
local key = os.getenv("BENCH_KEY")
local distinct = os.getenv("USERS") == "distinct"
local counter = 0
-- Seeded from the clock (and the tag carries it): an unseeded generator gives every wrk
-- process the same ids, so a second run would sign in the first run's users.
math.randomseed(os.time())
local thread_tag = os.time() .. "-" .. tostring(math.random(1, 1e9))

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

dofile("bench/report.lua")
