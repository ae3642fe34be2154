# Thin wrapper over CMake presets. `make test` is what CI runs.
PRESET ?= release
BUILD_DIR := build/$(PRESET)
OUTPOST := $(BUILD_DIR)/cli/outpost
DATA_DIR ?= var/satellite
JOBS ?= 2

.PHONY: all deps configure build test test-asan test-tsan run clean format bench bench-smoke

all: build

deps:
	@deploy/install-deps.sh

configure: deps
	@cmake --preset $(PRESET) >/dev/null

build: configure
	cmake --build --preset $(PRESET) -j $(JOBS)

test: build
	ctest --preset $(PRESET) -j $(JOBS) --output-on-failure

test-asan:
	$(MAKE) test PRESET=asan

# The whole suite under the thread sanitizer (~2x the release build's time; docs/reliability.md).
test-tsan:
	$(MAKE) test PRESET=tsan

# Initialises ./var/satellite on first start, then serves on https://127.0.0.1:8443.
run: build
	@if [ ! -f $(DATA_DIR)/outpost.toml ]; then \
	  $(OUTPOST) init --data-dir $(DATA_DIR) --listen 127.0.0.1:8443; fi
	$(OUTPOST) serve --data-dir $(DATA_DIR)

# A central, an enrolled satellite, one offline sync round trip and a few hundred simulated
# devices under ./var/demo, on 127.0.0.1 (deploy/demo.sh; docs/sync.md). Both servers keep
# running; `make demo-stop` stops them. Running `make demo` again starts from scratch.
.PHONY: demo demo-stop
demo: configure
	cmake --build --preset $(PRESET) -j $(JOBS) --target outpost
	@OUTPOST=$(OUTPOST) deploy/demo.sh

demo-stop:
	@deploy/demo.sh stop

# Benchmarks (docs/benchmarks.md), always on the release build: the whole suite (~10 min on 2
# cores) prints a table and writes build/bench/results.json; bench-smoke (< 1 min) only checks
# that the harness works.
bench bench-smoke: deps
	@deploy/install-bench-deps.sh
	@cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS) --target outpost_bench_tools
	python3 tests/bench/run_bench.py --build-dir build/release --out build/bench \
	  $(if $(filter bench-smoke,$@),--smoke,)

# Model-based operator journeys (tests/journeys, docs/journeys.md) with more steps than `make
# test` runs: `make journeys SEED=7 STEPS=2000`. A failure prints the shortest journey found.
SEED ?= 20261128
STEPS ?= 2000
JOURNEY_PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)
.PHONY: journeys
journeys: configure
	cmake --build --preset $(PRESET) -j $(JOBS) --target outpost
	JOURNEY_SEED=$(SEED) JOURNEY_STEPS=$(STEPS) OUTPOST_BIN=$(CURDIR)/$(OUTPOST) \
	  PYTHONDONTWRITEBYTECODE=1 $(JOURNEY_PYTHON) -m pytest -p no:cacheprovider -q -s -rA \
	  tests/journeys/test_model.py

# libFuzzer targets (tests/fuzz, docs/reliability.md "Fuzzing"): builds the clang-16 fuzz preset in
# build/fuzz, then runs each target for FUZZ_SECONDS (default 60) from a scratch copy of its seed
# corpus. `make fuzz FUZZ_SECONDS=600 FUZZ_TARGETS=fuzz_config` for one target, longer.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
.PHONY: fuzz
fuzz: deps
	@cmake --preset fuzz >/dev/null
	cmake --build --preset fuzz -j $(JOBS)
	FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run_fuzz.sh $(FUZZ_TARGETS)

format:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf build

# Crash consistency (tests/crash, docs/reliability.md): kill -9 the satellite at random moments
# under concurrent load, restart, check that nothing acknowledged is lost. `make crash-test
# CRASH_ITERATIONS=300 CRASH_SEED=7`; a few iterations also run in `make test` (label crash).
CRASH_ITERATIONS ?= 100
.PHONY: crash-test
crash-test: configure
	cmake --build --preset $(PRESET) -j $(JOBS) --target outpost
	OUTPOST_BIN=$(CURDIR)/$(OUTPOST) PYTHONDONTWRITEBYTECODE=1 \
	  $(if $(CRASH_SEED),CRASH_SEED=$(CRASH_SEED),) \
	  $(JOURNEY_PYTHON) tests/crash/crash.py --iterations $(CRASH_ITERATIONS) --time-limit 1800

# Overload (tests/flood, docs/reliability.md): registration storm, connection flood, slowloris,
# bogus logins and failed API keys against a running satellite on 127.0.0.1, each bounded, with
# a legitimate renewal's and admin request's latency and the RSS measured; then junk sync
# requests, idle connections and a customer's own valid requests against central, with a
# legitimate satellite's `sync now` latency and central's RSS measured; then a hostile satellite
# (stalls, endless answers, renegotiation) against `outpost device`. Prints tables and writes
# build/flood/{results,central-results,client-results}.json. A small version of each runs in
# `make test` (label flood).
.PHONY: flood-test
flood-test: configure
	cmake --build --preset $(PRESET) -j $(JOBS) --target outpost
	@mkdir -p build/flood
	OUTPOST_BIN=$(CURDIR)/$(OUTPOST) PYTHONDONTWRITEBYTECODE=1 \
	  $(JOURNEY_PYTHON) tests/flood/flood.py --size large --json build/flood/results.json
	OUTPOST_BIN=$(CURDIR)/$(OUTPOST) PYTHONDONTWRITEBYTECODE=1 \
	  $(JOURNEY_PYTHON) tests/flood/central_flood.py --size large \
	  --json build/flood/central-results.json
	OUTPOST_BIN=$(CURDIR)/$(OUTPOST) PYTHONDONTWRITEBYTECODE=1 \
	  $(JOURNEY_PYTHON) tests/flood/client_flood.py --size large \
	  --json build/flood/client-results.json

# tests/iofault: the satellite on a small tmpfs whose disk fills up, three times; 503s with a
# reason, /readyz, recovery when space returns, nothing acknowledged lost (docs/reliability.md,
# "I/O faults"). Needs root (mount -t tmpfs); ctest -L iofault runs one cycle.
IOFAULT_CYCLES ?= 3
.PHONY: iofault-test
iofault-test: configure
	cmake --build --preset $(PRESET) -j $(JOBS) --target outpost
	OUTPOST_BIN=$(CURDIR)/$(OUTPOST) PYTHONDONTWRITEBYTECODE=1 \
	  python3 tests/iofault/iofault.py --cycles $(IOFAULT_CYCLES)

# The Debian package (docs/operations.md, "Installing the Debian package"), always from the
# release preset's build tree: build/release/package/outpost_<version>_<arch>.deb.
# package-test installs, upgrades, removes and purges it in a fresh Debian 12 root made with
# debootstrap (cached in build/package-test/; needs root and Debian's mirror the first time).
.PHONY: package package-test
package: deps
	@cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS) --target outpost outpost_package_files
	cd build/release && cpack --config CPackConfig.cmake

package-test: package
	deploy/package-test.sh build/release
