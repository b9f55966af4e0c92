#!/usr/bin/env bash
# Checks that each image's runtime stage installs every shared library its binary needs:
# maps `ldd <binary>` to Debian packages with dpkg -S, and requires each of them to be in
# the runtime stage's apt-get install list or pulled in by it (apt-cache depends --recurse).
# Also refuses listed packages the binary does not use (except the documented data packages),
# -dev packages, and a runtime stage that runs as root.
#   tests/deploy/ldd-coverage.sh [BIN_DIR]   (default $AUTOSYNC_BIN_DIR or build/release/bin)
# DOCKER_DIR=other/folder checks other Dockerfiles (the self-test uses broken copies).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN_DIR=${1:-${AUTOSYNC_BIN_DIR:-$ROOT/build/release/bin}}
DOCKER_DIR=${DOCKER_DIR:-$ROOT/deploy/docker}
SERVICES=(scheduler-service sync-worker ws-gateway store-sim)
# Packages a runtime stage may list without a library in ldd: data the binaries read at run time.
DATA_PACKAGES=" ca-certificates tzdata "

declare -A OWNER=()
owners() {  # fills OWNER[path] for the given library paths with one dpkg -S call
  local p c
  local -a candidates=()
  for p in "$@"; do
    for c in "$p" "/usr$p" "$(readlink -f "$p")" "/usr$(readlink -f "$p")"; do candidates+=("$c"); done
  done
  while IFS= read -r line; do
    OWNER[${line#*: }]=${line%%:*}
  done < <(dpkg -S "${candidates[@]}" 2>/dev/null | grep -v '^diversion' || true)
}
pkg_of() {  # the Debian package owning a library path (usrmerge: try /usr and the real path)
  local p=$1 c
  for c in "$p" "/usr$p" "$(readlink -f "$p")" "/usr$(readlink -f "$p")"; do
    if [[ -n ${OWNER[$c]:-} ]]; then echo "${OWNER[$c]}"; return 0; fi
  done
  echo "UNOWNED:$p"
}

runtime_packages() {  # the apt-get install list of the last stage of a Dockerfile
  awk '/^FROM /{stage=""} {stage = stage $0 "\n"} END{printf "%s", stage}' "$1" |
    sed -e ':a' -e '/\\$/N; s/\\\n//; ta' |
    grep -E '^RUN .*apt-get install' |
    sed -e 's/.*apt-get install//' -e 's/&&.*//' |
    tr ' ' '\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' | sort -u
}

passed=0 failed=0
for svc in "${SERVICES[@]}"; do
  dockerfile=$DOCKER_DIR/$svc.Dockerfile
  bin=$BIN_DIR/$svc
  problems=()
  if [[ ! -f $dockerfile ]]; then problems+=("no $dockerfile"); fi
  if [[ ! -x $bin ]]; then problems+=("no binary $bin (build it first)"); fi
  if ((${#problems[@]} == 0)); then
    listed=$(runtime_packages "$dockerfile")
    if [[ -z $listed ]]; then problems+=("no apt-get install list in the runtime stage"); fi
    # shellcheck disable=SC2086
    closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
                --no-breaks --no-replaces --no-enhances $listed 2>/dev/null | grep -E '^[a-z0-9]' | sort -u)
    ldd_out=$(ldd "$bin")
    if grep -q 'not found' <<<"$ldd_out"; then problems+=("ldd: $(grep 'not found' <<<"$ldd_out" | tr -s ' \t' ' ')"); fi
    mapfile -t libs < <(awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' <<<"$ldd_out")
    owners "${libs[@]}"
    needed=$(for lib in "${libs[@]}"; do pkg_of "$lib"; done | sort -u)
    direct=$(readelf -d "$bin" | awk -F'[][]' '/\(NEEDED\)/{print $2}' | while read -r soname; do
               lib=$(awk -v n="$soname" '$1 == n && $2 == "=>" {print $3}' <<<"$ldd_out")
               [[ -n $lib ]] && pkg_of "$lib"; done | sort -u)
    for p in $needed; do
      if [[ $p == UNOWNED:* ]]; then problems+=("${p#UNOWNED:} belongs to no Debian package"); continue; fi
      grep -qx "$p" <<<"$closure" || problems+=("needs $p (ldd) but the runtime stage does not install it")
    done
    for p in $listed; do
      [[ $p == *-dev ]] && problems+=("lists the build package $p")
      if ! grep -qx "$p" <<<"$direct" && [[ $DATA_PACKAGES != *" $p "* ]]; then
        problems+=("lists $p, which no library of the binary comes from")
      fi
    done
    user=$(awk '/^FROM /{u=""} /^USER /{u=$2} END{print u}' "$dockerfile")
    if [[ -z $user || $user == root || $user == 0 || $user == 0:* ]]; then problems+=("runtime stage runs as root (USER '$user')"); fi
    grep -q -- "--target $svc\b" "$dockerfile" || problems+=("build stage does not build --target $svc")
  fi
  if ((${#problems[@]} == 0)); then
    echo "ok   $svc: $(wc -w <<<"$needed") packages from ldd, all installed by the $(wc -w <<<"$listed") listed"
    passed=$((passed + 1))
  else
    echo "FAIL $svc:"; printf '       %s\n' "${problems[@]}"
    failed=$((failed + 1))
  fi
done
echo "ldd-coverage: $passed passed, $failed failed"
((failed == 0))
