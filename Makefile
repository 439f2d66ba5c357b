# Two commands for a fresh Debian 12 machine: `make run` and `make test`.
BUILD_DIR  ?= build
BUILD_TYPE ?= Release
CONFIG     ?= config/server.yaml
JOBS       ?= $(shell nproc)
WERROR     := $(if $(CI),ON,OFF)

.PHONY: deps configure build run test clean bench bench-triggers bench-snapshot bench-replay

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
		-DHANDOVER_WERROR=$(WERROR) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	@mkdir -p data
	@echo "Development API keys are listed in $(CONFIG) under 'auth.api_keys'."
	@echo "They are for development only: README.md, 'Replacing the development keys', says how to make real ones."
	$(BUILD_DIR)/handover-server --config $(CONFIG)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure --no-tests=error -j $(JOBS)

clean:
	rm -rf $(BUILD_DIR)

# The benchmark suite (bench/README.md): installs wrk, nginx and Node.js from Debian packages and
# the npm packages from bench/node/package-lock.json, builds Release in $(BENCH_DIR), runs
# everything against its reference programs and writes bench/results/latest.json. About 15
# minutes; not part of `make test` (which runs only its smoke mode).
bench:
	@BUILD_DIR=$(BENCH_DIR) BENCH_DATA=$(BENCH_DATA) JOBS=$(JOBS) bench/run.sh

# Speed and accuracy of the trigger engine beside the npm peers (docs/triggers.md, "Measured
# quality and speed"). Not part of `make test`; takes about a minute.
BENCH_DIR  ?= build-bench
BENCH_DATA ?= ../shared/data
BENCH_PIN  := $(shell command -v taskset >/dev/null 2>&1 && echo "taskset -c 0")

bench-triggers:
	@test -d $(BENCH_DATA)/vader-groundtruth || { echo "bench-triggers: evaluation data not found in $(BENCH_DATA) (set BENCH_DATA=<dir>; see docs/triggers.md)"; exit 1; }
	@command -v npm >/dev/null || { echo "bench-triggers: npm is needed for the peer tools (apt-get install nodejs npm)"; exit 1; }
	@cmake -S . -B $(BENCH_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DHANDOVER_BUILD_BENCH=ON \
		-DHANDOVER_BUILD_TESTS=OFF -DHANDOVER_WERROR=$(WERROR) >/dev/null
	@cmake --build $(BENCH_DIR) --target triggers_bench triggers_eval -j 2
	@mkdir -p $(BENCH_DIR)/peers $(BENCH_DIR)/results/rows
	@cp bench/triggers/peers/package.json bench/triggers/peers/package-lock.json bench/triggers/peers/*.mjs $(BENCH_DIR)/peers/
	@cd $(BENCH_DIR)/peers && npm install --no-audit --no-fund --silent
	@echo "== speed (Google Benchmark, $(if $(BENCH_PIN),pinned with $(BENCH_PIN),not pinned: no taskset))"
	@$(BENCH_PIN) $(BENCH_DIR)/bench/triggers/triggers_bench --benchmark_min_time=1 \
		--benchmark_out=$(BENCH_DIR)/results/bench.json --benchmark_out_format=json
	@echo "== accuracy (triggers_eval over $(BENCH_DATA))"
	@$(BENCH_DIR)/bench/triggers/triggers_eval $(BENCH_DATA) --dump $(BENCH_DIR)/results/rows \
		--results $(BENCH_DIR)/results/engine.tsv 2>$(BENCH_DIR)/results/eval-details.txt
	@echo "== npm peers on the same rows"
	@node $(BENCH_DIR)/peers/peers.mjs $(BENCH_DIR)/results/rows $(BENCH_DIR)/results/peers.tsv
	@echo
	@node $(BENCH_DIR)/peers/report.mjs $(BENCH_DIR)/results/engine.tsv $(BENCH_DIR)/results/peers.tsv \
		$(BENCH_DIR)/results/bench.json

# Time to build and serialise one escalation's context snapshot (docs/performance.md).
bench-snapshot:
	@cmake -S . -B $(BENCH_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DHANDOVER_BUILD_BENCH=ON \
		-DHANDOVER_BUILD_TESTS=OFF -DHANDOVER_WERROR=$(WERROR) >/dev/null
	@cmake --build $(BENCH_DIR) --target snapshot_bench -j 2
	@$(BENCH_PIN) $(BENCH_DIR)/bench/snapshot/snapshot_bench --benchmark_min_time=1

# Offline replay speed over the SGD dialogues (docs/replay.md, "Speed"). Not part of `make test`.
bench-replay: build
	@bench/replay/run.sh $(BUILD_DIR) $(BENCH_DATA)
