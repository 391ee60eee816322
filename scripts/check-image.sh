#!/usr/bin/env bash
# Checks that the runtime stage of deploy/Containerfile installs every shared library the k2
# binary needs (no container engine needed; Debian 12 package contents of this machine):
#   - each library the binary links directly (its NEEDED entries) must belong to a package named
#     in the runtime stage's `apt-get install` list, or to the base every Debian image has (the
#     Essential packages and what they depend on);
#   - each library those pull in (the rest of `ldd`) must belong to a package in the dependency
#     closure of that list and the base (what apt installs with it).
# A debug binary links the Swift runtime dynamically from the toolchain; the release binary links
# it in (-static-stdlib), so for a debug binary the toolchain's libraries stand for code linked in:
# they are skipped and their own NEEDED entries count as the binary's. A release binary that
# needs a toolchain library is an error. Usage: scripts/check-image.sh [BINARY [CONTAINERFILE]]
# (default: .build/release/k2 if built, else .build/debug/k2). Exit 0 covered, 1 a gap, 2 bad input.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:-}
if [ -z "$binary" ]; then
  if [ -x .build/release/k2 ]; then binary=.build/release/k2; else binary=.build/debug/k2; fi
fi
containerfile=${2:-deploy/Containerfile}
[ -x "$binary" ] || { echo "check-image: $binary is not an executable; build it (swift build) or name one" >&2; exit 2; }
[ -f "$containerfile" ] || { echo "check-image: $containerfile not found; run from the repository or name the Containerfile" >&2; exit 2; }
for tool in ldd readelf dpkg dpkg-query; do
  command -v "$tool" >/dev/null || { echo "check-image: $tool is missing; run it on Debian with binutils installed" >&2; exit 2; }
done

# The runtime stage's install list: the words after `apt-get install` in the last stage's RUN
# lines (continuation lines joined), up to `&&`, options left out.
installed=$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$containerfile" \
  | awk 'toupper($1) == "FROM" { stage = "" } toupper($1) == "FROM" && tolower($NF) == "runtime" { stage = "runtime" } stage == "runtime"' \
  | grep -oE 'apt-get install [^&]*' | sed 's/apt-get install//' | tr ' ' '\n' | grep -vE '^(-|$)' | sort -u || true)
[ -n "$installed" ] || { echo "check-image: no 'apt-get install' in the stage 'AS runtime' of $containerfile" >&2; exit 2; }

# Dependency closure (Depends + Pre-Depends over installed packages; of `a | b` every installed
# one), from one dpkg-query listing.
installed_deps=$(dpkg-query -W -f='${Package}\t${Status}\t${Depends}, ${Pre-Depends}\n' | awk -F'\t' '$2 ~ /install ok installed/ { print $1 "\t" $3 }')
closure() {
  awk -F'\t' -v roots="$*" '
    { deps[$1] = $2; known[$1] = 1 }
    END {
      n = split(roots, queue, " "); head = 1
      while (head <= n) {
        pkg = queue[head++]
        if (pkg == "" || seen[pkg]) continue
        seen[pkg] = 1; print pkg
        m = split(deps[pkg], items, /[,|]/)
        for (i = 1; i <= m; i++) {
          dep = items[i]; sub(/\(.*\)/, "", dep); sub(/:any/, "", dep); gsub(/ /, "", dep)
          if (dep != "" && known[dep] && !seen[dep]) queue[++n] = dep
        }
      }
    }' <<<"$installed_deps" | sort
}
essential=$(dpkg-query -W -f='${Package} ${Essential}\n' | awk '$2 == "yes" { print $1 }')
# shellcheck disable=SC2086
base=$(closure $essential)
# shellcheck disable=SC2086
with_deps=$(closure $installed $essential)

toolchain=""
if command -v swift >/dev/null; then toolchain=$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")/lib/swift; fi

# soname -> path, for the binary and everything it loads.
declare -A path_of=()
while read -r soname _ path _; do
  [ "$path" = "not" ] && { echo "check-image: $binary needs $soname, which this machine does not have (ldd: not found)" >&2; exit 1; }
  path_of[$soname]=$path
done < <(ldd "$binary" | awk '$2 == "=>" { print $1, $2, $3 }')

needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
is_toolchain() { [ -n "$toolchain" ] && [[ "$1" == "$toolchain"/* ]]; }
# The package of each library file, from one `dpkg -S` over every path ldd gave (as given,
# resolved, and with /usr added or removed: packages list /lib or /usr/lib).
declare -A owner_of=()
candidates=()
for path in "${path_of[@]}"; do
  alt=$(readlink -f "$path")
  candidates+=("$path" "$alt" "/usr$path" "${path#/usr}" "/usr$alt" "${alt#/usr}")
done
while IFS= read -r line; do
  pkgs=${line%%: /*}; file=/${line#*: /}
  owner_of[$file]=${pkgs%%[:,]*}
done < <(dpkg -S "${candidates[@]}" 2>/dev/null | grep -v '^diversion' || true)
owner() {
  local p=$1 alt candidate
  alt=$(readlink -f "$p")
  for candidate in "$p" "$alt" "/usr$p" "${p#/usr}" "/usr$alt" "${alt#/usr}"; do
    [ -n "${owner_of[$candidate]:-}" ] && { echo "${owner_of[$candidate]}"; return 0; }
  done
  return 1
}

# Direct libraries: the binary's NEEDED, plus, for a dynamic-stdlib (debug) binary, the NEEDED of
# the toolchain libraries it loads (the release binary links those in).
declare -A direct=()
dynamic_stdlib=no
for soname in $(needed "$binary"); do direct[$soname]=1; done
for soname in "${!path_of[@]}"; do
  if is_toolchain "${path_of[$soname]}"; then
    dynamic_stdlib=yes
    for dep in $(needed "${path_of[$soname]}"); do direct[$dep]=1; done
  fi
done
if [ "$dynamic_stdlib" = yes ] && [[ "$binary" == *release* ]]; then
  echo "check-image: the release binary $binary loads the Swift runtime from the toolchain; build it with -static-stdlib (Package.swift)" >&2
  exit 1
fi

gaps=0
checked=0
for soname in "${!path_of[@]}"; do
  path=${path_of[$soname]}
  is_toolchain "$path" && continue
  pkg=$(owner "$path") || { echo "check-image: no Debian package owns $path ($soname); the image cannot get it from apt" >&2; gaps=$((gaps + 1)); continue; }
  checked=$((checked + 1))
  if [ -n "${direct[$soname]:-}" ]; then
    if ! grep -qx "$pkg" <<<"$installed" && ! grep -qx "$pkg" <<<"$base"; then
      echo "check-image: k2 links $soname ($pkg), which the runtime stage of $containerfile does not install; add $pkg to its apt-get install list" >&2
      gaps=$((gaps + 1))
    fi
  elif ! grep -qx "$pkg" <<<"$with_deps"; then
    echo "check-image: k2 loads $soname ($pkg), which no package of the runtime stage of $containerfile depends on; add $pkg to its apt-get install list" >&2
    gaps=$((gaps + 1))
  fi
done
if ((gaps)); then exit 1; fi
echo "check-image: $binary ($([ "$dynamic_stdlib" = yes ] && echo "Swift runtime from the toolchain, linked in by the release build" || echo "static Swift runtime")): $checked libraries, all from the runtime stage's packages ($(echo $installed)) or the Debian base"
