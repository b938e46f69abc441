-- POST /v1/issues/BENCH-n/comments for a random seeded issue.
math.randomseed(os.time())
local count = tonumber(os.getenv("SWATTER_BENCH_ISSUES") or "10000")
wrk.headers["Authorization"] = "Bearer " .. os.getenv("SWATTER_BENCH_TOKEN")
wrk.headers["Content-Type"] = "application/json"
local body = '{"body":"A benchmark comment with a little text in it."}'
request = function()
  return wrk.format("POST", "/v1/issues/BENCH-" .. math.random(1, count) .. "/comments", nil, body)
end
