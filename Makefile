# Tern: `make run` and `make test` do all the set-up on a fresh machine.
SHELL := /bin/bash
CARGO ?= cargo
FUZZ_SECONDS ?= 600
FUZZ_TARGET ?= decode_pdu

.PHONY: all build run test test-deps bench bench-session fuzz lint fmt clean

all: build

build:
	$(CARGO) build --locked --workspace

# Gateway + simulator on the embedded store (DESIGN.md): bind as demo/demo
# on 127.0.0.1:2775. Ctrl-C stops both.
run:
	bash scripts/run.sh

# Installs what the tests need when it is missing, then runs every test.
test: test-deps
	# The end-to-end tests start the binaries as processes: build them first.
	$(CARGO) build --locked --workspace --bins
	$(CARGO) nextest run --locked --workspace --no-tests=warn
	$(CARGO) test --locked --workspace --doc

test-deps:
	@bash scripts/test-deps.sh

bench:
	$(CARGO) bench --locked -p smpp --bench codec

# smpp-load -> smsc-sim with receipts, and the npm `smpp` baseline pair in
# the same run (needs node and npm; see bench/npm-smpp/README.md).
bench-session:
	bash bench/session.sh

# Needs cargo-fuzz (installed on first use). libFuzzer on a stable toolchain:
# RUSTC_BOOTSTRAP lets cargo-fuzz pass its -Z flags.
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run --sanitizer none $(FUZZ_TARGET) -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
