#!/usr/bin/env bash
# What `make image` and `make deploy-smoke` run with, from Debian's packages,
# installed once (idempotent; as root): podman 4.3 with runc (cgroups here
# are v1/hybrid, which crun refuses), debootstrap for the base image, and
# catatonit, the init of the pause image `podman kube play` builds locally.
set -euo pipefail
missing=()
for tool in podman:podman runc:runc debootstrap:debootstrap catatonit:catatonit; do
  command -v "${tool%%:*}" >/dev/null || [ -x "/usr/libexec/podman/${tool%%:*}" ] || missing+=("${tool##*:}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "image tools: missing ${missing[*]} (as root: apt-get install ${missing[*]})" >&2
  exit 1
fi
if [ ! -f /tmp/.acikkapi-apt-updated ]; then apt-get update -qq && touch /tmp/.acikkapi-apt-updated; fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "image tools: installed ${missing[*]}"
