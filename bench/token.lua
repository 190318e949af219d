-- wrk script: POST /user/api/auth/token, a different oneTimeToken for every request, read
-- from the file TOKENS (one per line, made by bench/load.sh).
local tokens = {}
for line in io.lines(os.getenv("TOKENS")) do tokens[#tokens + 1] = line end
local next_token = 0

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-TechCentrix-App-Id"] = "bench"

request = function()
  next_token = next_token + 1
  local token = tokens[next_token]
  if token == nil then
    token = "exhausted"
  end
  return wrk.format(nil, "/user/api/auth/token", nil, '{"oneTimeToken":"' .. token .. '"}')
end

dofile("bench/report.lua")
