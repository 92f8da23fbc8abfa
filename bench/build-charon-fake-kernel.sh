#!/bin/bash
# Build strongSwan with its load-tester plugin into $PREFIX (default
# /opt/ikesrv-strongswan-lt), for bench e2e's "charon fake" rows: charon with
# the plugin's fake_kernel installs no SA at all, as ikesrv's kernel backend
# "none" does, so the two responders do the same work per SA. Debian does not
# ship the plugin; the source is the upstream tarball inside Debian's own
# source package of the installed version, fetched with a private apt state
# (deb-src lines derived from the archive that serves strongswan-charon), so
# /etc/apt and the system's package lists stay untouched. Root; a few minutes.
set -euo pipefail
PREFIX=${PREFIX:-/opt/ikesrv-strongswan-lt}
if [ -x "$PREFIX/libexec/ipsec/charon" ] \
        && [ -f "$PREFIX/lib/ipsec/plugins/libstrongswan-load-tester.so" ]; then
    echo "strongSwan with load-tester already in $PREFIX"; exit 0
fi
version=$(dpkg-query -W -f '${Version}' strongswan-charon 2>/dev/null | sed 's/-.*//')
[ -n "$version" ] || { echo "strongswan-charon is not installed (make test installs it)" >&2; exit 1; }
apt-get -o DPkg::Lock::Timeout=600 install -y -q build-essential pkg-config libgmp-dev \
    libssl-dev dpkg-dev bzip2 >/dev/null
work=$(mktemp -d /tmp/ikesrv-strongswan-build.XXXXXX)
chmod 755 "$work"  # apt's download sandbox user writes here
trap 'rm -rf "$work"' EXIT
state=$work/apt
mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$state/parts"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
signed=""; [ -f "$keyring" ] && signed="[signed-by=$keyring] "
# "500 http://host/debian bookworm/main amd64 Packages" -> "deb-src http://host/debian bookworm main"
apt-cache policy strongswan-charon | awk -v signed="$signed" '
    $2 ~ /^[a-z+]+:\/\// && $NF == "Packages" { split($3, part, "/");
        print "deb-src " signed $2 " " part[1] " " part[2] }' | sort -u > "$state/sources.list"
[ -s "$state/sources.list" ] || { echo "no apt source serves strongswan-charon" >&2; exit 1; }
private=(-o "Dir::Etc::SourceList=$state/sources.list" -o "Dir::Etc::SourceParts=$state/parts"
         -o "Dir::State::Lists=$state/lists" -o "Dir::Cache=$state/cache")
apt-get "${private[@]}" -q update >/dev/null
cd "$work"
# only the upstream tarball matters: a Debian diff no longer on the mirror is fine
apt-get "${private[@]}" source --download-only "strongswan=$(dpkg-query -W -f '${Version}' \
    strongswan-charon)" >/dev/null 2>&1 || apt-get "${private[@]}" source --download-only \
    strongswan >/dev/null 2>&1 || true
tarball=$(ls strongswan_"$version".orig.tar.* 2>/dev/null | head -1)
[ -n "$tarball" ] || { echo "could not fetch strongSwan $version's source" >&2; exit 1; }
tar xf "$tarball"
cd "strongswan-$version"
./configure --prefix="$PREFIX" --sysconfdir="$PREFIX/etc" --with-piddir=/run \
    --enable-load-tester --enable-openssl --enable-curve25519 --enable-gcm --enable-aesni \
    --enable-md4 --enable-eap-identity --enable-eap-mschapv2 --enable-xauth-generic \
    --disable-stroke --disable-pki >/dev/null
make -j"$(nproc)" >/dev/null
make install >/dev/null
echo "built strongSwan $version with load-tester in $PREFIX"
