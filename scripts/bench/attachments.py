#!/usr/bin/env python3
"""Attachments benchmark (`make bench`, issue 15), against a running gateway and object store.

1. Presign + confirm: COUNT small files (4 KiB, a PNG-free text body so no thumbnail) uploaded one
   after another. Timed: the upload request (POST .../attachments/uploads, which presigns) and the
   confirm (POST /v1/attachments/{id}/confirm, which HEADs, streams and hashes the object); the
   PUT to the store between them is not part of "presign + confirm". Target: p99 of the two
   together ≤ 20 ms.
2. A 25 MiB file end to end, LARGE times: upload request, PUT of 25 MiB to the presigned URL,
   confirm; the whole and its throughput.

Each attachment is deleted after it is measured (the per-issue limit stays far away). Prints
Markdown table rows: | scenario | figure | detail | target | met |.

Environment: SWATTER_BENCH_GATEWAY (host:port), SWATTER_BENCH_TOKEN (a bearer token of a project
member who may attach), SWATTER_BENCH_ISSUE (an issue key), SWATTER_BENCH_ATTACH_COUNT (300),
SWATTER_BENCH_ATTACH_LARGE (5).
"""

import hashlib
import http.client
import json
import os
import statistics
import sys
import time
import urllib.parse

GATEWAY = os.environ["SWATTER_BENCH_GATEWAY"]
TOKEN = os.environ["SWATTER_BENCH_TOKEN"]
ISSUE = os.environ.get("SWATTER_BENCH_ISSUE", "BENCH-1")
COUNT = int(os.environ.get("SWATTER_BENCH_ATTACH_COUNT", "300"))
LARGE = int(os.environ.get("SWATTER_BENCH_ATTACH_LARGE", "5"))
TARGET_P99_MS = 20.0

host, port = GATEWAY.rsplit(":", 1)
gateway = http.client.HTTPConnection(host, int(port), timeout=60)
stores = {}


def api(method, path, body=None):
    headers = {"authorization": f"Bearer {TOKEN}"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["content-type"] = "application/json"
    gateway.request(method, path, body=data, headers=headers)
    response = gateway.getresponse()
    payload = response.read()
    if response.status >= 300:
        sys.exit(f"{method} {path}: HTTP {response.status} {payload[:300]!r}")
    return json.loads(payload) if payload else None


def put(upload, content):
    """The client's PUT to the presigned URL, with exactly the signed headers."""
    url = urllib.parse.urlsplit(upload["url"])
    key = (url.hostname, url.port or 80)
    if key not in stores:
        stores[key] = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=60)
    store = stores[key]
    target = url.path + ("?" + url.query if url.query else "")
    store.request("PUT", target, body=content, headers=dict(upload["headers"]))
    response = store.getresponse()
    payload = response.read()
    if response.status >= 300:
        sys.exit(f"PUT to the store: HTTP {response.status} {payload[:300]!r}")


def upload_request(name, content, content_type):
    return api(
        "POST",
        f"/v1/issues/{ISSUE}/attachments/uploads",
        {
            "file_name": name,
            "size": len(content),
            "content_type": content_type,
            "sha256": hashlib.sha256(content).hexdigest(),
        },
    )


def percentile(values, p):
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def small():
    presign, confirm, both = [], [], []
    for n in range(COUNT):
        content = (f"log line {n}\n" * 512).encode()[:4096]
        started = time.perf_counter()
        upload = upload_request(f"bench-{n}.log", content, "text/plain")
        presigned = time.perf_counter()
        put(upload, content)
        before_confirm = time.perf_counter()
        attachment = api("POST", f"/v1/attachments/{upload['attachment']['id']}/confirm")
        confirmed = time.perf_counter()
        if attachment["state"] != "ready":
            sys.exit(f"confirm left the attachment {attachment['state']}")
        presign.append((presigned - started) * 1000)
        confirm.append((confirmed - before_confirm) * 1000)
        both.append(presign[-1] + confirm[-1])
        api("DELETE", f"/v1/attachments/{attachment['id']}")
    p99 = percentile(both, 99)
    met = "yes" if p99 <= TARGET_P99_MS else "no"
    print(
        f"| presign + confirm, 4 KiB, one client, {COUNT} files | p99 {p99:.2f} ms "
        f"| p50 {statistics.median(both):.2f} ms; upload request p50 "
        f"{statistics.median(presign):.2f} / p99 {percentile(presign, 99):.2f} ms; confirm p50 "
        f"{statistics.median(confirm):.2f} / p99 {percentile(confirm, 99):.2f} ms "
        f"| p99 ≤ {TARGET_P99_MS:.0f} ms | {met} |"
    )


def large():
    content = os.urandom(25 * 1024 * 1024)
    totals, puts, confirms = [], [], []
    for n in range(LARGE):
        started = time.perf_counter()
        upload = upload_request(f"core-{n}.dump", content, "application/octet-stream")
        before_put = time.perf_counter()
        put(upload, content)
        before_confirm = time.perf_counter()
        attachment = api("POST", f"/v1/attachments/{upload['attachment']['id']}/confirm")
        done = time.perf_counter()
        if attachment["size"] != len(content):
            sys.exit("the confirmed size is not the uploaded one")
        totals.append((done - started) * 1000)
        puts.append((before_confirm - before_put) * 1000)
        confirms.append((done - before_confirm) * 1000)
        api("DELETE", f"/v1/attachments/{attachment['id']}")
    median = statistics.median(totals)
    print(
        f"| 25 MiB upload end to end (request, PUT, confirm), {LARGE} runs | median "
        f"{median:.0f} ms ({25 / (median / 1000):.0f} MiB/s) | max {max(totals):.0f} ms; PUT median "
        f"{statistics.median(puts):.0f} ms; confirm (stream + SHA-256) median "
        f"{statistics.median(confirms):.0f} ms | — | — |"
    )


small()
large()
