# swatter developer entry points. `make` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Same dev defaults as scripts/run.sh; values already set in the environment win.
SWATTER_S3_PORT ?= 9900
SWATTER_S3_ENDPOINT ?= http://127.0.0.1:$(SWATTER_S3_PORT)
SWATTER_S3_ACCESS_KEY ?= swatter
SWATTER_S3_SECRET_KEY ?= swatter-secret
export SWATTER_S3_PORT SWATTER_S3_ENDPOINT SWATTER_S3_ACCESS_KEY SWATTER_S3_SECRET_KEY
export PATH := $(HOME)/.cargo/bin:$(PATH)

PSQL := psql -w -h 127.0.0.1 -U postgres -d postgres

.PHONY: help run test build fmt lint deps bench demo ecosystem fuzz clean-run validate-deploy dev-secrets config-reference

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

run: ## start (or install) PostgreSQL, RabbitMQ, s3s-fs, build, run every service (webhooks too) and the gateway
	scripts/run.sh

test: deps ## every test of the workspace against the real dependencies, the deployment checks, the ecosystem checks, 90 s of fuzzing
	@echo "[test] dropping leftover test databases (swatter_test_%)"
	@# Several at a time: each DROP DATABASE waits for a checkpoint, and PostgreSQL merges the
	@# checkpoints of concurrent drops.
	@$(PSQL) -tAc "SELECT datname FROM pg_database WHERE datname LIKE 'swatter\_test\_%'" \
		| xargs -r -P 8 -I{} $(PSQL) -qc 'DROP DATABASE IF EXISTS "{}" WITH (FORCE)' >/dev/null
	@echo "[test] deleting leftover test queues (swatter.test.*)"
	@rabbitmqctl -q list_queues name 2>/dev/null | grep '^swatter\.test\.' | xargs -r -n1 rabbitmqctl -q delete_queue >/dev/null 2>&1 || true
	scripts/validate-deploy.sh
	@# Alone, the gateway gets swatter-common without its database feature (a workspace build
	@# turns it on for everyone): this is what keeps database code behind that feature.
	cargo check -p swatter-gateway
	cargo test --workspace --all-targets
	scripts/ecosystem.sh
	SWATTER_FUZZ_MAX_TIME=$${SWATTER_FUZZ_MAX_TIME:-90} scripts/fuzz.sh

build: ## compile the workspace (debug)
	cargo build --workspace

fmt: ## format the code
	cargo fmt --all

lint: ## clippy, warnings are errors
	cargo clippy --workspace --all-targets -- -D warnings

deps: ## only make sure PostgreSQL, RabbitMQ, s3s-fs and the databases are up
	scripts/ensure-deps.sh

dev-secrets: ## generate this installation's random credentials (.run/, .env for compose, the k8s dev overlay's)
	scripts/dev-secrets.sh all

config-reference: ## regenerate the README's configuration tables from the settings declarations
	scripts/config-reference.sh

validate-deploy: ## kustomize-build, schema-check and policy-lint (checkov) k8s/, check docker-compose.yml, lint the Dockerfile
	scripts/validate-deploy.sh

bench: ## release build, seed 100,000 issues, pgbench -S yardstick, load the REST API with wrk, webhook latency and throughput, write BENCHMARKS.md
	scripts/bench.sh

demo: ## seed a realistic data set through the REST API, ask for both reports, save the PDFs, show a webhook's deliveries
	scripts/demo.sh

ecosystem: ## third-party clients and tools (tests/ecosystem) against a stack of their own
	scripts/ecosystem.sh

fuzz: ## schemathesis against a stack of its own on free ports; fails on any 5xx (SWATTER_FUZZ_*)
	scripts/fuzz.sh

clean-run: ## remove .run (logs, s3s-fs data, dev signing key, service secret)
	rm -rf .run
