#!/usr/bin/env python3
"""A tiny webhook receiver for trying swatter's webhooks on one machine (`make demo` uses it).

    scripts/webhook-receiver.py [--port 9400] [--secret whsec_...] [--record FILE]

Listens on 127.0.0.1 (the only address `make run` lets webhooks reach besides public ones),
answers every POST with 204 and prints what came: the Standard Webhooks headers and the event.
With --secret it also checks the signature (HMAC-SHA256 over "{webhook-id}.{webhook-timestamp}.
{body}", as the Standard Webhooks specification says) and prints whether it holds. With
--record each request is appended to FILE as one JSON line. Standard library only; Ctrl-C stops it.
"""

import argparse
import base64
import hashlib
import hmac
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def signature_holds(secret, headers, body):
    """Whether one of the `v1,` signatures of the request is the secret's."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers.get('webhook-id')}.{headers.get('webhook-timestamp')}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    sent = (headers.get("webhook-signature") or "").split()
    return any(
        version == "v1" and hmac.compare_digest(signature, expected)
        for version, _, signature in (s.partition(",") for s in sent)
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9400, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--secret", help="the endpoint's whsec_ secret, to check signatures")
    parser.add_argument("--record", help="append each request to this file as a JSON line")
    args = parser.parse_args()

    class Receiver(BaseHTTPRequestHandler):
        # Keep-alive, as swatter's delivery client pools its connections.
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()
            try:
                event = json.loads(body)
            except ValueError:
                event = {"type": "(not JSON)", "data": body.decode(errors="replace")}
            data = event.get("data") or {}
            what = data.get("key") or data.get("id") or ""
            line = (
                f"{time.strftime('%H:%M:%S')} {self.headers.get('webhook-id')} "
                f"{event.get('type')} {event.get('project_key') or ''} {what}"
            )
            if args.secret:
                holds = signature_holds(args.secret, self.headers, body)
                line += "  signature ok" if holds else "  SIGNATURE DOES NOT HOLD"
            print(line, flush=True)
            if args.record:
                with open(args.record, "a", encoding="utf-8") as f:
                    record = {
                        "received_at": time.time(),
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body.decode(errors="replace"),
                    }
                    f.write(json.dumps(record) + "\n")

        def log_message(self, *_):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Receiver)
    print(f"webhook receiver on http://127.0.0.1:{server.server_port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
