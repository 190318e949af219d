-- wrk script: requests without valid credentials, each with fresh random material.
-- FLOOD=refresh: POST /user/api/auth/refresh with a random refresh token;
-- FLOOD=signout: POST /user/api/auth/sign-out with a random refresh token;
-- FLOOD=badkey: the guide's request to /user/api/auth/external with a random API key;
-- FLOOD=mix: the three in turn.
local mode = os.getenv("FLOOD") or "mix"
local counter = 0
local tag = tostring(math.random(1, 1e9))
local guide = '{"id":"user1-external","email":"user1@techcentrix.com","firstName":"User1Name"}'

local function random_token()
  counter = counter + 1
  return string.format("flood%s%024d%s", tag, counter, "0123456789abcdefghij")
end

local builders = {
  refresh = function()
    return wrk.format("POST", "/user/api/auth/refresh", { ["Content-Type"] = "application/json" },
      '{"refreshToken":"' .. random_token() .. '"}')
  end,
  signout = function()
    return wrk.format("POST", "/user/api/auth/sign-out", { ["Content-Type"] = "application/json" },
      '{"refreshToken":"' .. random_token() .. '"}')
  end,
  badkey = function()
    return wrk.format("POST", "/user/api/auth/external", {
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. random_token(),
    }, guide)
  end,
}
local order = { "refresh", "signout", "badkey" }

request = function()
  if mode == "mix" then
    return builders[order[counter % 3 + 1]]()
  end
  return builders[mode]()
end

-- Every answer is a refusal (401) or an idempotent sign-out (204): wrk counts the 401s as
-- errors, so bench/load.sh reads only the rate and the server's CPU of these runs.
dofile("bench/report.lua")
