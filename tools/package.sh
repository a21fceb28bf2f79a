#!/bin/sh
# make deb / make rpm: builds the packages from this source tree.
#   package.sh deb|rpm WORKDIR DISTDIR
# The source is what git tracks, as it is in the work tree (without git: the
# tree minus build directories), in smsguard-VERSION.tar.gz. The .deb is
# built by dpkg-buildpackage from packaging/debian and checked with lintian
# (errors and warnings fail; pedantic notes are shown); the .rpm by rpmbuild
# from packaging/rpm/smsguard.spec and checked with rpmlint (errors fail).
# Everything made ends up in DISTDIR.
set -eu

what=$1
work=$(mkdir -p "$2" && cd "$2" && pwd)
dist=$(mkdir -p "$3" && cd "$3" && pwd)
version=$(sed -n "s/^  version : '\([^']*\)',$/\1/p" meson.build)
if [ -z "$version" ]; then
	echo "package: no version in meson.build" >&2
	exit 1
fi
name=smsguard-$version

# tarball OUT.tar.gz: the source tree under smsguard-VERSION/.
tarball()
{
	rm -rf "$work/src"
	mkdir -p "$work/src/$name"
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		# Tracked files with their work-tree content; one deleted but not yet
		# committed is left out.
		git ls-files -z | xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
			tar --null -T - -cf - | tar -C "$work/src/$name" -xf -
		stamp=$(git log -1 --format=%ct 2>/dev/null || date +%s)
	else
		tar --exclude='./build*' --exclude=./dist --exclude=./.git -cf - . |
			tar -C "$work/src/$name" -xf -
		stamp=$(date +%s)
	fi
	tar -C "$work/src" --sort=name --owner=0 --group=0 --numeric-owner \
		--mtime="@$stamp" -cf - "$name" | gzip -n9 >"$1"
	rm -rf "$work/src"
}

deb()
{
	dv=$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)
	case $dv in
	"$version"-*) ;;
	*)
		echo "package: packaging/debian/changelog is at $dv but meson.build at" \
			"$version: add a changelog entry (dch -v $version-1)" >&2
		exit 1
		;;
	esac
	# Nothing stale may pass for this build's result if it fails.
	rm -f "$dist"/smsguard_* "$dist"/smsguard-dbgsym_*
	rm -rf "$work/deb"
	mkdir -p "$work/deb"
	tarball "$work/deb/smsguard_$version.orig.tar.gz"
	tar -C "$work/deb" -xzf "$work/deb/smsguard_$version.orig.tar.gz"
	cp -R packaging/debian "$work/deb/$name/debian"
	(cd "$work/deb/$name" && dpkg-buildpackage --no-sign -jauto)
	find "$work/deb" -maxdepth 1 -type f -name 'smsguard*' -exec mv {} "$dist/" \;
	changes=$(ls "$dist"/smsguard_"$dv"_*.changes)
	echo "package: lintian $changes"
	lintian --fail-on error,warning --display-info --pedantic "$changes"
	ls -l "$dist"/*.deb
}

rpm_()
{
	rv=$(sed -n 's/^Version:[[:space:]]*//p' packaging/rpm/smsguard.spec)
	if [ "$rv" != "$version" ]; then
		echo "package: packaging/rpm/smsguard.spec is at $rv but meson.build at" \
			"$version" >&2
		exit 1
	fi
	rm -f "$dist"/smsguard-*.rpm
	rm -rf "$work/rpm"
	mkdir -p "$work/rpm/SOURCES"
	tarball "$work/rpm/SOURCES/$name.tar.gz"
	# Where rpm does not know the installed packages (Debian's rpm), the build
	# dependencies cannot be checked by it: make deps has installed them.
	nodeps=
	if ! rpm -q --whatprovides 'pkgconfig(libuv)' >/dev/null 2>&1; then
		nodeps=--nodeps
	fi
	rpmbuild -ba $nodeps --define "_topdir $work/rpm" packaging/rpm/smsguard.spec
	find "$work/rpm/RPMS" "$work/rpm/SRPMS" -type f -name '*.rpm' -exec cp {} "$dist/" \;
	echo "package: rpmlint"
	rpmlint -r packaging/rpm/smsguard.rpmlintrc packaging/rpm/smsguard.spec \
		"$dist"/smsguard-*.rpm
	ls -l "$dist"/*.rpm
}

case $what in
deb) deb ;;
rpm) rpm_ ;;
*)
	echo "usage: package.sh deb|rpm WORKDIR DISTDIR" >&2
	exit 2
	;;
esac
