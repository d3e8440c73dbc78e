#!/usr/bin/env bash
# Proves the README on a fresh machine: makes a clean Debian 12 root (debootstrap bookworm),
# gives it only what a fresh machine of ours has (this machine's apt configuration, resolver and
# local CA certificates, a copy of /usr/local/go, then git and ca-certificates from apt), mounts
# /proc, /sys, /dev, /dev/pts, /dev/shm and /dev/hugepages into it, clones the repo inside and
# runs the commands of the README's first code block there with CI=true, as CI does.
#
# Usage (as root): scripts/fresh-check.sh [REPO]
#   REPO defaults to the repository this script lives in; HEAD of its current branch is checked
#   (committed work only). The last lines are a PASS/FAIL summary with timings; exit 0 on PASS.
#
# Environment:
#   FRESH_CACHE  cache directory (default /var/cache/dpdk-doctor-fresh); the pristine
#                debootstrap root is kept there and copied (cp -a) for each run
#   FRESH_KEEP=1 keep the run's root afterwards (unmounted) for inspection
#
# No services start in the root (a chroot has no init; policy-rc.d says so to dpkg): the tests
# start their own private Open vSwitch. The root shares this machine's kernel, network and huge
# pages, so the host's /tmp/dpdk-doctor-ovstest.lock is bound into it: its OVS-DPDK tests wait
# for this machine's (internal/ovstest holds a flock on that file).
set -euo pipefail

start=$(date +%s)
script_dir=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "${1:-$script_dir/..}" && git rev-parse --show-toplevel)
cache=${FRESH_CACHE:-/var/cache/dpdk-doctor-fresh}
pristine=$cache/bookworm
lockfile=/tmp/dpdk-doctor-ovstest.lock
inpath=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

run=""         # this run's directory under $cache
root=""        # this run's root ($run/root)
boot=""        # a debootstrap in progress
child=""       # the foreground job's pid
status=1       # overall result; 0 only when every step passed
summary=()     # one line per step, printed last
failed=""      # the first step that failed

say() { printf '== %s\n' "$*"; }
note() { summary+=("$(printf '  %-5s %5ss  %s%s' "$1" "$3" "$2" "${4:+  ($4)}")"); }

# mounts_under DIR: the mount points at or below DIR, most recent first.
mounts_under() {
  awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | tac
}

# pids_inside DIR: processes whose root directory is DIR or below it.
pids_inside() {
  local p r
  for p in /proc/[0-9]*; do
    r=$(readlink "$p/root" 2>/dev/null) || continue
    case "$r" in "$1" | "$1"/*) echo "${p#/proc/}" ;; esac
  done
}

# teardown DIR: kill what runs inside DIR, then unmount everything below it (lazily, reverse order).
teardown() {
  local d=$1 pids m i
  [ -n "$d" ] && [ -d "$d" ] || return 0
  for i in 1 2 3 4 5 6 7 8 9 10; do
    pids=$(pids_inside "$d")
    [ -z "$pids" ] && break
    if [ "$i" -lt 6 ]; then kill -TERM $pids 2>/dev/null || true; else kill -KILL $pids 2>/dev/null || true; fi
    sleep 1
  done
  for m in $(mounts_under "$d"); do
    umount -l "$m" 2>/dev/null || echo "fresh-check: could not unmount $m" >&2
  done
}

finish() {
  local rc=$? total
  trap - EXIT INT TERM HUP
  set +e
  [ -n "$child" ] && kill -TERM "$child" 2>/dev/null
  teardown "$boot"
  teardown "$root"
  if [ -n "$boot" ] && [ -d "$boot" ] && [ -z "$(mounts_under "$boot")" ]; then
    rm -rf --one-file-system "$boot" "$boot.owner"
  fi
  if [ -n "$run" ] && [ -d "$run" ]; then
    if [ -n "$(mounts_under "$run")" ]; then
      echo "fresh-check: $run still has mounts; left in place" >&2
    elif [ "${FRESH_KEEP:-}" = 1 ]; then
      echo "fresh-check: root kept at $root"
    else
      rm -rf --one-file-system "$run" "$run.owner"
    fi
  fi
  total=$(($(date +%s) - start))
  [ "$rc" -ne 0 ] && status=1
  if [ "$status" -ne 0 ] && [ -z "$failed" ]; then
    failed="interrupted or failed outside a step (exit $rc)"
  fi
  echo
  echo "== fresh-check summary: $repo_desc"
  printf '%s\n' "${summary[@]}"
  if [ "$status" -eq 0 ]; then
    echo "PASS: the README's commands work on a fresh Debian 12 root (total ${total}s)"
    exit 0
  fi
  echo "FAIL: $failed (total ${total}s)"
  exit 1
}
repo_desc="$repo"
trap finish EXIT
trap 'failed="interrupted by SIGINT"; exit 130' INT
trap 'failed="interrupted by SIGTERM"; exit 143' TERM
trap 'failed="interrupted by SIGHUP"; exit 129' HUP

# job CMD...: runs CMD as a background job and waits, so that signals reach the traps at once;
# the exit status is left in jobrc. It is never called where errexit is ignored (after || or in
# an if), so the setup functions below stop at their first failing command.
jobrc=0
job() {
  "$@" </dev/null &
  child=$!
  set +e
  wait "$child"
  jobrc=$?
  set -e
  child=""
}

# step NAME CMD...: runs a setup step, timed; a failure ends the run.
step() {
  local name=$1 t0 rc
  shift
  t0=$(date +%s)
  say "$name"
  job "$@"
  rc=$jobrc
  if [ "$rc" -ne 0 ]; then
    note FAIL "$name" $(($(date +%s) - t0)) "exit $rc"
    failed="$name (exit $rc)"
    exit 1
  fi
  note ok "$name" $(($(date +%s) - t0))
}

# inside CMD...: runs CMD in the root as a fresh login would, without a shell string.
inside() {
  chroot "$root" /usr/bin/env -i HOME=/root PATH="$inpath" LANG=C.UTF-8 TERM=dumb \
    DEBIAN_FRONTEND=noninteractive "$@"
}

if [ "$(id -u)" -ne 0 ]; then
  failed="must run as root (chroot, mounts, apt in the root)"
  exit 1
fi

# The commands to prove: the README's first code block, comments dropped.
cmds=()
while IFS= read -r line; do
  line=$(printf '%s' "$line" | sed -e 's/[[:space:]]#.*$//' -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//')
  [ -n "$line" ] && cmds+=("$line")
done < <(awk '/^```/ { if (inblock) exit; inblock = 1; next } inblock' "$repo/README.md")
if [ ${#cmds[@]} -eq 0 ]; then
  failed="no commands in the first code block of $repo/README.md"
  exit 1
fi
branch=$(git -C "$repo" symbolic-ref --short -q HEAD || echo "detached")
commit=$(git -C "$repo" rev-parse HEAD)
repo_desc="$repo, branch $branch, commit ${commit:0:12}"
say "checking $repo_desc"
printf '   README command: %s\n' "${cmds[@]}"

# The mirror comes from this machine's apt sources (deb822 or one-line format), read now.
mirror=""
if [ -r /etc/apt/sources.list.d/debian.sources ]; then
  mirror=$(awk '
    /^[[:space:]]*$/ { if (uri != "" && suites ~ /(^| )bookworm( |$)/) { print uri; exit } uri = ""; suites = ""; next }
    /^URIs:/ { uri = $2 }
    /^Suites:/ { $1 = ""; suites = $0 " " }
    END { if (uri != "" && suites ~ /(^| )bookworm( |$)/) print uri }' /etc/apt/sources.list.d/debian.sources | head -1)
fi
if [ -z "$mirror" ]; then
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk '$1 == "deb" && $0 ~ / bookworm / { for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { print $i; exit } }' | head -1)
fi
if [ -z "$mirror" ]; then
  failed="no Debian bookworm mirror in this machine's apt sources (/etc/apt/sources.list.d/debian.sources)"
  exit 1
fi

mkdir -p "$cache"
exec 9>"$cache/lock"
flock 9 # one debootstrap at a time; runs themselves are independent

# What a killed run left (SIGKILL skips the traps): a run or debootstrap directory whose owner
# (the pid in DIR.owner, written when it was made) is gone. Its processes are stopped, its
# mounts undone and the directory removed; a live run's directory is left alone.
for d in "$cache"/run.* "$cache"/debootstrap.*; do
  case $d in *.owner) continue ;; esac
  [ -d "$d" ] || continue
  owner=$(cat "$d.owner" 2>/dev/null || true)
  if [ -n "$owner" ] && kill -0 "$owner" 2>/dev/null; then
    continue
  fi
  teardown "$d"
  if [ -z "$(mounts_under "$d")" ]; then
    rm -rf --one-file-system "$d" "$d.owner"
    note ok "removed what a killed run left: $d" 0
  else
    echo "fresh-check: $d (a killed run's) still has mounts; left in place" >&2
  fi
done

if ! command -v debootstrap >/dev/null; then
  step "install debootstrap (missing)" apt-get install -y -qq --no-install-recommends debootstrap
fi
if [ ! -x "$pristine/bin/bash" ]; then
  boot=$(mktemp -d "$cache/debootstrap.XXXXXX")
  echo $$ >"$boot.owner"
  chmod 755 "$boot" # the root's / (mktemp makes it 0700, which locks out _apt and other users)
  step "debootstrap bookworm (first run; kept as $pristine)" debootstrap bookworm "$boot" "$mirror"
  rm -rf "$pristine"
  mv "$boot" "$pristine"
  rm -f "$boot.owner"
  boot=""
else
  note ok "debootstrap bookworm (cached: $pristine)" 0
fi

run=$(mktemp -d "$cache/run.XXXXXX")
echo $$ >"$run.owner"
root=$run/root
step "copy the pristine root" cp -a "$pristine" "$root"
chmod 755 "$root"
flock -u 9
exec 9>&-

# What a fresh machine of ours has, copied from this one (never committed).
copy_host() {
  local d
  rm -f "$root/etc/apt/sources.list"
  for d in sources.list.d apt.conf.d auth.conf.d keyrings trusted.gpg.d; do
    if [ -d "/etc/apt/$d" ]; then
      mkdir -p "$root/etc/apt/$d"
      cp -a "/etc/apt/$d/." "$root/etc/apt/$d/"
    fi
  done
  # Sources apt ignores here (disabled, other extensions) would only add notices there.
  find "$root/etc/apt/sources.list.d" -maxdepth 1 -type f ! -name '*.list' ! -name '*.sources' -delete
  rm -f "$root/etc/resolv.conf"
  cp -L /etc/resolv.conf "$root/etc/resolv.conf"
  mkdir -p "$root/usr/local/share/ca-certificates"
  if [ -d /usr/local/share/ca-certificates ]; then
    cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
  fi
  rm -rf "$root/usr/local/go"
  cp -a /usr/local/go "$root/usr/local/go"
  # A chroot has no init: tell dpkg not to start services (the tests start their own OVS).
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
}
step "copy apt config, resolv.conf, local CAs, /usr/local/go" copy_host

mount_all() {
  # The root is a mount point of its own, as / is on a machine: tools that make a private mount
  # namespace (unshare --mount, as the devbind test does) need / to be one.
  mount --bind "$root" "$root"
  mount --make-private "$root"
  mount -t proc proc "$root/proc"
  mount --bind /sys "$root/sys"
  mount --make-private "$root/sys"
  mount --bind /dev "$root/dev"
  mount --make-private "$root/dev"
  mkdir -p "$root/dev/pts" "$root/dev/shm" "$root/dev/hugepages"
  mount --bind /dev/pts "$root/dev/pts"
  mount --bind /dev/shm "$root/dev/shm"
  mount -t hugetlbfs nodev "$root/dev/hugepages"
  touch "$lockfile" "$root$lockfile"
  mount --bind "$lockfile" "$root$lockfile"
}
step "mount /proc /sys /dev /dev/pts /dev/shm /dev/hugepages, bind $lockfile" mount_all

apt_inside() {
  inside apt-get update -qq
  inside apt-get install -y -qq --no-install-recommends git ca-certificates >/dev/null
  inside update-ca-certificates >/dev/null
}
step "apt-get install git ca-certificates (in the root)" apt_inside

clone_inside() {
  git clone -q --bare "file://$repo" "$root/srv/dpdk-doctor.git"
  inside git clone -q file:///srv/dpdk-doctor.git /root/dpdk-doctor
  # The branch may have moved on since this run started: check out the commit it started from.
  inside git -C /root/dpdk-doctor checkout -q --detach "$commit"
  local got
  got=$(inside git -C /root/dpdk-doctor rev-parse HEAD)
  if [ "$got" != "$commit" ]; then
    echo "clone is at $got, want $commit" >&2
    return 1
  fi
}
step "git clone file://... (in the root, at ${commit:0:12})" clone_inside

# The README's commands, with CI=true. check's documented exit 1 ("something fails": the demo
# host has failures on purpose) passes when the command printed its report on stdout; a build
# failure of `go run` also exits 1 but prints nothing there.
status=0
for c in "${cmds[@]}"; do
  read -r -a argv <<<"$c"
  say "README: $c"
  out=$run/out.$(printf '%s' "$c" | tr -c 'A-Za-z0-9' '_')
  t0=$(date +%s)
  job chroot "$root" /usr/bin/env -i -C /root/dpdk-doctor HOME=/root PATH="$inpath" LANG=C.UTF-8 \
    TERM=dumb CI=true "${argv[@]}" > >(tee "$out")
  rc=$jobrc
  sleep 0.5 # let tee finish writing
  dt=$(($(date +%s) - t0))
  if [ "$rc" -eq 0 ]; then
    note PASS "$c" "$dt" "exit 0"
  elif [ "$rc" -eq 1 ] && [[ " ${argv[*]} " == *" check "* ]] && [ -s "$out" ]; then
    note PASS "$c" "$dt" "exit 1: the report found failures, as the README says"
  else
    note FAIL "$c" "$dt" "exit $rc; last line: $(tail -n 1 "$out" 2>/dev/null | cut -c1-100)"
    [ -z "$failed" ] && failed="README command failed: $c (exit $rc)"
    status=1
  fi
done
exit "$status"
