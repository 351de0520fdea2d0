# shellcheck shell=bash
# Helpers shared by the benchmarks in bench/. Source after `cd` to the repository root.
#   now; seconds START END; ratio A B; percent_over A B; best_of VALUES...
#   debian_mirror                     -> the Debian mirror apt is configured with
#   bench_basalt_binary               -> sets BASALT (publishes src/Basalt.Cli unless $BASALT_BIN is set)
#   bench_os_tree CACHE               -> sets BENCH_OS_TREE: a Basalt OS tree (debootstrap base + basalt init --root), cached
#                                        per basalt binary (made again when $BASALT changes)

now() { date +%s.%N; }
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
percent_over() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f", (a / b - 1) * 100 }'; }
best_of() { printf '%s\n' "$@" | sort -g | head -n1; }
join_by() { local IFS=$1; shift; printf '%s\n' "$*"; }
mib() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }

debian_mirror() {
  local uri
  uri=$(grep -hE '^\s*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)
  if [[ -z "$uri" ]]; then
    uri=$(grep -hE '^\s*deb\s' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)
  fi
  printf '%s\n' "${uri:?no Debian mirror found in apt sources}"
}

# The basalt CLI: $BASALT_BIN when given, else a Release publish (self-contained single file, as shipped).
bench_basalt_binary() {
  export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
  BASALT=${BASALT_BIN:-}
  if [[ -z "$BASALT" ]]; then
    local publish=${BASALT_ARTIFACTS:-$PWD/artifacts}/publish
    dotnet publish src/Basalt.Cli -c Release -o "$publish" -nologo </dev/null >/dev/null
    BASALT=$publish/basalt
  fi
}

# A Debian bookworm tree with kernel and systemd: the development cache when present (copied, never
# touched), else debootstrap into CACHE. Prints its path.
bench_debian_base() {
  local cache=$1 dev=${BASALT_DEV_ROOTFS:-/var/cache/basalt-dev/rootfs} base=$1/bookworm-kernel.rootfs
  if [[ -x "$dev/sbin/init" && -n "$(compgen -G "$dev/boot/vmlinuz-*")" ]]; then
    printf '%s\n' "$dev"
    return 0
  fi
  if [[ ! -d "$base" ]]; then
    echo "building a bookworm base with kernel and systemd with debootstrap (once; cached in $base)" >&2
    rm -rf "$base.tmp"
    debootstrap --variant=minbase --include=linux-image-amd64,systemd-sysv,udev,kmod bookworm "$base.tmp" "$(debian_mirror)" \
      >"$cache/debootstrap-kernel.log" 2>&1 || { tail -n 20 "$cache/debootstrap-kernel.log" >&2; return 1; }
    rm -rf "$base.tmp/var/cache/apt/archives/"*.deb
    mv "$base.tmp" "$base"
  fi
  printf '%s\n' "$base"
}

# A Basalt OS tree made once from the Debian base with `basalt init --root`, cached as CACHE/basalt-os.rootfs.
# Needs BASALT (bench_basalt_binary). One builder at a time; a half-made tree is never seen (made aside, renamed).
bench_os_tree() {
  local cache=$1 base
  BENCH_OS_TREE=$cache/basalt-os.rootfs
  mkdir -p "$cache"
  exec 8>"$cache/.os-tree.lock"
  flock 8
  # The tree carries basalt itself (and its initrd the mounter): made again whenever the binary differs, so a bench
  # never measures an older Basalt than the one it was given.
  local stamp
  stamp=$(sha256sum "$BASALT" | cut -d' ' -f1)
  if [[ ! -x "$BENCH_OS_TREE/usr/bin/basalt" || ! -e "$BENCH_OS_TREE/boot/vmlinuz" || ! -e "$BENCH_OS_TREE/boot/initrd" \
        || "$(cat "$BENCH_OS_TREE.basalt-sha256" 2>/dev/null)" != "$stamp" ]]; then
    if ! "$BASALT" init --help >/dev/null 2>&1; then
      echo "bench: this basalt ($BASALT) has no 'init' command: cannot make a Basalt OS tree" >&2
      flock -u 8
      return 1
    fi
    base=$(bench_debian_base "$cache")
    echo "making a Basalt OS tree: copy of $base + basalt init --root (once; cached in $BENCH_OS_TREE)" >&2
    rm -rf "$BENCH_OS_TREE.tmp"
    mkdir -p "$BENCH_OS_TREE.tmp"
    cp -a "$base/." "$BENCH_OS_TREE.tmp/"
    "$BASALT" init --root "$BENCH_OS_TREE.tmp" >"$cache/init.log" 2>&1 || { tail -n 30 "$cache/init.log" >&2; flock -u 8; return 1; }
    rm -rf "$BENCH_OS_TREE"
    mv "$BENCH_OS_TREE.tmp" "$BENCH_OS_TREE"
    printf '%s\n' "$stamp" >"$BENCH_OS_TREE.basalt-sha256"
  fi
  flock -u 8
}

# A private copy of the Basalt OS tree plus a unit that writes MARKER to /dev/ttyS0 once multi-user.target is
# reached (the bench copies only; the cached tree is left alone).
bench_marked_tree() {
  local source=$1 target=$2 marker=$3
  mkdir -p "$target"
  cp -a "$source/." "$target/"
  cat >"$target/etc/systemd/system/bench-userspace-ready.service" <<UNIT
[Unit]
Description=Benchmark marker: userspace is up
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'echo $marker >/dev/ttyS0'

[Install]
WantedBy=multi-user.target
UNIT
  mkdir -p "$target/etc/systemd/system/multi-user.target.wants"
  ln -sf ../bench-userspace-ready.service "$target/etc/systemd/system/multi-user.target.wants/bench-userspace-ready.service"
}
