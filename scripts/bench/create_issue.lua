-- POST /v1/projects/BENCH/issues.
wrk.method = "POST"
wrk.path = "/v1/projects/BENCH/issues"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("SWATTER_BENCH_TOKEN")
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"title":"Benchmark issue","description":"Filed by make bench","priority":"high","labels":["bench"]}'
