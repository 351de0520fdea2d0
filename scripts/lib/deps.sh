# shellcheck shell=bash
# The Debian packages Basalt's tests and demo need: one list, one place.
# Sourced by .ci/run, scripts/test and scripts/demo.

BASALT_APT_PACKAGES=(
  # disks and filesystems
  e2fsprogs dosfstools mtools squashfs-tools gdisk fdisk util-linux cryptsetup-bin
  # boot and images
  grub-efi-amd64-bin grub-pc-bin grub-common xorriso cpio zstd busybox-static
  # virtual machines for the end-to-end tier
  qemu-system-x86 qemu-utils ovmf swtpm swtpm-tools
  # OCI: a local registry, reference tools for interop tests, htpasswd for basic auth
  docker-registry skopeo umoci apache2-utils
  # rootfs for the benchmark and the demo
  debootstrap
  # misc used by scripts (curl to wait for the registry, /usr/bin/time for peak RSS)
  ca-certificates curl time
)

# Prints the packages from the list that are not installed.
basalt_missing_packages() {
  local package status
  for package in "${BASALT_APT_PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    if [[ "$status" != "install ok installed" ]]; then
      printf '%s\n' "$package"
    fi
  done
}

# Installs whatever is missing. Fast (one dpkg-query per package, no apt-get) when all is there.
# As non-root it only reports what is missing; the tests then fail with a message naming the tool.
basalt_ensure_packages() {
  if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps: not a Debian system, not installing packages" >&2
    return 0
  fi
  local missing
  mapfile -t missing < <(basalt_missing_packages)
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  if [[ $(id -u) -ne 0 ]]; then
    echo "deps: missing packages (run as root to install): ${missing[*]}" >&2
    return 0
  fi
  echo "deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update </dev/null
  apt-get install -y --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}" </dev/null
}
