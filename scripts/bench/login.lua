-- POST /v1/auth/token with a correct password: every request runs argon2id.
wrk.method = "POST"
wrk.path = "/v1/auth/token"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=password&username=dev1&password=bench-password"
