# syntax=docker/dockerfile:1.7
# One image with all five swatter programs; each container picks its program by command:
#   swatter-identity | swatter-issues | swatter-reporting [api|worker|migrate] | swatter-webhooks
#   | swatter-gateway
# Build: docker build -t swatter:dev .      (docs/deploy.md)

ARG RUST_VERSION=1.95.0
ARG DEBIAN_RELEASE=bookworm

# ---------------------------------------------------------------------------------------------
# Build: release binaries. The cargo registry and the target folder live in BuildKit cache mounts,
# so a rebuild after a source change recompiles only the workspace crates.
# ---------------------------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder
ARG RUST_VERSION
# The image's toolchain wins over rust-toolchain.toml, so the build does not fetch rustfmt/clippy.
ENV RUSTUP_TOOLCHAIN=${RUST_VERSION} \
    CARGO_TERM_COLOR=never
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked \
        -p swatter-identity -p swatter-issues -p swatter-reporting -p swatter-webhooks \
        -p swatter-gateway \
 && mkdir -p /out \
 && cp target/release/swatter-identity target/release/swatter-issues \
       target/release/swatter-reporting target/release/swatter-webhooks \
       target/release/swatter-gateway /out/

# ---------------------------------------------------------------------------------------------
# Runtime: Debian slim (same glibc as the builder) with CA certificates, a non-root user and a
# bash-only health check for docker compose (docker/healthcheck.sh). Kubernetes uses its own
# native gRPC and HTTP probes instead.
# ---------------------------------------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 swatter \
 && useradd --system --uid 10001 --gid swatter --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin swatter \
 && install -d -o swatter -g swatter -m 0700 /var/lib/swatter/keys
COPY --from=builder /out/ /usr/local/bin/
COPY --chmod=0755 docker/healthcheck.sh /usr/local/bin/swatter-healthcheck

# Containers listen on every interface; the programs' own defaults (127.0.0.1) suit a laptop.
ENV SWATTER_IDENTITY_ADDR=0.0.0.0:50051 \
    SWATTER_ISSUES_ADDR=0.0.0.0:50052 \
    SWATTER_REPORTING_ADDR=0.0.0.0:50053 \
    SWATTER_WEBHOOKS_ADDR=0.0.0.0:50054 \
    SWATTER_GATEWAY_ADDR=0.0.0.0:8080 \
    SWATTER_LOG_FORMAT=json

LABEL org.opencontainers.image.title="swatter" \
      org.opencontainers.image.description="swatter bug tracker: identity, issues, reporting, webhooks and the REST gateway" \
      org.opencontainers.image.licenses="MIT"

# gateway HTTP, gRPC identity/issues/reporting/webhooks, Prometheus metrics (gateway, identity,
# issues, reporting, webhooks)
EXPOSE 8080 50051 50052 50053 50054 9100 9101 9102 9103 9104
USER 10001:10001
CMD ["swatter-gateway"]
