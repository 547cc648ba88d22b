#!/usr/bin/env bash
# A runtime base image made from Debian's packages, for machines that reach
# no container registry (this one): debootstrap's minimal bookworm with CA
# roots and time zone data, imported into podman as
# localhost/acikkapi-base:bookworm. It stands in for the Dockerfile's public
# distroless base (glibc, CA roots, tzdata). Idempotent: nothing is done if
# the image exists.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CONTAINERS_CONF="$PWD/scripts/image/containers.conf"
./scripts/image/tools.sh
image=localhost/acikkapi-base:bookworm
if podman image exists "$image"; then
  echo "base: $image exists"
  exit 0
fi
root=.tools/rootfs
rm -rf "$root"
mkdir -p "$root"
debootstrap --variant=minbase --include=ca-certificates,tzdata bookworm "$root" http://deb.debian.org/debian >/dev/null
# What a runtime needs not: package caches, docs, manuals, locales.
rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
  "$root"/usr/share/man/* "$root"/usr/share/locale/* "$root"/usr/share/info/*
tar -C "$root" -c . | podman import --change 'USER 10001:10001' - "$image" >/dev/null
rm -rf "$root"
echo "base: $image imported ($(podman image inspect --format '{{.Size}}' "$image") bytes)"
