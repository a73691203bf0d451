# Datastream: the two commands a new machine needs are `make demo` and `make test`.
GO        ?= go
BIN       := bin/datastream
DEMO_LOG  := demo/access.log
DEMO_LINES ?= 20000

.PHONY: all build services demo test test-short test-faults test-cluster test-deps fuzz bench vet fmt clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/datastream

services:
	@bash scripts/services.sh

# Runs the whole pipeline on a generated, realistic access log and shows the result.
demo: services build
	@mkdir -p demo
	$(BIN) gen --lines $(DEMO_LINES) --seed 42 --out $(DEMO_LOG)
	$(BIN) run --once --log $(DEMO_LOG) --show 3

# Unit, integration (real RabbitMQ and MariaDB) and fault tests, with the race detector.
test: services test-deps
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...

# nginx and wrk for the fault tests (installed from Debian's packages as root).
test-deps:
	@bash scripts/test-deps.sh

# The fault tests alone (kill -9, RabbitMQ/MariaDB outages, rotation, nginx
# under wrk), about a minute; the results table for docs/reliability.md is
# left in bin/faults-results.md.
test-faults: services test-deps
	@mkdir -p bin
	FAULTS_RESULTS=$(CURDIR)/bin/faults-results.md $(GO) test -race -count=1 -timeout 10m ./test/faults
	@cat bin/faults-results.md

# The fault scenarios on a 3-node RabbitMQ cluster and a 3-node Galera
# cluster (scripts/cluster.sh, as root), about 10 minutes; not part of
# `make test`. The clusters are removed afterwards (CLUSTER_KEEP=1 keeps
# them); the table for docs/reliability.md is left in bin/cluster-results.md.
test-cluster: build
	@mkdir -p bin
	scripts/cluster.sh up
	@set -a; eval "$$(scripts/cluster.sh env)"; set +a; \
	TEST_AMQP_URL="$$AMQP_URL" TEST_MYSQL_DSN="$${MYSQL_DSN%/*}/" DATASTREAM_CLUSTER=$(CURDIR)/scripts/cluster.sh \
	FAULTS_RESULTS=$(CURDIR)/bin/cluster-results.md $(GO) test -count=1 -timeout 40m -run '^TestCluster' -v ./test/faults; \
	rc=$$?; [ -n "$(CLUSTER_KEEP)" ] || scripts/cluster.sh down; cat bin/cluster-results.md 2>/dev/null; exit $$rc

test-short: services
	$(GO) test -short -count=1 ./...

# Each fuzz target for FUZZTIME: the parsers and everything else that takes
# attacker-controlled bytes (log lines, foreign messages). Failures are kept
# in the package's testdata/fuzz and then run by every `make test`.
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run XXX -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./internal/logformat
	$(GO) test -run XXX -fuzz '^FuzzCompile$$' -fuzztime $(FUZZTIME) ./internal/logformat
	$(GO) test -run XXX -fuzz '^FuzzBuild$$' -fuzztime $(FUZZTIME) ./internal/clean
	$(GO) test -run XXX -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./internal/broker
	$(GO) test -run XXX -fuzz '^FuzzAppendEscaped$$' -fuzztime $(FUZZTIME) ./internal/store

# Throughput, latency, CPU and memory of the pipeline against the real
# services, beside the broker's own limit (see docs/performance.md).
BENCH_LINES ?= 500000
bench: services build
	$(BIN) bench --lines $(BENCH_LINES) --ceiling
	$(BIN) bench --lines $(BENCH_LINES) --lines-per-message 100 --ceiling
	$(BIN) bench --lines 120000 --rate 2000

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l cmd internal)" || { gofmt -l cmd internal; exit 1; }

fmt:
	gofmt -w cmd internal

clean:
	rm -rf bin demo
