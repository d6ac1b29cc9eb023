# syncd — developer entry points. `make test` is the project's test command.
GO ?= go
PKGS := ./...

.PHONY: test fmt-check vet unit demo eval bench build

build:
	$(GO) build -o syncd ./cmd/syncd

test: fmt-check vet unit

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

unit:
	$(GO) test -race -timeout 25m $(PKGS)

demo:
	$(GO) run ./cmd/syncd demo

eval:
	./eval/run

bench:
	./bench/run
