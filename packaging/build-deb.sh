#!/bin/sh
# Build the crossbox .deb from this tree: packaging/build-deb.sh [OUTDIR] (default: dist).
#
# The repository keeps debian/ under packaging/ (the design card's layout), so the
# build runs in a copy of the tree (the files git tracks, plus new ones it does not
# ignore; or all of an unpacked sdist) with packaging/debian at its top. Needs
# dpkg-dev, debhelper, dh-python, pybuild-plugin-pyproject, python3-all and
# python3-setuptools (tests/setup-debian.sh).
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$src/dist}
mkdir -p "$out"
out=$(cd "$out" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/crossbox-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

tree="$work/crossbox"
mkdir "$tree"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$src" && git ls-files -z --cached --others --exclude-standard) |
        (cd "$src" && xargs -0 cp --parents -t "$tree" --)
else  # an unpacked sdist
    tar -C "$src" --exclude=./.venv --exclude=./dist --exclude=./build -cf - . | tar -C "$tree" -xf -
fi
cp -r "$src/packaging/debian" "$tree/debian"

# Debian's own tools and Python only: a python3 first on PATH (pyenv, a venv) is not
# the one the package is built for.
(cd "$tree" && env PATH=/usr/sbin:/usr/bin:/sbin:/bin dpkg-buildpackage -us -uc -b --no-sign \
    >"$work/build.log" 2>&1) || {
    tail -n 60 "$work/build.log" >&2
    echo "build-deb.sh: dpkg-buildpackage failed (last lines above)" >&2
    exit 1
}
for deb in "$work"/*.deb; do
    cp "$deb" "$out/"
    echo "$out/$(basename "$deb")"
done
