SHELL := /bin/bash
# avi-init: build, test, install, bench. `make test` is what CI runs.
GO       ?= go
BIN      := bin/avi-init
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/avi-init/avi-init/internal/version.Version=$(VERSION)
STATICCHECK := $(shell $(GO) env GOPATH)/bin/staticcheck
# Flags for the unattended install `make install` runs (the Avi script's flags work too).
INSTALL_FLAGS ?= -c -s -i

.PHONY: build install test unit e2e lint bench clean

# A static binary: it is also the whole content of the controller and SE images.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/avi-init

install: build
	$(if $(filter 0,$(shell id -u)),,sudo) ./$(BIN) $(INSTALL_FLAGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi
	$(GO) vet ./...
	@test -x $(STATICCHECK) || GOFLAGS= $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	$(STATICCHECK) ./...

unit:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /e2e)

# End-to-end tests need root, a Docker engine and debootstrap; under CI=true they fail, never
# skip, when one is missing.
e2e: build
	AVI_INIT_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 15m -v ./e2e/...

test: lint unit e2e

# The peers the SE is measured against, from Debian: HAProxy 2.6, nginx 1.22, Caddy 2.6, and wrk.
BENCH_PACKAGES := haproxy nginx-light caddy wrk

bench: build
	@for t in haproxy nginx caddy wrk; do command -v $$t >/dev/null || { apt-get update -qq && apt-get install -y -qq $(BENCH_PACKAGES) >/dev/null; break; }; done
	AVI_INIT_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -run '^$$' -bench 'Install|Controller' -benchtime 3x -timeout 20m ./e2e/
	# These run their own rounds and samples: once is enough.
	AVI_INIT_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -run '^$$' -bench 'Proxies|Marathon|LinuxCloud|VIPFailover|ControllerCluster' -benchtime 1x -timeout 30m ./e2e/

clean:
	rm -rf bin e2e.log
