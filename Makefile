# Vigil's entry points. Every target installs what it needs first.
#   make demo    build, train the example model, serve it on 127.0.0.1:8080
#   make demo-neural  build, serve the example neural network (TorchScript and ONNX)
#   make test    build and run every test (ctest), then each fuzz target for FUZZ_SECONDS
#   make test-sanitize  the unit and end-to-end tests under ASan+UBSan, then under TSan
#   make bench   the benchmark in bench/, results appended to bench/RESULTS.md
#   make soak    ten minutes of load while versions swap (tests/e2e/soak_e2e_test.cc)
BUILD ?= build
JOBS ?= 2
BUILD_TYPE ?= RelWithDebInfo
HOST ?= 127.0.0.1
PORT ?= 8080
EXAMPLE_REPO := examples/credit/models
EXAMPLE_MODEL := $(EXAMPLE_REPO)/credit/1/model.json

.PHONY: all bootstrap build test test-unit test-sanitize fuzz soak demo demo-neural bench clean

all: build

bootstrap:
	@scripts/bootstrap

build: bootstrap
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The fuzz targets (tests/fuzz, clang + libFuzzer) replay their regressions
# and then fuzz for FUZZ_SECONDS each; `make fuzz FUZZ_SECONDS=600` for longer.
FUZZ_SECONDS ?= 20

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_BUILD_JOBS=$(JOBS) tests/fuzz/run

# The unit and end-to-end suites under AddressSanitizer with
# UndefinedBehaviorSanitizer, then under ThreadSanitizer: clang builds in
# build-asan/ and build-tsan/ (docs/sanitizers.md). CI runs it after `make test`.
SANITIZERS ?= address thread
test-sanitize: bootstrap
	@for s in $(SANITIZERS); do SANITIZE_BUILD_JOBS=$(JOBS) tests/sanitize $$s || exit 1; done

fuzz: bootstrap
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_BUILD_JOBS=$(JOBS) tests/fuzz/run

# Only the fast unit tests.
test-unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L unit

# The soak test at full length (CI runs it for 30 s within `make test`).
SOAK_SECONDS ?= 600
soak: build
	VIGIL_SOAK_SECONDS=$(SOAK_SECONDS) $(BUILD)/tests/e2e/soak_e2e_test

$(EXAMPLE_MODEL):
	$(BUILD)/vigil train --data examples/credit/credit_data.csv --repository $(EXAMPLE_REPO) --model credit \
	  --store examples/credit/vigil.db --alias champion

demo: build $(EXAMPLE_MODEL)
	@examples/credit/try.sh print $(HOST) $(PORT)
	exec $(BUILD)/vigil serve --repository $(EXAMPLE_REPO) --host $(HOST) --port $(PORT) --store examples/credit/vigil.db

# The example network of examples/credit_nn (committed; train.py remakes it)
# as TorchScript (credit-torch) and ONNX (credit-onnx).
demo-neural: build
	@echo "Serving credit-torch and credit-onnx on http://$(HOST):$(PORT). Try, from another terminal:"
	@echo "  curl -s -X POST http://$(HOST):$(PORT)/v2/models/credit-torch/infer -d @examples/credit_nn/applicant.json"
	@echo "  curl -s -X POST http://$(HOST):$(PORT)/v2/models/credit-onnx/infer -d @examples/credit_nn/applicant.json"
	@echo "  curl -s http://$(HOST):$(PORT)/v2/models/credit-torch"
	exec $(BUILD)/vigil serve --repository examples/credit_nn/models --host $(HOST) --port $(PORT) --store none

bench: build
	@scripts/bootstrap --bench
	bench/run --write
	$(BUILD)/tree_engine_bench --markdown bench/RESULTS.md
	@if [ -x $(BUILD)/neural_engine_bench ]; then bench/neural --write; else echo "bench: no neural backend built, bench/neural skipped"; fi

clean:
	rm -rf $(BUILD) build-fuzz build-asan build-tsan
