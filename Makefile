# pipebridge: see README.md. Every target works on a fresh machine with Go, Node.js
# and moto_server; nothing here needs an AWS account.
SHELL := /bin/bash
GO ?= go
DIST := dist
LAMBDAS := $(notdir $(wildcard lambdas/*))
BENCHTIME ?= 20x

FUZZTIME ?= 30s
# Named, not ./...: cdk/node_modules (the CDK CLI, after make synth) holds Go
# project templates that are not Go packages.
CDK_PKGS := . ./config

.PHONY: all build test test-go test-cdk lint demo bench fuzz synth deploy clean

all: build

## build: the CLI for this machine, and the Lambdas for provided.al2023 on arm64
# (dist/<name>/bootstrap, what the CDK app deploys)
build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(DIST)/pipebridge ./buildtools
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -o $(DIST)/pipebridge-linux-arm64 ./buildtools
	@for l in $(LAMBDAS); do \
	  echo "lambda $$l -> $(DIST)/$$l/bootstrap"; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -tags lambda.norpc -trimpath -ldflags '-s -w' \
	    -o $(DIST)/$$l/bootstrap ./lambdas/$$l || exit 1; \
	done

## test: lint, then every test (unit, emulator, buildspec, Lambdas, CDK app)
test: lint test-go test-cdk

test-go:
	$(GO) test -count=1 ./...

# The CDK app is its own module (it keeps awscdk out of the other builds). -count=1:
# Go's test cache cannot see the files node reads. It deploys make build's binaries.
test-cdk: build
	cd cdk && JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 $(GO) test -count=1 $(CDK_PKGS)

## lint: gofmt, go vet, staticcheck (pinned in go.mod as a tool), for both modules
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './cdk/node_modules/*')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	cd cdk && $(GO) vet $(CDK_PKGS) && $(GO) tool -modfile=../go.mod staticcheck $(CDK_PKGS)

## demo: the whole flow against local emulators, no AWS account: the CLI, then the
## synthesized stack's pipelines started by the built Lambdas
demo: synth
	$(GO) run ./test/demo -dist $(DIST) -template cdk/cdk.out/pipebridge.template.json

## bench: benchmarks, each measured side by side with its baseline in one run
bench:
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) ./buildtools/ ./test/lambdas/ ./lambdas/ecrpush/ ./lambdas/ghrelease/

## fuzz: each fuzz target for FUZZTIME (default 30s); failures land in testdata/fuzz
fuzz:
	$(GO) test ./internal/routes -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/routes -run '^$$' -fuzz '^FuzzSelect$$' -fuzztime $(FUZZTIME)
	$(GO) test ./lambdas/ecrpush -run '^$$' -fuzz '^FuzzHandle$$' -fuzztime $(FUZZTIME)
	$(GO) test ./lambdas/ghrelease -run '^$$' -fuzz '^FuzzHandle$$' -fuzztime $(FUZZTIME)
	$(GO) test ./lambdas/ghrelease -run '^$$' -fuzz '^FuzzParseRequest$$' -fuzztime $(FUZZTIME)
	$(GO) test ./buildtools -run '^$$' -fuzz '^FuzzRenderValue$$' -fuzztime $(FUZZTIME)
	$(GO) test ./lambdas/deployreport -run '^$$' -fuzz '^FuzzEvent$$' -fuzztime $(FUZZTIME)
	$(GO) test ./lambdas/deployreport -run '^$$' -fuzz '^FuzzMessage$$' -fuzztime $(FUZZTIME)

## synth: synthesize pipebridge.yaml (PIPEBRIDGE_CONFIG=file for another) offline,
## then cfn-lint every template and check cdk-nag's report
synth: build
	bash scripts/synth.sh

## deploy: cdk deploy to the account in the config (README: "Deploying")
deploy: synth
	cd cdk && ./node_modules/.bin/cdk deploy --no-notices --app cdk.out --require-approval broadening

clean:
	rm -rf $(DIST) cdk.out cdk/cdk.out
