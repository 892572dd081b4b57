-- wrk script: like post.lua, but each request carries its own id ("app-<thread>-<n>"),
-- as clients that join feedback by their own ids send them. BENCH_BODY names the body
-- (a v2 request without an "id").
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
local body = f:read("*a")
f:close()
local counter = 0
local thread_id = 0
function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end
function request()
  counter = counter + 1
  local b = '{"id": "app-' .. tid .. '-' .. counter .. '", ' .. string.sub(body, 2)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, b)
end
