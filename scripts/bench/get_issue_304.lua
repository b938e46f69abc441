-- GET /v1/issues/BENCH-n with the issue's current ETag in If-None-Match: every answer is a 304.
-- SWATTER_BENCH_ETAGS holds the tags of BENCH-1 … BENCH-N, one per line.
math.randomseed(os.time())
local authorization = "Bearer " .. os.getenv("SWATTER_BENCH_TOKEN")
local etags = {}
for line in io.lines(os.getenv("SWATTER_BENCH_ETAGS")) do
  etags[#etags + 1] = line
end
request = function()
  local n = math.random(1, #etags)
  -- wrk.format takes these headers instead of wrk.headers, so the token goes here too.
  return wrk.format("GET", "/v1/issues/BENCH-" .. n,
    { ["Authorization"] = authorization, ["If-None-Match"] = etags[n] })
end
