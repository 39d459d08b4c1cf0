# Tern: `make run` and `make test` do all the set-up on a fresh machine.
SHELL := /bin/bash
CARGO ?= cargo
FUZZ_SECONDS ?= 600
FUZZ_TARGET ?= decode_pdu

.PHONY: all build run test test-deps bench bench-session soak soak-chaos fuzz lint check-deploy check-docs install fmt clean

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

# 30 minutes at 5 000 msg/s with every receipt on redis, RSS and latency sampled
# every 10 s: docs/soak/ (CSV, and a PNG when gnuplot is installed).
soak:
	bash bench/soak.sh 30 5000

# The chaos run of tests/chaos.rs for CHAOS_SECONDS of load (make test runs
# 30 s of it): Redis SIGKILLed and restarted, the upstream link dropped and
# a tern SIGKILLed and restarted, every 30 s, beside a second tern; then
# every receipt, MO and the credit balance are checked.
CHAOS_SECONDS ?= 1800
soak-chaos:
	$(CARGO) build --locked --release --workspace --bins
	TERN_CHAOS_SECS=$(CHAOS_SECONDS) $(CARGO) nextest run --locked --release -p e2e --test chaos --no-capture

# Needs cargo-fuzz (installed on first use). libFuzzer on a stable toolchain:
# RUSTC_BOOTSTRAP lets cargo-fuzz pass its -Z flags.
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run --sanitizer none $(FUZZ_TARGET) -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048

lint: check-docs check-deploy
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

# README and docs/ point only inside the repository (the rule is in the script).
check-docs:
	@python3 scripts/check-docs.py

# deploy/: make install staged in a temporary DESTDIR, the example config
# checked, the unit verified (systemd-analyze) and the alert rules checked
# and tested (promtool) where those tools are installed.
check-deploy:
	@bash scripts/check-deploy.sh

# Binary to $(PREFIX)/bin, unit to $(UNITDIR), config to
# $(SYSCONFDIR)/tern/tern.ini when none is there; as root (no DESTDIR)
# also the `tern` system user. docs/operations.md.
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR ?= /etc/systemd/system
TERN_BIN ?= target/release/tern
install:
	@if [ "$(TERN_BIN)" = target/release/tern ]; then $(CARGO) build --locked --release -p tern; fi
	@PREFIX="$(PREFIX)" SYSCONFDIR="$(SYSCONFDIR)" UNITDIR="$(UNITDIR)" DESTDIR="$(DESTDIR)" TERN_BIN="$(TERN_BIN)" bash scripts/install.sh

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
