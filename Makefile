# The front door. `make demo` and `make check` install what is missing first.
BUILD      ?= build
CHECKBUILD ?= build-check
FUZZBUILD  ?= build-fuzz
FUZZTIME   ?= 60
MESON      ?= meson

# Debian/Ubuntu package names; dnf names below.
# iproute2 (ip, tc), rsync, util-linux and mount (unshare, mount): the preflight scenarios.
DEB_PKGS = gcc make meson ninja-build pkg-config libuv1-dev libcurl4-openssl-dev \
	libcjson-dev libmbedtls-dev libinih-dev libcmocka-dev python3 openssl \
	iproute2 nftables procps rsync util-linux mount
RPM_PKGS = gcc make meson ninja-build pkgconf-pkg-config libuv-devel libcurl-devel \
	cjson-devel mbedtls-devel inih-devel libcmocka-devel python3 openssl \
	iproute iproute-tc nftables procps-ng rsync util-linux
# Test tools: promtool (in Debian 12's prometheus package) checks the metrics and the alert
# rules, the node exporter serves the textfile; monit is what `make bench` measures smsguard
# against. Their services are stopped and disabled.
DEB_TOOLS = prometheus prometheus-node-exporter monit
RPM_TOOLS = golang-github-prometheus golang-github-prometheus-node-exporter monit
# The manual pages' lint (tests/man).
DOC_DEB_PKGS = mandoc man-db
DOC_RPM_PKGS = mandoc man-db
# Building and checking the packages: make deb, make rpm, make package-check.
PKG_DEB_PKGS = debhelper dpkg-dev lintian rpm rpmlint systemd-container
PKG_RPM_PKGS = rpm-build rpmlint systemd-rpm-macros systemd-container
PKGWORK ?= build-pkg
DIST    ?= dist

.PHONY: all build deps check check-busy demo fuzz valgrind bench bench-build soak install \
	clean format help deb rpm package-check

all: build

help:
	@echo "make          build into ./$(BUILD)"
	@echo "make demo     install what is missing, build, and show smsguard resume a migration"
	@echo "make check    install what is missing, build with ASan+UBSan, run every test"
	@echo "make check-busy  make check while stress-ng keeps every core busy (timing margins)"
	@echo "make fuzz     build the libFuzzer targets with clang, run each FUZZTIME=$(FUZZTIME) s"
	@echo "              (FUZZRUNS=1000000: until a million inputs each instead)"
	@echo "make valgrind run the unit and integration suites under valgrind"
	@echo "make bench    smsguard side by side with monit, the floor and a cloud poller (~32 min)"
	@echo "make soak     smsguard under churn for SOAKTIME=$(SOAKTIME) s, failing on growth"
	@echo "make deps     install the build and test dependencies (apt-get or dnf)"
	@echo "make deb      build the .deb into ./$(DIST), lintian-clean (Debian/Ubuntu)"
	@echo "make rpm      build the .rpm into ./$(DIST), rpmlint-clean (Fedora/RHEL, or Debian)"
	@echo "make package-check  make deb, then install and drive it on systemd in a container (root)"

deps:
	@DEPS_NO_SERVICES="$(DEB_TOOLS)" sh tools/deps.sh $(DEB_PKGS) $(DEB_TOOLS) \
		$(DOC_DEB_PKGS) $(PKG_DEB_PKGS) -- \
		$(RPM_PKGS) $(RPM_TOOLS) $(DOC_RPM_PKGS) $(PKG_RPM_PKGS)

$(BUILD)/build.ninja:
	$(MESON) setup $(BUILD) -Dwerror=true

build: $(BUILD)/build.ninja
	$(MESON) compile -C $(BUILD)

$(CHECKBUILD)/build.ninja:
	$(MESON) setup $(CHECKBUILD) -Dwerror=true -Db_sanitize=address,undefined \
		-Dc_args=-fno-sanitize-recover=all

# The plain build too: -O2 without sanitizers warns where the ASan build does not.
# As root the package suite runs too (make package-check's cases, counted with the others):
# the .deb is built first (without its unit tests, which run here under ASan).
check: deps build $(CHECKBUILD)/build.ninja
	$(MESON) compile -C $(CHECKBUILD)
	@if [ "$$(id -u)" -eq 0 ]; then \
		$(MAKE) deb DEB_BUILD_OPTIONS=nocheck || echo "make check: make deb failed"; fi
	SMSGUARD_PACKAGE_DIR=$$([ "$$(id -u)" -eq 0 ] && echo "$(abspath $(DIST))") \
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

# Benchmarks and soak (bench/README.md), on an optimized build of their own. Each rewrites its
# section of bench/RESULTS.md. The defaults are issue 14's; shorter runs (e.g. BENCHTIME=20
# TRIALS=2 AGENT_TRIALS=3 REQTIME=120, SOAKTIME=120) are marked as such in the results. The
# network-namespace rows of the bench need root; without it they are reported as skipped.
BENCHBUILD ?= build-bench
BENCHTIME ?= 120
TRIALS ?= 20
AGENT_TRIALS ?= 20
CLIENTS ?= 100
ROUNDS ?= 20
REQTIME ?= 1800
POLLER_INTERVAL ?= 60
SOAKTIME ?= 600
SOAK_INTERVAL ?= 50ms
SOAK_POLL ?= 200ms
SOAKBUILD ?= $(BENCHBUILD)
BENCH_CFLAGS = -std=gnu11 -O2 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Werror

$(BENCHBUILD)/build.ninja:
	$(MESON) setup $(BENCHBUILD) -Dwerror=true -Dbuildtype=debugoptimized -Dtests=false

bench-build: $(BENCHBUILD)/build.ninja
	$(MESON) compile -C $(BENCHBUILD)
	mkdir -p $(BENCHBUILD)/bench
	$(CC) $(BENCH_CFLAGS) -o $(BENCHBUILD)/bench/floor bench/floor.c \
		$$(pkg-config --cflags --libs libcurl)
	$(CC) $(BENCH_CFLAGS) -o $(BENCHBUILD)/bench/ctlload bench/ctlload.c

bench: deps bench-build
	python3 bench/run.py --smsguard $(BENCHBUILD)/src/smsguard \
		--smsguardctl $(BENCHBUILD)/src/ctl/smsguardctl --bindir $(BENCHBUILD)/bench \
		--benchtime $(BENCHTIME) --trials $(TRIALS) --agent-trials $(AGENT_TRIALS) \
		--clients $(CLIENTS) --rounds $(ROUNDS) --reqtime $(REQTIME) \
		--poller-interval $(POLLER_INTERVAL)

soak: deps $(BENCHBUILD)/build.ninja
	$(MESON) compile -C $(SOAKBUILD)
	python3 bench/soak.py --smsguard $(SOAKBUILD)/src/smsguard \
		--smsguardctl $(SOAKBUILD)/src/ctl/smsguardctl --duration $(SOAKTIME) \
		--interval $(SOAK_INTERVAL) --poll $(SOAK_POLL)

# Packages of the tracked source (tools/package.sh); lintian must find no error or warning.
deb: deps
	sh tools/package.sh deb $(PKGWORK) $(DIST)

# rpmlint (with packaging/rpm/smsguard.rpmlintrc) must find no error.
rpm: deps
	sh tools/package.sh rpm $(PKGWORK) $(DIST)

# The .deb on a real systemd booted in a throwaway container (root; tests/package).
package-check: deb
	python3 tests/package/package_check.py --dist $(DIST)

install: build
	$(MESON) install -C $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(CHECKBUILD) $(FUZZBUILD) $(BENCHBUILD) $(PKGWORK) $(DIST)
