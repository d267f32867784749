#!/usr/bin/env bash
# Build the knockc lab image (used by test/lab/lab.ts) and print its name.
#
#   test/lab/build-image.sh            # build if missing, print image name
#   test/lab/build-image.sh --force    # rebuild even if the tag exists
#   test/lab/build-image.sh --variant hostfw   # the host-firewall image instead
#   test/lab/build-image.sh --variant bare     # a bare Debian 12 (test/package/deb-install.test.ts)
#   test/lab/build-image.sh --variant bare-trixie   # the same, Debian 13 (knockc-bare-trixie)
#
# The image is tagged knockc-lab:TAG (TAG = short hash of packages.txt, this
# script and the Dockerfile) and knockc-lab:latest. The build is skipped when
# knockc-lab:TAG already exists.
#
# Variant hostfw (test/lab/hostfw.ts: the real ufw and firewalld as oracles):
# knockc-hostfw:TAG and knockc-hostfw:latest from packages-hostfw.txt (TAG
# hashes that file, this script and the Dockerfile); KNOCKC_HOSTFW_IMAGE plays
# the part KNOCKC_LAB_IMAGE plays below.
#
# Build methods (KNOCKC_LAB_BUILD=auto|debootstrap|dockerfile, default auto):
#   debootstrap  offline-friendly: debootstrap --variant=minbase bookworm from
#                the Debian mirror configured in /etc/apt (never hard-coded;
#                KNOCKC_LAB_MIRROR overrides), then `docker import`.
#                Needs root and debootstrap. Chosen by auto when available.
#   dockerfile   `docker build` of test/lab/Dockerfile (needs debian:bookworm-slim
#                locally or a reachable registry).
#
# If KNOCKC_LAB_IMAGE names an existing image, nothing is built and that name
# is printed. If it names a missing image, the lab image is built and also
# tagged with that name.
#
# Progress goes to stderr; the only line on stdout is the image name.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SUITE="bookworm"
# The suite whose 'deb' source in /etc/apt names the mirror (the machine is Debian 12: a
# Debian 13 image comes from the same archive, which carries every suite).
MIRROR_SUITE="bookworm"
FORCE=0
VARIANT=lab

while (($# > 0)); do
  case "$1" in
    --force) FORCE=1 ;;
    --variant) VARIANT="${2:-}"; shift ;;
    --variant=*) VARIANT="${1#--variant=}" ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "build-image.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

case "$VARIANT" in
  lab)
    REPO="knockc-lab"
    PACKAGES_FILE="$HERE/packages.txt"
    WANTED="${KNOCKC_LAB_IMAGE:-}"
    WANTED_VAR=KNOCKC_LAB_IMAGE
    ;;
  hostfw)
    REPO="knockc-hostfw"
    PACKAGES_FILE="$HERE/packages-hostfw.txt"
    WANTED="${KNOCKC_HOSTFW_IMAGE:-}"
    WANTED_VAR=KNOCKC_HOSTFW_IMAGE
    ;;
  bare)
    REPO="knockc-bare"
    PACKAGES_FILE="$HERE/packages-bare.txt"
    WANTED="${KNOCKC_BARE_IMAGE:-}"
    WANTED_VAR=KNOCKC_BARE_IMAGE
    ;;
  bare-trixie)
    REPO="knockc-bare-trixie"
    PACKAGES_FILE="$HERE/packages-bare.txt"
    WANTED="${KNOCKC_BARE_TRIXIE_IMAGE:-}"
    WANTED_VAR=KNOCKC_BARE_TRIXIE_IMAGE
    SUITE="trixie"
    ;;
  *) echo "build-image.sh: unknown variant '$VARIANT' (lab|hostfw|bare|bare-trixie)" >&2; exit 2 ;;
esac

log() { printf '[build-image] %s\n' "$*" >&2; }
die() { printf '[build-image] ERROR: %s\n' "$*" >&2; exit 1; }

command -v docker >/dev/null 2>&1 || die "docker CLI not found"
docker info >/dev/null 2>&1 || die "Docker engine not reachable (docker info failed); start dockerd first"

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

if [[ -n "$WANTED" ]] && image_exists "$WANTED"; then
  log "using existing $WANTED_VAR=$WANTED"
  echo "$WANTED"
  exit 0
fi

# Package list: non-empty lines of the package file without comments.
mapfile -t PACKAGES < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$PACKAGES_FILE" | grep -v '^$')
((${#PACKAGES[@]} > 0)) || die "no packages in $PACKAGES_FILE"

TAG="$( (cat "$PACKAGES_FILE" "$HERE/build-image.sh" "$HERE/Dockerfile"; echo "$SUITE") | sha256sum | cut -c1-12)"
IMAGE="$REPO:$TAG"

finish() {
  docker tag "$IMAGE" "$REPO:latest"
  if [[ -n "$WANTED" && "$WANTED" != "$IMAGE" ]]; then
    docker tag "$IMAGE" "$WANTED"
    IMAGE="$WANTED"
  fi
  echo "$IMAGE"
}

# One build at a time on this machine (parallel CI jobs, test workers).
LOCK="${TMPDIR:-/tmp}/$REPO-build.lock"
exec 9>"$LOCK"
flock 9

if ((FORCE == 0)) && image_exists "$IMAGE"; then
  log "$IMAGE already exists, skipping build"
  finish
  exit 0
fi

# --- mirror discovery -------------------------------------------------------
# Prints "URI<TAB>KEYRING" lines (KEYRING may be empty) for every enabled
# 'deb' source of $MIRROR_SUITE, deb822 files first, then classic one-line files.
find_mirrors() {
  local f SUITE="$MIRROR_SUITE"
  shopt -s nullglob
  for f in /etc/apt/sources.list.d/*.sources; do
    awk -v suite="$SUITE" '
      BEGIN { RS = ""; FS = "\n" }
      {
        types = ""; uris = ""; suites = ""; enabled = "yes"; signed = ""
        for (i = 1; i <= NF; i++) {
          line = $i
          if (line ~ /^[ \t]*#/) continue
          if (match(line, /^[A-Za-z0-9-]+:/)) {
            key = tolower(substr(line, 1, RLENGTH - 1))
            val = substr(line, RLENGTH + 1)
            gsub(/^[ \t]+|[ \t]+$/, "", val)
            if (key == "types") types = val
            else if (key == "uris") uris = val
            else if (key == "suites") suites = val
            else if (key == "enabled") enabled = tolower(val)
            else if (key == "signed-by") signed = val
          }
        }
        if (enabled == "no") next
        if ((" " types " ") !~ / deb /) next
        if ((" " suites " ") !~ (" " suite " ")) next
        if (signed !~ /^\//) signed = ""
        n = split(uris, u, /[ \t]+/)
        for (j = 1; j <= n; j++) if (u[j] != "") printf "%s\t%s\n", u[j], signed
      }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list; do
    [[ -f "$f" ]] || continue
    awk -v suite="$SUITE" '
      $1 != "deb" { next }
      {
        i = 2; signed = ""
        if ($2 ~ /^\[/) {
          while (i <= NF) {
            if ($i ~ /^\[?signed-by=/) { s = $i; sub(/^\[?signed-by=/, "", s); sub(/\]$/, "", s); signed = s }
            if ($i ~ /\]$/) { i++; break }
            i++
          }
        }
        if ($(i + 1) == suite) printf "%s\t%s\n", $i, (signed ~ /^\// ? signed : "")
      }' "$f"
  done
}

build_debootstrap() {
  command -v debootstrap >/dev/null 2>&1 || die "debootstrap not installed (apt-get install debootstrap)"
  [[ "$(id -u)" == 0 ]] || die "debootstrap needs root"

  local mirror keyring=""
  if [[ -n "${KNOCKC_LAB_MIRROR:-}" ]]; then
    mirror="$KNOCKC_LAB_MIRROR"
  else
    local first
    first="$(find_mirrors | head -n1)"
    [[ -n "$first" ]] || die "no 'deb ... $MIRROR_SUITE' source found in /etc/apt/sources.list{,.d/*}; set KNOCKC_LAB_MIRROR"
    mirror="${first%%$'\t'*}"
    keyring="${first#*$'\t'}"
  fi
  log "mirror: $mirror${keyring:+ (keyring $keyring)}"

  local rootfs
  rootfs="$(mktemp -d "/var/tmp/$REPO-rootfs.XXXXXX")"
  # shellcheck disable=SC2064
  trap "cleanup_rootfs '$rootfs'" EXIT

  local includes
  includes="$(IFS=,; echo "${PACKAGES[*]}")"
  log "debootstrap --variant=minbase --include=$includes $SUITE"
  local args=(--variant=minbase --components=main "--include=$includes")
  [[ -n "$keyring" && -f "$keyring" ]] && args+=("--keyring=$keyring")
  if ! debootstrap "${args[@]}" "$SUITE" "$rootfs" "$mirror" >"$rootfs.log" 2>&1; then
    tail -n 40 "$rootfs.log" >&2
    die "debootstrap failed (full log: $rootfs.log)"
  fi
  rm -f "$rootfs.log"

  # Slim down: package caches and lists are not needed at run time.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
         "$rootfs"/var/cache/apt/*.bin "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* \
         "$rootfs"/usr/share/locale/* "$rootfs"/usr/share/info/*

  log "docker import -> $IMAGE"
  tar --numeric-owner -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["sleep", "infinity"]' \
    --change "LABEL knockc.lab.tag=$TAG" \
    - "$IMAGE" >/dev/null
}

cleanup_rootfs() {
  local rootfs="$1" m
  # debootstrap mounts proc/sys inside the target; never rm -rf through a mount.
  if [[ -d "$rootfs" ]]; then
    for m in $(awk -v r="$rootfs" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r); do
      umount -l "$m" 2>/dev/null || true
    done
    if awk -v r="$rootfs" 'index($2, r) == 1 { found = 1 } END { exit !found }' /proc/mounts; then
      log "warning: mounts left under $rootfs, not removing it"
    else
      rm -rf "$rootfs"
    fi
  fi
}

build_dockerfile() {
  log "docker build $HERE -> $IMAGE"
  docker build --build-arg "PACKAGES=$(basename "$PACKAGES_FILE")" \
    --label "knockc.lab.tag=$TAG" -t "$IMAGE" "$HERE" >&2
}

START=$SECONDS
METHOD="${KNOCKC_LAB_BUILD:-auto}"
if [[ "$METHOD" == auto ]]; then
  if command -v debootstrap >/dev/null 2>&1 && [[ "$(id -u)" == 0 ]]; then
    METHOD=debootstrap
  else
    METHOD=dockerfile
  fi
fi
case "$METHOD" in
  debootstrap) build_debootstrap ;;
  dockerfile) build_dockerfile ;;
  *) die "unknown KNOCKC_LAB_BUILD=$METHOD (auto|debootstrap|dockerfile)" ;;
esac
log "built $IMAGE with $METHOD in $((SECONDS - START)) s"
finish
# Drop untagged earlier lab images (ignored while a container still uses one).
docker image prune -f --filter "label=knockc.lab.tag" >/dev/null 2>&1 || true
