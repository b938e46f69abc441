-- GET /v1/issues/BENCH-n for a random n, with a personal access token instead of the JWT.
math.randomseed(os.time())
local count = tonumber(os.getenv("SWATTER_BENCH_ISSUES") or "10000")
wrk.headers["Authorization"] = "Bearer " .. os.getenv("SWATTER_BENCH_PAT")
request = function()
  return wrk.format("GET", "/v1/issues/BENCH-" .. math.random(1, count))
end
