#!/usr/bin/env bash
# Makes the build users Nix needs when it runs builds as root with the
# sandbox: the group `nixbld` and system users nixbld1..nixbldN, members of
# it. Debian's nix-bin does not make them (nix-setup-systemd would, and it
# needs systemd), so on a new machine every build fails with "the group
# 'nixbld' specified in 'build-users-group' does not exist".
#
# Idempotent: an existing group or user is never recreated, renumbered or
# changed; only the missing ones are added.
#
#   scripts/nix-build-users.sh [--prefix DIR] [--count N]
#
# --prefix DIR works on DIR/etc/{passwd,group,shadow,gshadow} instead of the
# machine's (useradd/groupadd --prefix), which is how the tests run it.
# --count N: how many users (default: the number of cores, at least 8; Nix
# needs one per build it runs at once).
set -euo pipefail

prefix=""
count=$(( $(nproc) > 8 ? $(nproc) : 8 ))
while (($#)); do
  case $1 in
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --count) count=${2:?--count needs a number}; shift 2 ;;
    *) echo "nix-build-users: unknown argument $1 (usage: $0 [--prefix DIR] [--count N])" >&2; exit 2 ;;
  esac
done
[[ $count =~ ^[1-9][0-9]*$ ]] || { echo "nix-build-users: --count: expected a positive number, got $count" >&2; exit 2; }

# uids/gids from 30000 on, as the Nix installer uses: far above Debian's
# system (100-999) and user (1000-59999 by default, but rarely past a few
# thousand) ranges, so the users are easy to tell apart and do not take the
# numbers packages installed later would get. A second Nix (e.g. one in a
# chroot) must use other numbers: Nix kills every process of a build user's
# uid around each build.
base=30000

# The account databases read directly, not through NSS, so that --prefix
# sees the files it changes (getent would read the machine's).
db() { echo "$prefix/etc/$1"; }
has() { cut -d: -f1 "$(db "$1")" | grep -qxF "$2"; }
id_taken() { cut -d: -f3 "$(db "$1")" | grep -qxF "$2"; }
opts=()
[ -z "$prefix" ] || opts=(--prefix "$prefix")

if [ "$(id -u)" != 0 ]; then
  need=0
  has group nixbld || need=1
  for i in $(seq 1 "$count"); do has passwd "nixbld$i" || need=1; done
  if ((need)); then
    echo "nix-build-users: the Nix build users are missing and only root can add them; run: sudo $0${prefix:+ --prefix $prefix} --count $count" >&2
    exit 1
  fi
  exit 0
fi

if ! has group nixbld; then
  gid=$base
  while id_taken group "$gid"; do gid=$((gid + 1)); done
  groupadd "${opts[@]}" --system --gid "$gid" nixbld
  echo "nix-build-users: added group nixbld ($gid)" >&2
fi

uid=$((base + 1))
added=()
for i in $(seq 1 "$count"); do
  name=nixbld$i
  has passwd "$name" && continue
  while id_taken passwd "$uid"; do uid=$((uid + 1)); done
  # --system: no password aging, no mail spool; -K keeps useradd from
  # warning that the uid lies above Debian's system range.
  useradd "${opts[@]}" --system -K SYS_UID_MAX=65000 --uid "$uid" --gid nixbld --groups nixbld \
    --home-dir /var/empty --no-create-home --shell /usr/sbin/nologin \
    --comment "Nix build user $i" "$name"
  added+=("$name")
done
if ((${#added[@]})); then
  echo "nix-build-users: added ${added[*]}" >&2
fi
