#!/bin/sh
# apt-ensure.sh build|peers — install the Debian packages ikesrv needs, only those missing.
#   build: what compiling the Cython extensions and the venv needs
#   peers: the real peers the test suite starts (strongSwan, ike-scan, slapd, tshark,
#          Prometheus, ...), User-Mode Linux (a kernel with ESP for tests/kernel, run
#          by tests/harness/esp-vm.sh), systemd, nftables and strace (tests/deploy:
#          systemd-analyze, nft -c, the sandbox trace) and libreswan's pluto, unpacked beside strongSwan
#          because the two packages conflict; and samba.schema (sambaNTPassword for the test
#          directory), taken from Debian's samba package without installing it, cached
#          where tests/harness/slapd.py looks ($IKESRV_TEST_CACHE, default
#          /var/cache/ikesrv-tests).
# Idempotent; needs root only when something is missing.
set -eu
BUILD="python3-venv python3-dev gcc libssl-dev"
PEERS="strongswan strongswan-swanctl strongswan-pki libcharon-extra-plugins
libstrongswan-extra-plugins ike-scan tshark tcpdump iproute2 iptables iputils-ping procps
slapd ldap-utils openssl user-mode-linux kmod systemd nftables strace"
# prometheus is installed without its Recommends (node-exporter)
PEERS_NORECOMMENDS="prometheus"
PLUTO_LIBS="libnss3 libnss3-tools libnspr4 libunbound8 libldns3 libevent-core-2.1-7
libevent-pthreads-2.1-7 libcap-ng0 libaudit1 libcurl3-nss dns-root-data"
LIBRESWAN_ROOT=${LIBRESWAN_ROOT:-/opt/ikesrv-libreswan}
TEST_CACHE=${IKESRV_TEST_CACHE:-/var/cache/ikesrv-tests}

missing() {
    out=""
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || out="$out $p"
    done
    echo "$out"
}

apt_install() {  # [--no-install-recommends] pkgs...
    export DEBIAN_FRONTEND=noninteractive
    # keep package postinst scripts from starting system daemons (slapd, prometheus)
    made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
        made_policy=1
    fi
    apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null || true
    apt-get -o DPkg::Lock::Timeout=600 install -y -q "$@" >/dev/null
    [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
    return 0
}

case "${1:-}" in
build)
    # the interpreter make builds with ($PYTHON); one that is not Debian's (pyenv, ...)
    # brings its own venv and headers
    need=""
    py=$(command -v "${PYTHON:-python3}" || true)
    case "$(readlink -f "${py:-/nonexistent}")" in
    /usr/bin/python3*) need=$(missing $BUILD) ;;
    *) need=$(missing gcc libssl-dev) ;;
    esac
    if [ -n "$need" ]; then echo "installing build packages:$need"; apt_install $need; fi
    ;;
peers)
    need=$(missing $PEERS)
    if [ -n "$need" ]; then echo "installing test peers:$need"; apt_install $need; fi
    need=$(missing $PEERS_NORECOMMENDS)
    if [ -n "$need" ]; then echo "installing:$need"; apt_install --no-install-recommends $need; fi
    if [ ! -x "$LIBRESWAN_ROOT/usr/libexec/ipsec/pluto" ]; then
        echo "unpacking libreswan into $LIBRESWAN_ROOT (it conflicts with strongSwan as a package)"
        need=$(missing $PLUTO_LIBS)
        [ -n "$need" ] && apt_install $need
        tmp=$(mktemp -d)
        (cd "$tmp" && apt-get download libreswan >/dev/null 2>&1)
        mkdir -p "$LIBRESWAN_ROOT" && dpkg -x "$tmp"/libreswan_*.deb "$LIBRESWAN_ROOT"
        rm -rf "$tmp"
    fi
    if [ ! -s "$TEST_CACHE/samba.schema" ]; then
        echo "caching samba.schema in $TEST_CACHE (from Debian's samba package, not installed)"
        mkdir -p "$TEST_CACHE"
        tmp=$(mktemp -d); chmod 755 "$tmp"
        if (cd "$tmp" && apt-get download samba >/dev/null 2>&1); then
            dpkg-deb --fsys-tarfile "$tmp"/samba_*.deb | \
                tar -xO ./usr/share/doc/samba/examples/LDAP/samba.schema > "$TEST_CACHE/samba.schema.part" \
                && mv "$TEST_CACHE/samba.schema.part" "$TEST_CACHE/samba.schema"
        else
            echo "apt-get download samba failed: the LDAP tests will try again" >&2
        fi
        rm -rf "$tmp" "$TEST_CACHE/samba.schema.part"
    fi
    ;;
*) echo "usage: $0 build|peers" >&2; exit 2 ;;
esac
