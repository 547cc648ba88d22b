# Açık Kapı: the one entry point. `make` lists the targets.
.DEFAULT_GOAL := help
SHELL := bash
CARGO ?= cargo

.PHONY: help run build release test test-embedded test-unit browser-deps screenshots load-portal fuzz services lint fmt clippy load-embedded load-production load-pipeline load-pipeline-processes chaos load-pipeline-embedded bench-sms bench-sla bench-report bench-console deploy-check k8s image deploy-smoke upgrade-check dr-drill clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

run: ## Build and run the whole platform on the embedded default (SQLite, in-process bus, ./data)
	$(CARGO) run -p acikkapi -- serve

build: ## Build everything (debug)
	$(CARGO) build --workspace --all-targets

release: ## Build the acikkapi binary and the load generator, optimised
	$(CARGO) build --release -p acikkapi -p acikkapi-load-tests

services: ## Make sure PostgreSQL, RabbitMQ and Redis answer on 127.0.0.1 (starts or installs them)
	./scripts/ensure-services.sh

browser-deps: ## Debian's Chromium, Node.js and the browser tests' pinned npm packages (installs what is missing)
	./scripts/browser-deps.sh

# The tests that need none of PostgreSQL, RabbitMQ, Redis or Chromium.
EMBEDDED_ONLY := not (test(/(^|::)production::/) | test(/^browser::/) | test(/^replicas::/) | test(/^otlp::/) | test(/^shutdown::/) | test(=abuse::replicas_count_together_on_redis))

test: services browser-deps ## All tests, on SQLite + in-process bus AND on PostgreSQL + RabbitMQ + Redis, the portal in Chromium too
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
	  $(CARGO) nextest run --workspace --no-fail-fast; \
	else \
	  $(CARGO) test --workspace --no-fail-fast; \
	fi

screenshots: browser-deps ## The portal's pages in Chromium (phone and desktop, JavaScript on and off) into target/screenshots
	ACIKKAPI_SCREENSHOTS=$(CURDIR)/target/screenshots $(CARGO) test -p acikkapi --test it -- browser::embedded
	@echo "screenshots: $(CURDIR)/target/screenshots"

test-embedded: ## The fast lane: every test that needs no PostgreSQL, RabbitMQ, Redis or Chromium (SQLite, in-process bus)
	$(CARGO) nextest run --workspace --no-fail-fast -E '$(EMBEDDED_ONLY)'

test-unit: ## The unit tests of every crate (no services, no network)
	$(CARGO) nextest run --workspace --lib --no-fail-fast

fuzz: ## Every fuzz target for FUZZ_SECONDS (default 30) each: ids, phones, numbers, codes, requests, tokens, config
	./scripts/fuzz.sh

lint: fmt clippy ## cargo fmt --check and clippy -D warnings

fmt:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

load-embedded: release ## Load test: 10,000 submissions on the embedded default
	./load-tests/run.sh embedded

load-production: release services ## Load test: 10,000 submissions on PostgreSQL + RabbitMQ + Redis
	./load-tests/run.sh production

load-pipeline: release services ## Load test: 10,000 applications through all five services on PostgreSQL + RabbitMQ + Redis
	./load-tests/run.sh pipeline

load-pipeline-processes: release services ## Load test: the same 10,000 applications, each service its own process as deployed (REPLICAS=2: two of each)
	./load-tests/run.sh pipeline-processes

chaos: release services ## Fault rounds mid-burst (kill -9 of each service, RabbitMQ and PostgreSQL restarts), then lost/doubled per effect; restarts this machine's PostgreSQL and RabbitMQ
	./load-tests/chaos.sh

load-pipeline-embedded: release ## Load test: 10,000 applications through all five services on the embedded default (SQLite)
	./load-tests/run.sh pipeline-embedded

load-portal: release services ## Load test: citizens applying through the portal (HTTP form posts), on both backends
	./load-tests/run.sh portal-embedded
	./load-tests/run.sh portal-production

bench-sla: services ## SLA sweep of 100,000 due among 1,000,000 open clocks, and one province's re-derivation (PostgreSQL)
	$(CARGO) build --release -p acikkapi-load-tests --bin acikkapi-sla-bench
	./target/release/acikkapi-sla-bench --clocks 1000000

bench-report: services ## Reporting over 10,000,000 applications: dashboard query p95, export rate, fold rate (PostgreSQL)
	$(CARGO) build --release -p acikkapi-load-tests --bin acikkapi-report-bench
	./target/release/acikkapi-report-bench --applications 10000000

bench-console: services ## Console pages over 10,000,000 applications: the Ministry's country view and a unit's inbox, cold and as deployed (PostgreSQL)
	$(CARGO) build --release -p acikkapi-load-tests --bin acikkapi-console-bench
	./target/release/acikkapi-console-bench --applications 10000000

bench-sms: services ## SMS sender throughput against the fake gateway, rate limit off (SQLite, then PostgreSQL)
	$(CARGO) build --release -p acikkapi-load-tests --bin acikkapi-sms-bench
	./target/release/acikkapi-sms-bench --messages 20000
	./target/release/acikkapi-sms-bench --messages 20000 --store-url postgres://postgres@127.0.0.1:5432/test

deploy-check: ## The chart lints and renders (default, all-in-one), every manifest validates offline, k8s/ matches the chart
	./scripts/check-deploy.sh

k8s: ## Regenerate k8s/base from the chart (after changing helm/acikkapi)
	./scripts/render-k8s.sh

image: ## Build the runtime image with podman here (a base from Debian's packages, the host's release binary) and check it runs
	./scripts/image/build.sh

deploy-smoke: release services image ## Run the chart's pods with podman kube play (all-in-one, then a pod per service): migrate Job, readiness, a citizen through the portal pod, SIGTERM, 0 lost
	./scripts/deploy-smoke.sh

# The last commit before issue #29's work (the release an operator upgrades from).
FROM ?= e03369d
upgrade-check: release services ## Rolling upgrade from FROM (a commit) while a burst runs: new migrate under the old release, processes replaced one at a time, lost/doubled per effect
	FROM=$(FROM) ./load-tests/upgrade-check.sh

dr-drill: release services ## PostgreSQL recovery drill: base backup and WAL archive during a burst, point-in-time restore into a second cluster, converge, lost/doubled per effect
	./load-tests/dr-drill.sh

clean: ## Remove build output and local data
	$(CARGO) clean
	rm -rf data
