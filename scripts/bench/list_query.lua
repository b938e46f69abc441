-- GET /v1/projects/BENCH/issues?q=is:open priority:>=high label:bug has:assignee — a page of 20
-- found with a four-predicate query (docs/api.md, "Searching issues"), default order.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("SWATTER_BENCH_TOKEN")
wrk.path = "/v1/projects/BENCH/issues?page_size=20&q=is%3Aopen%20priority%3A%3E%3Dhigh%20label%3Abug%20has%3Aassignee"
