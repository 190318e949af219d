-- wrk script: POST /user/api/auth/token, a different oneTimeToken for every request, read
-- from the file TOKENS (one per line, made by bench/load.sh).
--
-- The load generator shares the machine's cores with the server, so it does as little per
-- request as it can: the file is read as the run goes (a table of a million tokens would
-- make every Lua garbage collection walk it), and the request is one concatenation onto a
-- head formatted once (wrk.format builds a table and formats every header each time).
local tokens = io.open(os.getenv("TOKENS"), "r")
local head

request = function()
  if head == nil then
    head = "POST /user/api/auth/token HTTP/1.1\r\nHost: " .. wrk.headers["Host"] ..
      "\r\nContent-Type: application/json\r\nX-TechCentrix-App-Id: bench\r\nContent-Length: "
  end
  local body = '{"oneTimeToken":"' .. (tokens:read("*l") or "exhausted") .. '"}'
  return head .. #body .. "\r\n\r\n" .. body
end

dofile("bench/report.lua")
