#!/bin/bash
# esp-vm.sh — run a command under a Linux kernel that has ESP, on a host whose kernel
# has XFRM netlink but no ESP/AEAD (states fail with "Requested type not found").
#
# The kernel is Debian's User-Mode Linux (package user-mode-linux; `make lab`, i.e.
# tests/harness/apt-ensure.sh peers, installs it): an ordinary process, no KVM, no disk
# image. The guest's "/" is the host's root through hostfs, READ-ONLY; the working
# directory (and each --rw DIR) is mounted read-write, /tmp /run /dev/shm /var/tmp are
# fresh tmpfs. The guest has no network device: only the namespaces and veths the
# command makes. Modules (esp4/6, gcm, cbc, hmac, chacha20poly1305, veth, tun ...) come
# from /usr/lib/uml/modules and load on demand too. iptables inside is the -legacy
# flavour (this kernel has no nf_tables for ip/ip6), first in PATH under plain names.
#
#   esp-vm.sh run [--mem SIZE] [--timeout SEC] [--rw DIR]... [--] CMD...
#       CMD runs as root in the guest with the caller's environment and working
#       directory; stdin is /dev/null; its stdout+stderr are this script's stdout.
#       Exit status: CMD's; 124 timed out; 125 the guest did not report; 130 interrupted.
#   esp-vm.sh available
#       exit 0 when the UML kernel is installed, else 1 with the reason on stderr.
#
# Stops only the UML process it started (by PID); keeps nothing after it returns.
set -u

SELF=$(readlink -f "${BASH_SOURCE[0]}")
UML=${ESPVM_KERNEL:-/usr/bin/linux.uml}
UML_MODULES=/usr/lib/uml/modules
# lines UML prints on every boot and power-off that say nothing about the command
NOISE='^(mmapper_init - find_iomem failed|Failed to initialize ubd device 0 .*|SELinux: .*|sysrq: Power Off|reboot: Power down|Checking that ptrace can change system call numbers...OK|Checking syscall emulation for ptrace...OK|Checking environment variables for a tempdir...none found|Checking if /dev/shm is on tmpfs...OK|Checking PROT_EXEC mmap in /dev/shm...OK|.*: No such file or directory$)'

die() { echo "esp-vm: $*" >&2; exit 125; }

available() {
    [ -x "$UML" ] || { echo "esp-vm: no User-Mode Linux kernel at $UML (Debian package user-mode-linux)" >&2; return 1; }
    [ -d "$UML_MODULES" ] || { echo "esp-vm: no UML modules in $UML_MODULES" >&2; return 1; }
    return 0
}

# ------------------------------------------------------------------ host side --------
host_run() {
    local mem=1024M tmo=600 rw=()
    while [ $# -gt 0 ]; do
        case "$1" in
            --mem) mem=$2; shift 2 ;;
            --timeout) tmo=$2; shift 2 ;;
            --rw) rw+=("$(readlink -f "$2")"); shift 2 ;;
            --) shift; break ;;
            -*) die "unknown option $1" ;;
            *) break ;;
        esac
    done
    [ $# -gt 0 ] || die "run: no command"
    available || exit 125

    local rd
    rd=$(mktemp -d /tmp/esp-vm.XXXXXX) || die "mktemp failed"
    chmod 755 "$rd"
    # what the guest runs: the caller's environment, directory and command
    export -p | grep -vE '^declare -x (OLDPWD|PWD|SHLVL|_|TERM|TMPDIR|TMP|TEMP)=' > "$rd/env.sh"
    { printf 'cd %q || exit 125\nexec' "$PWD"; printf ' %q' "$@"; printf '\n'; } > "$rd/cmd.sh"
    printf '%s\n' "$PWD" "${rw[@]}" > "$rd/rw.list"

    # UML maps its memory from a file in TMPDIR with PROT_EXEC: /dev/shm unless noexec
    local shm=/dev/shm
    if [ ! -w "$shm" ] || findmnt -no OPTIONS --target "$shm" 2>/dev/null | grep -qw noexec; then
        shm=/tmp
    fi
    mkfifo "$rd/console"
    grep --line-buffered -vE "$NOISE" < "$rd/console" &
    local filter=$!
    TMPDIR=$shm timeout -k 10 "$tmo" "$UML" \
        mem="$mem" root=/dev/root rootfstype=hostfs rootflags=/ ro \
        uml_dir="$rd/uml" umid=espvm$$ con=null con0=null,fd:1 ssl=null \
        loglevel=1 quiet init="$SELF" ESPVM_RUNDIR="$rd" -- __guest \
        </dev/null >"$rd/console" 2>"$rd/uml.stderr" &
    local uml=$! rc urc interrupted=0
    trap 'interrupted=1; kill -TERM $uml 2>/dev/null' INT TERM
    while :; do
        wait $uml; urc=$?
        kill -0 $uml 2>/dev/null || break
    done
    trap - INT TERM
    wait $filter
    if [ -f "$rd/rc" ]; then
        rc=$(cat "$rd/rc")
    elif [ $interrupted = 1 ]; then
        echo "esp-vm: interrupted" >&2; rc=130
    elif [ "$urc" = 124 ] || [ "$urc" = 137 ]; then
        echo "esp-vm: timed out after ${tmo}s" >&2; rc=124
    else
        echo "esp-vm: the guest ended without an exit status (UML exit $urc)" >&2
        grep -vE "$NOISE" "$rd/uml.stderr" | tail -20 >&2
        rc=125
    fi
    rm -rf "$rd"
    return "$rc"
}

# ------------------------------------------------------------------ guest side -------
# PID 1 of the guest, with the host's root (read-only) as "/".
guest() {
    export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    local rd=/run/esp-vm rc=125 d
    mountpoint -q /proc || mount -t proc proc /proc
    mountpoint -q /sys || mount -t sysfs sysfs /sys
    mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
    mount -t tmpfs -o mode=755 tmpfs /run
    mkdir -p $rd && mount -t hostfs -o "$ESPVM_RUNDIR" none $rd
    mount -t tmpfs -o mode=1777 tmpfs /tmp
    mkdir -p /dev/shm && mount -t tmpfs -o mode=1777 tmpfs /dev/shm
    mkdir -p /dev/pts && mount -t devpts -o ptmxmode=666 devpts /dev/pts
    mount -t tmpfs -o mode=755 tmpfs /var/tmp 2>/dev/null
    while IFS= read -r d; do
        case "$d" in ""|/|/tmp|/run|/dev|/dev/*|/proc|/proc/*|/sys|/sys/*|/var/tmp) continue ;; esac
        mkdir -p "$d" 2>/dev/null; mount -t hostfs -o "$d" none "$d" || echo "esp-vm: cannot mount $d read-write" >&2
    done < $rd/rw.list
    # modprobe looks in ROOT/lib/modules/$(uname -r): give it the UML tree as ROOT
    mkdir -p /run/esp-vm-mod/lib /run/esp-vm-bin
    ln -s "$UML_MODULES" /run/esp-vm-mod/lib/modules
    printf '#!/bin/sh\nexec /usr/sbin/modprobe -d /run/esp-vm-mod "$@"\n' > /run/esp-vm-bin/modprobe
    chmod 755 /run/esp-vm-bin/modprobe
    echo /run/esp-vm-bin/modprobe > /proc/sys/kernel/modprobe
    /run/esp-vm-bin/modprobe -a ipv6 xfrm_user esp4 esp6 aes_generic gcm ghash-generic ctr \
        cbc hmac sha512_generic authenc authencesn seqiv echainiv chacha_generic \
        poly1305_generic chacha20poly1305 veth tun 2>/dev/null
    local t
    for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
        [ -x /usr/sbin/$t-legacy ] && ln -sf /usr/sbin/$t-legacy /run/esp-vm-bin/$t
    done
    ip link set lo up
    stty -onlcr 2>/dev/null   # the console keeps "\n" as is
    ( set +u; . $rd/env.sh; export HOME=${HOME:-/root} PATH=/run/esp-vm-bin:$PATH
      exec bash $rd/cmd.sh ) </dev/null 2>&1
    rc=$?
    echo "$rc" > $rd/rc
    sync
    umount $rd 2>/dev/null
    echo o > /proc/sysrq-trigger   # power off
    sleep 10
}

case "${1:-}" in
    run) shift; host_run "$@" ;;
    available) available ;;
    __guest) guest ;;
    *) sed -n '2,24p' "$SELF" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
