# The one test command is `make test`; CI runs it through .ci/run.
GO       ?= go
FUZZEXECS ?= 50000
BENCH    ?= .
COUNT    ?= 1

.PHONY: test check unit fuzz bench

test: check unit fuzz

# Formatting, vet and module hygiene: each must leave nothing to change.
check:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod tidy -diff

unit:
	$(GO) test -race -count=1 ./...

# A short run of every fuzz target: a fixed number of executions each (see
# scripts/fuzz.sh for why a count and not a duration). Seed corpora live in
# testdata/fuzz.
fuzz:
	@FUZZEXECS=$(FUZZEXECS) GO=$(GO) scripts/fuzz.sh

bench:
	$(GO) test -run='^$$' -bench='$(BENCH)' -benchmem -count=$(COUNT) ./...
