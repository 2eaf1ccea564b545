# stoq: `make` builds bin/stoq with the whole catalogue, `make demo` scans a
# generated sample with it, `make test` runs every module's vet, staticcheck
# and tests.

GO      ?= go
MODULES := core cli tools $(sort $(wildcard plugins/*))
BIN     := bin/stoq
DEMO    := build/demo

.DEFAULT_GOAL := build
.PHONY: build deps test-deps demo test vet staticcheck lint-catalog release-check release-tags bench soak clean

# System packages: what the catalogue builds and runs with (make), and
# with what the tests compare (make test).
deps:
	@./scripts/deps.sh build

test-deps:
	@./scripts/deps.sh

# The binary builder links every catalogue plugin from this checkout.
build: deps
	$(GO) run ./cli/cmd/stoq build --all --catalog . -o $(BIN)

demo: build
	$(GO) run ./tools/cmd/demo-sample -o $(DEMO)
	$(BIN) scan $(DEMO)/invoice.eml -R yara -a hash --plugin-opts smtp:extract_iocs=true

vet:
	@unformatted=$$(gofmt -l $(MODULES)); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	@set -e; for m in $(MODULES); do echo "== go vet $$m"; (cd $$m && $(GO) mod tidy -diff && $(GO) vet ./...); done

# staticcheck, pinned by tools/go.mod (a tool directive), over every module:
# any finding fails the build.
STATICCHECK := bin/staticcheck
$(STATICCHECK): tools/go.mod tools/go.sum
	cd tools && $(GO) build -o ../$(STATICCHECK) honnef.co/go/tools/cmd/staticcheck

staticcheck: $(STATICCHECK)
	@set -e; for m in $(MODULES); do echo "== staticcheck $$m"; (cd $$m && $(CURDIR)/$(STATICCHECK) ./...); done

lint-catalog:
	cd tools && $(GO) run ./cmd/lint-catalog ..

# Every module zips as a module proxy serves it, at the version it states;
# prints the tags a release creates. release-tags creates them at HEAD.
release-check:
	cd tools && $(GO) run ./cmd/release-check ..

release-tags:
	cd tools && $(GO) run ./cmd/release-check -create-tags ..

# Every module of the workspace: a root `go test ./...` does not reach them.
test: test-deps vet staticcheck lint-catalog release-check
	@set -e; failed=""; \
	for m in $(MODULES); do \
		echo "== go test -race $$m"; \
		(cd $$m && $(GO) test -race -timeout 20m ./...) || failed="$$failed $$m"; \
	done; \
	if [ -n "$$failed" ]; then echo "FAILED:$$failed"; exit 1; fi

bench:
	@set -e; for m in $(MODULES); do (cd $$m && $(GO) test -run '^$$' -bench . -benchmem ./...); done

# Run mode over 100,000 small files with hash and yara, RSS sampled every
# second: fails unless memory stays flat. Minutes long, so not in `test`.
soak: build
	cd tools && $(GO) run ./cmd/soak -stoq ../$(BIN) -files 100000 -workers hash,yara

clean:
	rm -rf bin build
