# Two commands for a fresh Debian 12 machine: `make run` and `make test`.
BUILD_DIR  ?= build
BUILD_TYPE ?= Release
CONFIG     ?= config/server.yaml
JOBS       ?= $(shell nproc)
WERROR     := $(if $(CI),ON,OFF)

.PHONY: deps configure build run test clean bench

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
