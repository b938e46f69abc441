-- GET /v1/issues/BENCH-n for a random n among the seeded issues.
math.randomseed(os.time())
local count = tonumber(os.getenv("SWATTER_BENCH_ISSUES") or "10000")
wrk.headers["Authorization"] = "Bearer " .. os.getenv("SWATTER_BENCH_TOKEN")
request = function()
  return wrk.format("GET", "/v1/issues/BENCH-" .. math.random(1, count))
end
