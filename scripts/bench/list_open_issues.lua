-- GET /v1/projects/BENCH/issues: 20 per page, one status, default order.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("SWATTER_BENCH_TOKEN")
wrk.path = "/v1/projects/BENCH/issues?status=open&page_size=20"
