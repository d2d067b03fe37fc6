# The one test command is `make test`; CI runs it through .ci/run.
# Each step says what it runs and when, so a cold machine (minutes of
# compilation) is never silent.
GO       ?= go
FUZZEXECS ?= 50000
BENCH    ?= .
COUNT    ?= 1
SHELL    := /bin/bash
STEP      = @echo "== $$(date -u +%H:%M:%S) $(1)"

.PHONY: test check build unit allocs fuzz bench

test: check build unit allocs fuzz
	$(call STEP,make test: all passed)

# Formatting, vet and module hygiene: each must leave nothing to change.
# go build -v names each package it compiles (none when the build cache has
# them), so a cold machine's minutes of compiling dependencies show.
check:
	$(call STEP,check: gofmt -l; go build -v ./...; go vet ./...; go mod tidy -diff)
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@set -o pipefail; $(GO) build -v -o /dev/null ./... 2>&1 | sed -u 's/^/compiled	/'
	$(GO) vet ./...
	$(GO) mod tidy -diff

# Compiles every package's tests with -race first (-exec=true runs nothing)
# and names each package as it is compiled, so the minutes a cold machine
# spends compiling show as progress; unit then reuses the build cache.
build:
	$(call STEP,build: go test -race -exec=true ./... (compile only))
	@set -o pipefail; $(GO) test -race -count=1 -vet=off -run='^$$' -exec=true ./... 2>&1 | sed -u 's/^ok  /compiled/; s/[[:space:]]*[0-9.]*s$$//'
	$(call STEP,build: done)

# The tests; vet already ran in check. Each package's ok line appears as it
# finishes.
unit:
	$(call STEP,unit: go test -race -count=1 ./...)
	$(GO) test -race -count=1 -vet=off ./...

# The allocation tests of pooled paths, without the race detector: under
# it a sync.Pool drops buffers on purpose, so those tests skip in unit and
# run here (internal/outside/firstrun checks that every test skipped under
# -race is in a package listed here and matches -run).
allocs:
	$(call STEP,allocs: go test -run Alloc (no -race) ./ipmask/logmask ./internal/outside/masklog ./internal/outside/observe ./internal/outside/oracle)
	$(GO) test -count=1 -vet=off -run Alloc ./ipmask/logmask/ ./internal/outside/masklog/ ./internal/outside/observe/ ./internal/outside/oracle/

# A short run of every fuzz target: a fixed number of executions each (see
# scripts/fuzz.sh for why a count and not a duration). Seed corpora live in
# testdata/fuzz.
fuzz:
	$(call STEP,fuzz: every Fuzz target for $(FUZZEXECS) executions)
	@FUZZEXECS=$(FUZZEXECS) GO=$(GO) scripts/fuzz.sh

bench:
	$(GO) test -run='^$$' -bench='$(BENCH)' -benchmem -count=$(COUNT) ./...
