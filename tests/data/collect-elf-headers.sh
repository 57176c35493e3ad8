#!/bin/sh
# Regenerate tests/data/elf-headers.json: the first 64 bytes of real ELF files from
# Debian packages, one per architecture crossbox supports. tests/unit/test_shared_arch.py
# checks that each architecture's binfmt_misc magic and mask claim its own file and that
# no other architecture's entry does.
#
# Run on Debian 12 (bookworm), as any user. apt-get download needs the package lists of
# the foreign architectures, so once, as root:
#     for a in arm64 armhf i386 mips64el ppc64el s390x; do dpkg --add-architecture "$a"; done
#     apt-get update
# riscv64 is no release architecture of bookworm: its file is the C library of the cross
# toolchain package libc6-riscv64-cross (Architecture: all). loongarch64 has no bookworm
# port at all; the unit test builds that header from the ELF specification instead.
#
# Usage: tests/data/collect-elf-headers.sh [OUTPUT]   (default: elf-headers.json next to it)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/elf-headers.json}
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
list=$work/list
: >"$list"

# fetch CROSSBOX-ARCH PACKAGE FILE: download PACKAGE, unpack it, note FILE for the JSON.
fetch() {
    arch=$1 package=$2 file=$3
    dir=$work/$arch
    mkdir -p "$dir"
    (cd "$dir" && apt-get download -q "$package" >/dev/null)
    set -- "$dir"/*.deb
    deb=$1
    dpkg-deb -x "$deb" "$dir/root"
    name=$(dpkg-deb -f "$deb" Package)
    version=$(dpkg-deb -f "$deb" Version)
    debarch=$(dpkg-deb -f "$deb" Architecture)
    printf '%s\t%s\t%s\n' "$arch" \
        "Debian $codename package $name $version $debarch: $file" "$dir/root$file" >>"$list"
}

# crossbox name : Debian architecture
for pair in x86_64:amd64 aarch64:arm64 arm:armhf i386:i386 mips64el:mips64el \
    ppc64le:ppc64el s390x:s390x; do
    fetch "${pair%%:*}" "busybox-static:${pair#*:}" /bin/busybox
done
fetch riscv64 libc6-riscv64-cross /usr/riscv64-linux-gnu/lib/libc.so.6

python3 - "$list" "$out" "$codename" <<'PY'
import json
import sys

list_path, out_path, codename = sys.argv[1:]
headers = []
with open(list_path, encoding="utf-8") as f:
    for row in f:
        arch, source, path = row.rstrip("\n").split("\t")
        with open(path, "rb") as elf:
            header = elf.read(64)
        if len(header) != 64 or header[:4] != b"\x7fELF":
            sys.exit(f"{path} is no ELF file")
        headers.append({"arch": arch, "source": source, "header": header.hex()})
doc = {
    "comment": f"First 64 bytes of real ELF files from Debian {codename} packages; "
    "regenerate with tests/data/collect-elf-headers.sh",
    "headers": headers,
}
with open(out_path, "w", encoding="utf-8") as f:
    f.write(json.dumps(doc, indent=1))
print(f"wrote {len(headers)} headers to {out_path}")
PY
