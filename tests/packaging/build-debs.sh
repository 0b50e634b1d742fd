#!/bin/bash
# SPDX-License-Identifier: MIT
#
# build-debs.sh SOURCE_ROOT OUT_DIR: the Debian packages of SOURCE_ROOT, as
# `dpkg-buildpackage -b -us -uc` builds them from a clean copy of it, cached
# by the content of that copy. Prints the directory that holds the .debs and
# the .changes (OUT_DIR/KEY); a second call with unchanged sources only
# prints it. Used by the packaging suite (lintian, contents) and by the VM
# stage (tests/vm/run-vm.sh installs these .debs in the guest).
#
# The copy holds the files git knows of (tracked, and untracked ones that
# are not ignored, as they are in the work tree) or, outside a git checkout,
# everything but meson build directories. Nothing is written into
# SOURCE_ROOT or its parent: dpkg-buildpackage puts its results next to the
# copy, inside OUT_DIR.
#
# Exit status: 0 built or cached; 77 with "SKIP: reason" when dpkg-dev or
# debhelper is missing; 1 when the build fails (its log's tail printed).
set -euo pipefail

src=$(cd "${1:?usage: build-debs.sh SOURCE_ROOT OUT_DIR}" && pwd)
out=${2:?usage: build-debs.sh SOURCE_ROOT OUT_DIR}

for tool in dpkg-buildpackage dh dpkg-checkbuilddeps sha256sum; do
        command -v "$tool" >/dev/null ||
                { echo "SKIP: $tool not installed (apt-get install dpkg-dev debhelper)"; exit 77; }
done
[[ -f $src/debian/control ]] || { echo "build-debs: no debian/ in $src"; exit 1; }

mkdir -p "$out"
out=$(cd "$out" && pwd)
list=$(mktemp "$out/.files.XXXXXX")
trap 'rm -f "$list"' EXIT
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        # Meson build directories and dpkg-buildpackage's obj-* that .gitignore
        # does not name are left out too.
        builds=$(cd "$src" && find . -maxdepth 3 -type d -name meson-private -printf '%h/\n' | sed 's|^\./||')
        # Deleted but still tracked files are listed by git: keep those present.
        git -C "$src" ls-files -z --cached --others --exclude-standard |
                while IFS= read -r -d '' f; do
                        [[ -f $src/$f || -L $src/$f ]] || continue
                        while IFS= read -r b; do
                                [[ -n $b && $f == "$b"* ]] && continue 2
                        done <<<"$builds"
                        printf '%s\0' "$f"
                done | sort -z >"$list"
else
        (cd "$src" && find . -mindepth 1 \
                \( -type d \( -exec test -d '{}/meson-private' \; -o -name .git \) -prune \) -o \
                \( -type f -o -type l \) -printf '%P\0' | sort -z) >"$list"
fi
key=$( (cd "$src" && xargs -0 sha256sum -- <"$list"; cat "$list") | sha256sum | cut -c1-16)
dir=$out/$key
if [[ -f $dir/complete ]]; then
        echo "$dir"
        exit 0
fi

exec 9>"$out/.lock"
flock 9
if [[ -f $dir/complete ]]; then
        echo "$dir"
        exit 0
fi
# Packages of older sources are of no further use.
find "$out" -mindepth 1 -maxdepth 1 -type d ! -name "$key" -exec rm -rf {} +

tmp=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -f "$list"; rm -rf "$tmp"' EXIT
version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
copy=$tmp/reptyrd-$version
mkdir "$copy"
(cd "$src" && tar --null -T "$list" -cf -) | tar -xf - -C "$copy"

missing=$(cd "$copy" && dpkg-checkbuilddeps 2>&1 | sed -n 's/.*Unmet build dependencies: //p' || true)
if [[ -n $missing ]]; then
        echo "SKIP: unmet build dependencies of the packages: $missing"
        exit 77
fi

log=$tmp/build.log
t0=$SECONDS
if ! (cd "$copy" && DEB_BUILD_OPTIONS="parallel=$(nproc)" dpkg-buildpackage -b -us -uc) >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "build-debs: dpkg-buildpackage failed (log above)"
        exit 1
fi
mkdir "$dir.new"
mv "$tmp"/*.deb "$tmp"/*.changes "$tmp"/*.buildinfo "$log" "$dir.new/"
touch "$dir.new/complete"
rm -rf "$dir"
mv "$dir.new" "$dir"
echo "build-debs: built $(cd "$dir" && ls ./*.deb | tr '\n' ' ')in $((SECONDS - t0)) s" >&2
echo "$dir"
