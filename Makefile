# The README's two commands: `make demo` and `make test`. Both install missing
# Debian packages first (as root; otherwise they print the apt-get line).
#
#   make test                       gcc, plain build, whole suite
#   make test CC=clang SANITIZE=thread
#   make test SANITIZE=address,undefined
#   make bench                      benchmarks against the peers
CC ?= cc
SANITIZE ?=
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build/$(notdir $(CC))$(if $(SANITIZE),-$(subst $(comma),-,$(SANITIZE)))
comma := ,
# Sanitizers run slower: stretch every test watchdog.
SCALE ?= $(if $(SANITIZE),6,1)

.PHONY: all deps build test demo bench bench-full format format-check clean

all: build

deps:
	@sh scripts/deps.sh

# Configuring again is cheap and repairs a build directory left half-made.
# The build's output goes to a log (shown whole when the build fails), so a
# newcomer sees one line, then the demo or the test summary.
build: deps
	@mkdir -p $(BUILD)
	@echo "weft: building in $(BUILD) (log: $(BUILD)/build.log)"
	@{ cmake -S . -B $(BUILD) -DCMAKE_C_COMPILER=$(CC) -DWEFT_WERROR=ON \
	    -DWEFT_SANITIZE=$(SANITIZE) && \
	  cmake --build $(BUILD) -j $(JOBS) -- --no-print-directory; } >$(BUILD)/build.log 2>&1 || \
	  { cat $(BUILD)/build.log; echo "weft: the build failed (log above)"; exit 1; }

test: build
	@cd $(BUILD) && WEFT_TEST_TIMEOUT_SCALE=$(SCALE) ctest --output-on-failure -j $(JOBS)

demo: build
	@if [ -x $(BUILD)/tool/weft ]; then $(BUILD)/tool/weft demo; \
	else sh scripts/run-examples.sh $(BUILD); fi

bench: build
	@sh bench/run.sh $(BUILD) quick

bench-full: build
	@sh bench/run.sh $(BUILD) full

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build
