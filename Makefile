# Everyday targets. `make check` is what CI runs besides the tests.
GO ?= go

.PHONY: all generate check fmt vet staticcheck drift test demo bench fuzz lab site site-browser-check

all: check test

generate:
	$(GO) generate ./...

check: fmt vet staticcheck drift

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck ./...

# Generated code and docs must match api.yaml: regenerate and fail on any diff.
drift:
	$(GO) generate ./...
	git diff --exit-code -- generated docs
	@untracked=$$(git ls-files --others --exclude-standard generated docs); \
	if [ -n "$$untracked" ]; then echo "untracked generated files:"; echo "$$untracked"; exit 1; fi

test:
	$(GO) test -race -timeout 15m ./...

demo:
	$(GO) run ./cmd/scriptling-gossip examples/demo.py

# Engine against raw memberlist; see docs/performance.md.
bench:
	$(GO) run ./cmd/gossip-bench

# Every fuzz target for FUZZTIME each (default 10s).
fuzz:
	./.ci/fuzz

# The network lab: hosts in network namespaces, faults from nftables and
# signals (root and nft needed); the longer variants of the CI scenarios.
# See docs/reliability.md.
lab:
	NETLAB_SCALE=full $(GO) test -count=1 -v -timeout 40m ./tests/netlab/

# The docs site: docs/ rendered by Hugo with the layout in site/ into
# site/public/ (git-ignored); fails on a Hugo warning or a broken internal link.
site:
	./site/build

# The built reference page in headless Chromium; screenshot in site/artifacts/.
site-browser-check: site
	./site/browser-check
