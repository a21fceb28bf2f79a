# The front door. `make demo` and `make check` install what is missing first.
BUILD      ?= build
CHECKBUILD ?= build-check
FUZZBUILD  ?= build-fuzz
FUZZTIME   ?= 60
MESON      ?= meson

# Debian/Ubuntu package names; dnf names below.
DEB_PKGS = gcc make meson ninja-build pkg-config libuv1-dev libcurl4-openssl-dev \
	libcjson-dev libmbedtls-dev libinih-dev libcmocka-dev python3 openssl \
	iproute2 nftables procps
RPM_PKGS = gcc make meson ninja-build pkgconf-pkg-config libuv-devel libcurl-devel \
	cjson-devel mbedtls-devel inih-devel libcmocka-devel python3 openssl \
	iproute nftables procps-ng
# Test tools: promtool (in Debian 12's prometheus package) checks the metrics and the alert
# rules, the node exporter serves the textfile. Their services are stopped and disabled.
DEB_TOOLS = prometheus prometheus-node-exporter
RPM_TOOLS = golang-github-prometheus golang-github-prometheus-node-exporter

.PHONY: all build deps check check-busy demo fuzz valgrind bench install clean format help

all: build

help:
	@echo "make          build into ./$(BUILD)"
	@echo "make demo     install what is missing, build, and show smsguard resume a migration"
	@echo "make check    install what is missing, build with ASan+UBSan, run every test"
	@echo "make check-busy  make check while stress-ng keeps every core busy (timing margins)"
	@echo "make fuzz     build the libFuzzer targets with clang, run each FUZZTIME=$(FUZZTIME) s"
	@echo "              (FUZZRUNS=1000000: until a million inputs each instead)"
	@echo "make valgrind run the unit and integration suites under valgrind"
	@echo "make bench    footprint of smsguard and monit watching the same ports"
	@echo "make deps     install the build and test dependencies (apt-get or dnf)"

deps:
	@DEPS_NO_SERVICES="$(DEB_TOOLS)" sh tools/deps.sh $(DEB_PKGS) $(DEB_TOOLS) -- \
		$(RPM_PKGS) $(RPM_TOOLS)

$(BUILD)/build.ninja:
	$(MESON) setup $(BUILD) -Dwerror=true

build: $(BUILD)/build.ninja
	$(MESON) compile -C $(BUILD)

$(CHECKBUILD)/build.ninja:
	$(MESON) setup $(CHECKBUILD) -Dwerror=true -Db_sanitize=address,undefined \
		-Dc_args=-fno-sanitize-recover=all

# The plain build too: -O2 without sanitizers warns where the ASan build does not.
check: deps build $(CHECKBUILD)/build.ninja
	$(MESON) compile -C $(CHECKBUILD)
	$(MESON) test -C $(CHECKBUILD) --print-errorlogs --num-processes 2

# The suites' timing margins must hold on a loaded machine: make check beside a CPU hog on
# every core (stress-ng from the distribution), stopped when the check ends either way.
check-busy: deps
	@command -v stress-ng >/dev/null || sh tools/deps.sh stress-ng -- stress-ng
	stress-ng --cpu $$(nproc) --timeout 90m --quiet & hog=$$!; \
	$(MAKE) check; rc=$$?; kill $$hog 2>/dev/null; wait $$hog 2>/dev/null; exit $$rc

demo: deps build
	python3 tests/demo/demo.py --smsguard $(BUILD)/src/smsguard --smsguardctl $(BUILD)/src/ctl/smsguardctl

# Every libFuzzer target in turn, FUZZTIME seconds each; FUZZRUNS=N runs each until N inputs
# instead (capped by FUZZTIME only when that is given too). libclang-rt-dev / compiler-rt hold
# libFuzzer for the distribution's clang. The table lands in $(FUZZBUILD)/fuzz-summary.md.
FUZZRUNS  ?= 0
FUZZLIMIT  = $(if $(filter-out 0,$(FUZZRUNS)),$(if $(filter file,$(origin FUZZTIME)),0,$(FUZZTIME)),$(FUZZTIME))
fuzz: deps
	@sh tools/deps.sh clang libclang-rt-dev -- clang compiler-rt
	test -f $(FUZZBUILD)/build.ninja || CC=clang $(MESON) setup $(FUZZBUILD) -Dfuzz=true -Dtests=false
	$(MESON) compile -C $(FUZZBUILD)
	sh tools/fuzz.sh $(FUZZBUILD) $(FUZZLIMIT) $(FUZZRUNS)

# Unit tests under valgrind, then the integration scenarios with the daemon under valgrind
# (SMSGUARD_WRAPPER): a valgrind error makes the daemon exit 99, which the harness reports.
VALGRIND = valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --quiet
valgrind: deps build
	@command -v valgrind >/dev/null || sh tools/deps.sh valgrind -- valgrind
	$(MESON) test -C $(BUILD) --suite unit --print-errorlogs --num-processes 2 \
		--timeout-multiplier 10 --wrapper '$(VALGRIND)'
	SMSGUARD_WRAPPER='$(VALGRIND)' $(MESON) test -C $(BUILD) --suite integration \
		--print-errorlogs --num-processes 1 --timeout-multiplier 4

# Footprint side by side with monit watching the same ports (BENCHTIME seconds).
BENCHTIME ?= 60
bench: deps build
	@command -v monit >/dev/null || sh tools/deps.sh monit -- monit
	python3 bench/footprint.py --smsguard $(BUILD)/src/smsguard --duration $(BENCHTIME)

install: build
	$(MESON) install -C $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(CHECKBUILD) $(FUZZBUILD)
