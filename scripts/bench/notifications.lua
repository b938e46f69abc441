-- GET /v1/notifications: the first page (20) of the caller's inbox, unread first then newest,
-- with the unread count.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("SWATTER_BENCH_TOKEN")
wrk.path = "/v1/notifications?page_size=20"
