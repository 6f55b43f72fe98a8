# patchbay: make run runs an example flow, make test runs every check CI runs.
GO      ?= go
PKGS    := ./...
# Fuzz targets, each run briefly by make fuzz.
FUZZTIME ?= 20s

.PHONY: build run test vet fmtcheck bench fuzz clean

build:
	$(GO) build -o bin/patchbay ./cmd/patchbay

# Runs the Hacker News example's top_stories flow against recorded responses, so it works offline.
run:
	$(GO) run ./cmd/patchbay run examples/hackernews top_stories --input limit=5 --replay examples/hackernews/testdata/replay

fmtcheck:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

test: fmtcheck vet
	$(GO) test -race $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./flows
	$(GO) test -run '^$$' -fuzz '^FuzzTemplate$$' -fuzztime $(FUZZTIME) ./flows
	$(GO) test -run '^$$' -fuzz '^FuzzApp$$' -fuzztime $(FUZZTIME) ./blocks
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./automations
	$(GO) test -run '^$$' -fuzz '^FuzzParseSchedule$$' -fuzztime $(FUZZTIME) ./automations

clean:
	rm -rf bin
