#!/bin/sh
# meson install script: puts the configuration templates into /etc/smsguard
# (a fixed path, whatever the prefix: DESIGN.md §1). Into a staging DESTDIR,
# as packages install, always; onto a live system never over a file that is
# already there, so `make install` keeps a configuration and its credentials.
#   install-config.sh SRCDIR
set -eu
src=$1
etc="${DESTDIR:-}/etc/smsguard"

put()
{
	if [ -z "${DESTDIR:-}" ] && [ -e "$etc/$2" ]; then
		echo "Keeping $etc/$2 (already there)"
		return 0
	fi
	echo "Installing $1 to $etc/$2"
	install -m "$3" "$src/$1" "$etc/$2"
}

install -d -m 0755 "$etc"
put examples/smsguard.conf smsguard.conf 0644
# Secrets go in here: only root may read it, and smsguard refuses it otherwise.
put examples/credentials credentials 0600
