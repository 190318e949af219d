-- wrk script: POST /user/api/auth/token, a different oneTimeToken for every request, read
-- from the file TOKENS: complete requests of one length (its first line), made by
-- bench/mint_tokens.py.
--
-- The load generator shares the machine's cores with the server, so it does as little per
-- request as it can: one read of the next ready-made request. (Loading a million tokens into
-- a table would make every Lua garbage collection walk it; wrk.format builds a table and
-- formats every header for every request.)
local requests = io.open(os.getenv("TOKENS"), "rb")
local size = tonumber(requests:read("*l"))

request = function()
  return requests:read(size) or "exhausted\r\n\r\n"
end

dofile("bench/report.lua")
