-- wrk script: POST /user/api/auth/token, a different oneTimeToken for every request, read
-- from the file TOKENS (one per line, made by bench/load.sh). The file is read as the run
-- goes, not loaded into a table: a table of a million tokens would make every Lua garbage
-- collection cycle walk it, and the load generator's own cost would swamp the server's.
local tokens = io.open(os.getenv("TOKENS"), "r")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-TechCentrix-App-Id"] = "bench"

request = function()
  local token = tokens:read("*l") or "exhausted"
  return wrk.format(nil, "/user/api/auth/token", nil, '{"oneTimeToken":"' .. token .. '"}')
end

dofile("bench/report.lua")
