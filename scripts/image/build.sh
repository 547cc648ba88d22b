#!/usr/bin/env bash
# `make image` on this machine: the repository's Dockerfile built with
# podman, its `prebuilt` target over a base made from Debian's packages
# (scripts/image/base.sh; no registry is reachable here) with the host's
# release binary. Then the image is checked as it will run: non-root, a
# read-only root file system, CA roots and Europe/Istanbul time zone data
# present, `--version` naming version and commit, `serve` ready on the
# embedded default and stopping cleanly on SIGTERM; its size is printed.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CONTAINERS_CONF="$PWD/scripts/image/containers.conf"
./scripts/image/tools.sh
image="${IMAGE:-localhost/acikkapi:dev}"
./scripts/image/base.sh
cargo build --release --locked -p acikkapi --bin acikkapi
ctx=.tools/image-context
rm -rf "$ctx" && mkdir -p "$ctx"
cp target/release/acikkapi "$ctx/"
# Line tables stay in target/ for the profiler; the image needs none.
strip "$ctx/acikkapi"
podman build -q --target prebuilt --build-arg RUNTIME_IMAGE=localhost/acikkapi-base:bookworm \
  -f Dockerfile -t "$image" "$ctx" >/dev/null
rm -rf "$ctx"

fail() { echo "image: $*" >&2; exit 1; }
user=$(podman image inspect --format '{{.Config.User}}' "$image")
[ "$user" = "10001:10001" ] || fail "runs as '$user', not 10001:10001"
mnt=$(podman image mount "$image")
trap 'podman image unmount "$image" >/dev/null 2>&1 || true' EXIT
[ -s "$mnt/etc/ssl/certs/ca-certificates.crt" ] || fail "no CA roots"
[ -s "$mnt/usr/share/zoneinfo/Europe/Istanbul" ] || fail "no Europe/Istanbul time zone data"
podman image unmount "$image" >/dev/null
trap - EXIT
version=$(podman run --rm --read-only "$image" --version)
echo "$version" | grep -Eq '^acikkapi [0-9.]+ \(commit [0-9a-f]{12}\)$' || fail "--version says '$version'"

# Served from the image: read-only root, data on a tmpfs, ready, then SIGTERM.
name=acikkapi-image-check
podman rm -f "$name" >/dev/null 2>&1 || true
grpc=127.0.0.1:${IMAGE_GRPC_PORT:-59051} http=127.0.0.1:${IMAGE_HTTP_PORT:-59464}
podman run -d --name "$name" --read-only --tmpfs /data:rw,mode=1777 --network host \
  -e ACIKKAPI__DATA_DIR=/data -e ACIKKAPI__SERVER__HTTP_ADDR="$http" \
  -e ACIKKAPI__PORTAL__ADDR=127.0.0.1:${IMAGE_PORTAL_PORT:-59080} \
  "$image" serve --grpc-addr "$grpc" >/dev/null
started=$(date +%s.%N)
ready=""
for _ in $(seq 1 300); do
  if curl -fsS "http://$http/readyz" >/dev/null 2>&1; then ready=$(date +%s.%N); break; fi
  sleep 0.1
done
[ -n "$ready" ] || { podman logs "$name" | tail -20 >&2; podman rm -f "$name" >/dev/null; fail "not ready in 30 s"; }
podman stop -t 30 "$name" >/dev/null
code=$(podman inspect --format '{{.State.ExitCode}}' "$name")
podman rm "$name" >/dev/null
[ "$code" = 0 ] || fail "exited $code on SIGTERM"
size=$(podman image inspect --format '{{.Size}}' "$image")
printf 'image: %s, %s, %d MB; non-root (10001), read-only root, CA roots and Europe/Istanbul present; ready in %.1f s, stopped cleanly on SIGTERM\n' \
  "$image" "$version" $((size / 1000000)) "$(echo "$ready - $started" | bc)"
