# wsprobe - the two commands a new user needs are `make demo` and `make check`.
# Everything else is a building block of those two.
PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
FUZZ_SECONDS ?= 60

.PHONY: all build demo check deps test unit e2e asan fuzz fuzz-build bench format format-check install uninstall deb clean

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

# The binary, the man pages (wsprobe(1), wsprobe-COMMAND(1), wsprobe-plan(5)), the bash, zsh and
# fish completions, the docs and the examples, in the FHS places under PREFIX (DESTDIR for
# staging). `make uninstall` removes them again (the same PREFIX, DESTDIR and BUILD).
# (NO_REBUILD=1: install what is built as it is, the prefix unchanged; the tests do, while
# other tests run the same binary)
install: $(if $(NO_REBUILD),,build)
	@$(if $(NO_REBUILD),true,meson configure $(BUILD) -Dprefix=$(PREFIX) >/dev/null)
	@meson install -C $(BUILD) --quiet $(if $(NO_REBUILD),--no-rebuild) $(if $(DESTDIR),--destdir "$(DESTDIR)") >/dev/null
	@echo "installed under $(DESTDIR)$(PREFIX): bin/wsprobe, share/man, share/bash-completion, share/zsh, share/fish, share/doc/wsprobe"

uninstall:
	@scripts/uninstall.sh "$(BUILD)" "$(DESTDIR)"

# A Debian package of this tree (debian/): ../wsprobe_VERSION_ARCH.deb
deb:
	@scripts/deps.sh --package
	@scripts/deb.sh

clean:
	rm -rf build build-asan build-fuzz
