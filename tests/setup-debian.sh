#!/bin/sh
# Prepare a Debian 12 machine (as root) for crossbox and its test bed. Idempotent,
# never asks. It changes this machine's configuration on purpose; crossbox itself
# needs only what `crossbox doctor` lists.
set -eu

export DEBIAN_FRONTEND=noninteractive
TEST_USER=${CROSSBOX_TEST_USER:-tester}

if [ "$(id -u)" -ne 0 ]; then
    echo "tests/setup-debian.sh: run as root (sudo make ...)" >&2
    exit 1
fi

# Foreign architectures, for the busybox-static packages of the test images.
# (bookworm has no riscv64 port: adding it makes apt-get update fail.)
for arch in arm64 ppc64el s390x armhf; do
    dpkg --print-foreign-architectures | grep -qx "$arch" || dpkg --add-architecture "$arch"
done

# A mirror in mid-sync can fail a few (foreign-architecture) index files: retry, then
# go on with what was fetched; the install below fails clearly if something is missing.
for attempt in 1 2 3; do
    if apt-get update -qq; then break; fi
    echo "tests/setup-debian.sh: apt-get update failed (attempt $attempt); retrying" >&2
    sleep 10
done
apt-get install -y -qq --no-install-recommends \
    podman skopeo runc uidmap slirp4netns fuse-overlayfs qemu-user-static \
    docker-registry mmdebstrap arch-test busybox-static \
    podman-toolbox distrobox \
    gcc-aarch64-linux-gnu g++-aarch64-linux-gnu gcc-s390x-linux-gnu g++-s390x-linux-gnu \
    python3 python3-venv python3-pip \
    make git ca-certificates \
    bash zsh fish groff-base \
    dpkg-dev fakeroot debhelper dh-python python3-all python3-setuptools \
    pybuild-plugin-pyproject rpm lintian >/dev/null

# Rootful podman needs a subordinate range for --userns=auto.
for f in /etc/subuid /etc/subgid; do
    touch "$f"
    grep -q '^containers:' "$f" || echo "containers:2147483647:2147483648" >> "$f"
done

# The rootless test user, with subordinate ids and a runtime directory.
id "$TEST_USER" >/dev/null 2>&1 || useradd -m -s /bin/bash "$TEST_USER"
for f in /etc/subuid /etc/subgid; do
    grep -q "^$TEST_USER:" "$f" || echo "$TEST_USER:100000:65536" >> "$f"
done
uid=$(id -u "$TEST_USER")
install -d -m 0700 -o "$TEST_USER" -g "$TEST_USER" "/run/user/$uid"
