-- wrk script for bench/run: POST the request body in the file named by
-- $BENCH_BODY to the URL wrk was given, as application/json.
local path = os.getenv("BENCH_BODY")
assert(path, "BENCH_BODY must name the request body file")
local f = assert(io.open(path, "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
wrk.headers["Content-Type"] = "application/json"
f:close()
