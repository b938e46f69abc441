#!/bin/bash
# Container health check without curl or grpc_health_probe, for docker compose (bash only):
#   swatter-healthcheck tcp PORT         something accepts TCP connections on 127.0.0.1:PORT
#   swatter-healthcheck http PORT PATH   GET http://127.0.0.1:PORT/PATH answers 200
# The gRPC services get the TCP check; the gateway's /readyz?strict=true answers 200 only when
# identity, issues and reporting all report SERVING on grpc.health.v1, so a healthy gateway means
# a ready system. Kubernetes does not use this: it probes gRPC health natively.
set -euo pipefail

usage() {
    echo "usage: swatter-healthcheck tcp PORT | http PORT PATH" >&2
    exit 2
}

case "${1:-}:$#" in
    tcp:2 | http:3) ;;
    *) usage ;;
esac
port="$2"
exec 3<>"/dev/tcp/127.0.0.1/$port"
if [[ $1 == http ]]; then
    printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$3" "$port" >&3
    read -r -t 5 _ status _ <&3
    [[ ${status:-} == 200 ]] || { echo "GET $3 answered ${status:-nothing}" >&2; exit 1; }
fi
