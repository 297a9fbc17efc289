# mana-auth — `make help` lists the targets.
GO ?= go
OMIT_ALL := mana_omit_jwt,mana_omit_twofactor,mana_omit_magiclink,mana_omit_organization,mana_omit_vault,mana_omit_gdpr,mana_omit_admin,mana_omit_mana

.PHONY: help run build test test-pg e2e bench fuzz lint omit-all ci

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

run: ## run the server with the embedded SQLite default
	$(GO) run ./cmd/mana-auth

build: ## build bin/mana-auth with every plugin
	$(GO) build -o bin/mana-auth ./cmd/mana-auth

test: ## run every Go test (PostgreSQL variants skip when it is unreachable)
	$(GO) test ./...

test-pg: ## run every Go test and require PostgreSQL
	MANA_TEST_POSTGRES=require $(GO) test ./...

e2e: ## run the better-auth client suite against the built binary (needs Node)
	./e2e/run.sh

bench: ## run the Go benchmarks
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz: ## fuzz the untrusted-input parsers for 20 s each
	$(GO) test ./core/secure -run '^$$' -fuzz FuzzVerifyCookie -fuzztime 20s
	$(GO) test ./core/origin -run '^$$' -fuzz FuzzTrustedURL -fuzztime 20s

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l .)" || (gofmt -l . && exit 1)
	$(GO) vet ./...

omit-all: ## build the core alone, every plugin omitted
	$(GO) build -tags $(OMIT_ALL) -o /dev/null ./cmd/mana-auth

ci: lint omit-all test-pg e2e ## what .ci/run does
