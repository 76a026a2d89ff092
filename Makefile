# wsprobe - the two commands a new user needs are `make demo` and `make check`.
# Everything else is a building block of those two.
PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
FUZZ_SECONDS ?= 60

.PHONY: all build demo check deps test unit e2e asan fuzz fuzz-build bench format format-check install clean

all: build

deps:
	@scripts/deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=debugoptimized >/dev/null

build: $(BUILD)/build.ninja
	@meson compile -C $(BUILD) >/dev/null
	@echo "built $(BUILD)/wsprobe"

asan:
	@[ -f build-asan/build.ninja ] || meson setup build-asan --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
	@meson compile -C build-asan >/dev/null

fuzz-build:
	@[ -f build-fuzz/build.ninja ] || CC=clang-14 meson setup build-fuzz --buildtype=debug -Dfuzz=true -Dtests=disabled -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
	@meson compile -C build-fuzz >/dev/null

# Run every libFuzzer harness for FUZZ_SECONDS each, starting from the committed seeds.
fuzz: deps fuzz-build
	@scripts/fuzz.sh $(FUZZ_SECONDS)

demo: deps build
	@scripts/demo.sh

check: deps
	@scripts/check.sh

bench: deps build
	@scripts/bench.sh

format:
	@clang-format -i $$(git ls-files 'src/*.[ch]' 'src/**/*.[ch]' 'tests/*.[ch]' 'tests/**/*.[ch]' 'bench/*.[ch]')

format-check:
	@clang-format --dry-run -Werror $$(git ls-files 'src/*.[ch]' 'src/**/*.[ch]' 'tests/*.[ch]' 'tests/**/*.[ch]' 'bench/*.[ch]')

install: build
	install -D -m 0755 $(BUILD)/wsprobe $(DESTDIR)$(PREFIX)/bin/wsprobe

clean:
	rm -rf build build-asan build-fuzz
