# Thin wrapper over meson/ninja. `make check` is what CI runs (with `make lint`); see README.md.
.POSIX:
.PHONY: all deps build asan check lint demo bench bench-s3 bench-mirror bench-redis bench-age bench-daemon format fuzz clean

BUILD      ?= build
ASAN_BUILD ?= build-asan
MESON_OPTS ?=

all: build

deps:
	tools/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) -Dwerror=true $(MESON_OPTS)

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args=-fno-sanitize-recover=all $(MESON_OPTS)

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

asan: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)

# Installs what is missing, builds both variants, runs the static checks and every suite, and ends
# with the totals as "check: N passed, N failed".
check: deps
	tools/check.sh

lint: deps build
	tools/lint.sh

demo: deps build
	tools/demo.sh

bench: deps build
	bench/pg_snapshot.sh

bench-s3: deps build
	bench/s3_upload.sh

bench-mirror: deps build
	bench/mirror.sh

bench-redis: deps build
	bench/redis_snapshot.sh

bench-age: deps build
	bench/age.sh

bench-daemon: deps build
	bench/daemon.sh

format:
	clang-format -i $$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'tests/*.h')

fuzz:
	tools/fuzz.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-analyzer build-fuzz
