-- GET /v1/users/me.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("SWATTER_BENCH_TOKEN")
wrk.path = "/v1/users/me"
