#!/bin/sh
# Rebuilds ../var/lib/rpm/rpmdb.sqlite: a real rpm database written by rpm
# itself (Debian's rpm 4.18 package: apt-get install rpm). Two tiny
# packages (one with an epoch, one noarch) and a gpg-pubkey entry, which the
# cataloger must skip.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
mkdir -p "$w/db" "$w/gnupg"
chmod 700 "$w/gnupg"
for spec in "$here"/*.spec; do
	rpmbuild --define "_topdir $w/top" -bb "$spec" >/dev/null
done
rpm --initdb --dbpath "$w/db"
rpm -i --justdb --nodeps --noscripts --ignorearch --ignoreos --dbpath "$w/db" "$w"/top/RPMS/*/*.rpm
GNUPGHOME=$w/gnupg gpg --batch --no-default-keyring \
	--keyring /usr/share/keyrings/debian-archive-bookworm-stable.gpg --export --armor >"$w/key.asc"
rpm --import --dbpath "$w/db" "$w/key.asc"
python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('VACUUM'); c.execute('PRAGMA wal_checkpoint(TRUNCATE)'); c.close()" "$w/db/rpmdb.sqlite"
cp "$w/db/rpmdb.sqlite" "$here/../var/lib/rpm/rpmdb.sqlite"
