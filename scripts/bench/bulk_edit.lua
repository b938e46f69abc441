-- POST /v1/projects/BENCH/issues/bulk: 500 consecutive issues from a random start, each request
-- setting a priority and a due date drawn at random, so (nearly) every issue changes every time.
math.randomseed(os.time())
local count = tonumber(os.getenv("SWATTER_BENCH_ISSUES") or "10000")
local size = tonumber(os.getenv("SWATTER_BENCH_BULK_SIZE") or "500")
local priorities = { "low", "medium", "high", "urgent" }
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("SWATTER_BENCH_TOKEN")
wrk.headers["Content-Type"] = "application/json"
request = function()
  local first = math.random(1, count - size + 1)
  local keys = {}
  for n = first, first + size - 1 do
    keys[#keys + 1] = '"BENCH-' .. n .. '"'
  end
  local body = string.format(
    '{"issue_keys":[%s],"set":{"priority":"%s","due_on":"2027-%02d-%02d"}}',
    table.concat(keys, ","), priorities[math.random(1, 4)], math.random(1, 12), math.random(1, 28))
  return wrk.format(nil, "/v1/projects/BENCH/issues/bulk", nil, body)
end
