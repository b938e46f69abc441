#!/usr/bin/env python3
"""The webhooks benchmark of `make bench` (scripts/bench/webhooks.sh starts the stack it drives).

    webhooks.py GATEWAY_URL ADMIN_PASSWORD [--samples N] [--endpoints E] [--events M]

1. Latency, change to webhook received, on an idle stack: N times, one at a time, an issue is
   created through REST and the clock runs until a receiver on 127.0.0.1 gets its
   `issue.created` delivery (p50 and p99; target p50 <= 100 ms).
2. Sustained deliveries per second: E endpoints to the same receiver, inactive, while M issues
   are created (each endpoint's E x M deliveries wait, as the contract says); then all are
   activated at once and the clock runs until the receiver has every delivery (target >= 500/s).

Prints one Markdown table row per figure. Standard library only.
"""

import argparse
import json
import statistics
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LATENCY_TARGET_MS = 100
THROUGHPUT_TARGET = 500


class Receiver:
    """Answers 204 to every delivery and notes when each (endpoint path, issue key) arrived."""

    def __init__(self):
        self.arrivals = {}
        self.count = 0
        self.lock = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                at = time.monotonic()
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()
                event = json.loads(body)
                key = (self.path, (event.get("data") or {}).get("key"))
                with receiver.lock:
                    receiver.arrivals.setdefault(key, at)
                    receiver.count += 1
                    receiver.lock.notify_all()

            def log_message(self, *_):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, key, timeout):
        with self.lock:
            self.lock.wait_for(lambda: key in self.arrivals, timeout)
            return self.arrivals.get(key)

    def wait_for_count(self, count, timeout):
        with self.lock:
            return self.lock.wait_for(lambda: self.count >= count, timeout)


class Api:
    def __init__(self, url):
        self.url = url
        self.token = None

    def call(self, method, path, body=None):
        request = urllib.request.Request(f"{self.url}{path}", method=method)
        if self.token:
            request.add_header("authorization", f"Bearer {self.token}")
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            request.add_header("content-type", "application/json")
        with urllib.request.urlopen(request, data, timeout=30) as response:
            raw = response.read()
            return json.loads(raw) if raw else None

    def log_in(self, username, password):
        form = f"grant_type=password&username={username}&password={password}".encode()
        request = urllib.request.Request(f"{self.url}/v1/auth/token", form, method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            self.token = json.loads(response.read())["access_token"]


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("gateway")
    parser.add_argument("admin_password")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--endpoints", type=int, default=16)
    parser.add_argument("--events", type=int, default=250)
    args = parser.parse_args()

    api = Api(args.gateway)
    api.log_in("admin", args.admin_password)
    receiver = Receiver()
    project = "WHB" + str(int(time.time()) % 100000)
    api.call("POST", "/v1/projects", {"key": project, "name": "Webhook benchmark"})
    issues = f"/v1/projects/{project}/issues"

    # 1. Latency on an idle stack.
    api.call(
        "POST",
        f"/v1/projects/{project}/webhooks",
        {"url": f"{receiver.base}/latency", "event_types": ["issue.created"]},
    )
    latencies = []
    for n in range(args.samples + 5):
        started = time.monotonic()
        key = api.call("POST", issues, {"title": f"latency {n}"})["key"]
        arrived = receiver.wait_for(("/latency", key), timeout=30)
        if arrived is None:
            sys.exit(f"the delivery of {key} did not arrive within 30 s")
        if n >= 5:  # the first few warm connections and caches up
            latencies.append((arrived - started) * 1000)
        time.sleep(0.05)
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)

    # 2. Sustained deliveries: endpoints registered inactive, events waiting, then all activated.
    for webhook in api.call("GET", f"/v1/projects/{project}/webhooks?page_size=100")["items"]:
        api.call("DELETE", f"/v1/webhooks/{webhook['id']}")
    endpoints = [
        api.call(
            "POST",
            f"/v1/projects/{project}/webhooks",
            {"url": f"{receiver.base}/e{n}", "event_types": ["issue.created"], "active": False},
        )["id"]
        for n in range(args.endpoints)
    ]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: api.call("POST", issues, {"title": f"load {n}"}), range(args.events)))
    # Every event stored as a waiting delivery of every endpoint before the clock starts.
    deadline = time.monotonic() + 120
    for endpoint in endpoints:
        while True:
            stored, token = 0, ""
            while True:
                page = api.call(
                    "GET", f"/v1/webhooks/{endpoint}/deliveries?page_size=100{token}"
                )
                stored += len(page["items"])
                if not page["next_page_token"]:
                    break
                token = f"&page_token={page['next_page_token']}"
            if stored >= args.events:
                break
            if time.monotonic() > deadline:
                sys.exit(f"only {stored} of {args.events} deliveries stored for {endpoint}")
            time.sleep(0.2)
    before = receiver.count
    total = args.endpoints * args.events
    started = time.monotonic()
    for endpoint in endpoints:
        api.call("PATCH", f"/v1/webhooks/{endpoint}", {"active": True})
    if not receiver.wait_for_count(before + total, timeout=300):
        sys.exit(f"only {receiver.count - before} of {total} deliveries arrived within 300 s")
    last = max(at for (path, _), at in receiver.arrivals.items() if path.startswith("/e"))
    rate = total / (last - started)

    def met(ok):
        return "yes" if ok else "no"

    print(
        f"| change → webhook received, idle stack ({len(latencies)} issues created one at a time) "
        f"| {p50:.1f} ms | {p99:.1f} ms | p50 ≤ {LATENCY_TARGET_MS} ms "
        f"| {met(p50 <= LATENCY_TARGET_MS)} |"
    )
    print(
        f"| sustained deliveries to a local receiver ({args.endpoints} endpoints × "
        f"{args.events} waiting events, from activation to the last) | {rate:.0f} /s "
        f"| {total} in {last - started:.2f} s | ≥ {THROUGHPUT_TARGET} /s "
        f"| {met(rate >= THROUGHPUT_TARGET)} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
