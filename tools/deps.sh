#!/bin/sh
# Installs the packages that are missing: deps.sh DEB_PKG… -- RPM_PKG…
# apt-get on Debian/Ubuntu, dnf on Fedora/RHEL; as root, or through sudo.
# DEPS_NO_SERVICES names packages installed as test tools only (prometheus,
# its node exporter): Debian starts and enables their services on install,
# so a package of that list that this run installed is stopped and disabled.
set -eu
deb=""
rpm=""
side=deb
for p in "$@"; do
	if [ "$p" = "--" ]; then side=rpm; continue; fi
	if [ $side = deb ]; then deb="$deb $p"; else rpm="$rpm $p"; fi
done

if [ "$(id -u)" -eq 0 ]; then
	sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
	sudo="sudo -n"
else
	sudo="none"
fi

# Stops and disables the service of each package named in DEPS_NO_SERVICES.
# Without systemd the postinst's invoke-rc.d usually starts nothing (no
# runlevel, or a policy-rc.d refusing); the init script stops by pidfile.
quiet_services() {
	for p in $1; do
		case " ${DEPS_NO_SERVICES:-} " in
		*" $p "*) ;;
		*) continue ;;
		esac
		if [ -d /run/systemd/system ]; then
			$sudo systemctl disable --now "$p.service" >/dev/null 2>&1 || true
		elif [ -x "/etc/init.d/$p" ]; then
			$sudo invoke-rc.d "$p" stop >/dev/null 2>&1 || true
			$sudo update-rc.d "$p" disable >/dev/null 2>&1 || true
		fi
	done
}

if command -v dpkg-query >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
	missing=""
	for p in $deb; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && exit 0
	if [ "$sudo" = none ]; then
		echo "deps: missing packages:$missing" >&2
		echo "deps: run as root (or with sudo): apt-get install$missing" >&2
		exit 1
	fi
	echo "deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	# An old package list cannot find new packages; update once, then install.
	# Another apt-get may hold the lock for a while: wait for it rather than fail.
	$sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
	$sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing >/dev/null
	quiet_services "$missing"
elif command -v rpm >/dev/null 2>&1 && command -v dnf >/dev/null 2>&1; then
	missing=""
	for p in $rpm; do
		rpm -q "$p" >/dev/null 2>&1 || missing="$missing $p"
	done
	[ -z "$missing" ] && exit 0
	if [ "$sudo" = none ]; then
		echo "deps: missing packages:$missing" >&2
		echo "deps: run as root (or with sudo): dnf install$missing" >&2
		exit 1
	fi
	echo "deps: installing$missing"
	$sudo dnf install -y -q $missing
else
	echo "deps: neither apt-get nor dnf found; install by hand:" >&2
	echo "  Debian names:$deb" >&2
	exit 1
fi
