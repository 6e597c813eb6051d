#!/usr/bin/env bash
# The fresh-machine check: proves that the README's run command works on a
# minimal Debian 12 with nothing installed but what the command installs.
#   1. builds a minimal Debian 12 root with debootstrap (--variant=minbase,
#      from the Debian archive this machine's apt uses);
#   2. clones this repository's committed HEAD into it (uncommitted changes are
#      not part of the check: a user gets what is committed);
#   3. runs the command there under chroot, as root, with a clean environment
#      (env -i: no PATH additions, no PYTHONPATH, no compiler cache).
# Exits with the command's status. Run as root (CI is):
#   ./scripts/check_fresh_machine.sh                 # the README's run command, ./scripts/demo.sh
#   ./scripts/check_fresh_machine.sh --test          # the README's test command, ./scripts/test.sh
#   ./scripts/check_fresh_machine.sh --keep          # keep the root (build-fresh/root) to look inside
# Needs network access to Debian's archive (and PyPI for --test). Takes about
# one minute for debootstrap plus the command's own time (docs/install.md).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO="$(pwd)"

COMMAND=./scripts/demo.sh
KEEP=0
ROOT="$REPO/build-fresh/root"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --test) COMMAND=./scripts/test.sh ;;
    --keep) KEEP=1 ;;
    --root) ROOT="$(realpath -m "$2")"; shift ;;
    -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "check_fresh_machine: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

say() { printf '\n==== fresh machine: %s\n' "$*"; }

if [[ "$(id -u)" -ne 0 ]]; then
  echo "check_fresh_machine: must run as root (debootstrap and chroot need it)" >&2
  exit 1
fi
if [[ -n "$(git status --porcelain --untracked-files=no)" ]]; then
  echo "check_fresh_machine: note: uncommitted changes are not checked (the root gets HEAD $(git rev-parse --short HEAD))"
fi

# The archive apt uses here: the first http(s) URI serving bookworm in the
# deb822 sources or sources.list, else Debian's redirector.
mirror() {
  local uri=""
  if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
    uri="$(awk '/^URIs:/ {u=$2} /^Suites:/ && / bookworm( |$)/ && u ~ /^https?:/ {print u; exit}' \
      /etc/apt/sources.list.d/*.sources)"
  fi
  if [[ -z "$uri" && -f /etc/apt/sources.list ]]; then
    uri="$(awk '$1 == "deb" && $2 ~ /^https?:/ && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list)"
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}
MIRROR="$(mirror)"
SECURITY="${MIRROR%/debian}/debian-security"
[[ "$MIRROR" == */debian ]] || SECURITY=http://deb.debian.org/debian-security

unmount_all() {
  # Deepest first; lazy, so a busy mount never blocks the cleanup.
  local m
  for m in $(findmnt -rn -o TARGET | grep -F "$ROOT/" | sort -r); do
    umount -l "$m" || true
  done
}
cleanup() {
  unmount_all
  if [[ $KEEP -eq 0 && -d "$ROOT" ]]; then
    # --one-file-system: never follows a mount that survived into the host.
    rm -rf --one-file-system "$ROOT"
  fi
}
trap cleanup EXIT

if ! command -v debootstrap >/dev/null 2>&1; then
  say "installing debootstrap on this machine"
  DEBIAN_FRONTEND=noninteractive apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap
fi

unmount_all
rm -rf --one-file-system "$ROOT"
mkdir -p "$(dirname "$ROOT")"

say "debootstrap --variant=minbase bookworm from $MIRROR"
start=$SECONDS
debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" > "$ROOT.debootstrap.log" 2>&1 || {
  tail -n 30 "$ROOT.debootstrap.log"
  echo "check_fresh_machine: debootstrap failed (log: $ROOT.debootstrap.log)" >&2
  exit 1
}
echo "minimal root ready in $((SECONDS - start)) s: $(du -sh "$ROOT" | cut -f1)"

# What a fresh Debian 12 install has: the release, its updates and security.
cat > "$ROOT/etc/apt/sources.list" <<SOURCES
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb $SECURITY bookworm-security main
SOURCES
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
# This site's network settings, which are not part of what Quanta installs:
# local CA certificates (a TLS-inspecting egress proxy) and pip's site
# configuration, so that PyPI answers inside the root as it does here. Debian's
# ca-certificates, if a package pulls it in, rebuilds its bundle from both places.
if compgen -G "/usr/local/share/ca-certificates/*" >/dev/null; then
  mkdir -p "$ROOT/usr/local/share/ca-certificates"
  cp -a /usr/local/share/ca-certificates/. "$ROOT/usr/local/share/ca-certificates/"
fi
if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
  mkdir -p "$ROOT/etc/ssl/certs"
  cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/"
fi
[[ -f /etc/pip.conf ]] && cp /etc/pip.conf "$ROOT/etc/pip.conf"

# The clone lives in the home of the chroot's root user (from its passwd).
GUEST_HOME="$(awk -F: '$1 == "root" { print $6 }' "$ROOT/etc/passwd")"
[[ -n "$GUEST_HOME" ]] || { echo "no root user in $ROOT/etc/passwd" >&2; exit 1; }
GUEST_DIR="$GUEST_HOME/quanta"
say "cloning $(git rev-parse --short HEAD) into $GUEST_DIR"
git clone --quiet --no-hardlinks "$REPO" "$ROOT$GUEST_DIR"

mount -t proc proc "$ROOT/proc"
mount -t tmpfs tmpfs "$ROOT/dev/shm"

say "chroot: $COMMAND (clean environment, as root)"
start=$SECONDS
set +e
env -i HOME="$GUEST_HOME" LANG=C.UTF-8 TERM=dumb \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  chroot "$ROOT" /bin/bash -c "cd $GUEST_DIR && $COMMAND"
status=$?
set -e
say "$COMMAND exited with status $status after $((SECONDS - start)) s"
exit $status
