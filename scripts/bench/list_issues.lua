-- GET /v1/projects/BENCH/issues: 20 per page, status filter, default order.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("SWATTER_BENCH_TOKEN")
wrk.path = "/v1/projects/BENCH/issues?status=open,in_progress&page_size=20"
