#!/bin/sh
# Installs the packages that are missing: deps.sh DEB_PKG… -- RPM_PKG…
# apt-get on Debian/Ubuntu, dnf on Fedora/RHEL; as root, or through sudo.
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
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
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
