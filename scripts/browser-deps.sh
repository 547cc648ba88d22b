#!/usr/bin/env bash
# Makes sure the portal's browser tests can run: Debian's Chromium (the
# browser; no test tool may download one), Node.js, and the pinned npm
# packages of services/portal/browser-tests (playwright-core, axe-core) from
# its package-lock.json. Idempotent: installs only what is missing. Exits
# non-zero when something cannot be had: the browser tests fail, never skip.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf 'browser-deps: %s\n' "$*" >&2; }

apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing $* from Debian's packages"
    if [ ! -f /tmp/.acikkapi-apt-updated ]; then apt-get update -qq && touch /tmp/.acikkapi-apt-updated; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    log "missing: $* (install them as root: apt-get install $*)"
    return 1
  fi
}

[ -x /usr/bin/chromium ] || apt_install chromium
# A font with Turkish letters for the screenshots (Chromium's default has them too).
[ -d /usr/share/fonts/truetype/dejavu ] || apt_install fonts-dejavu-core
command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm

dir=services/portal/browser-tests
want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
if [ "$(cat "$dir/node_modules/.lock-sha256" 2>/dev/null)" != "$want" ]; then
  log "npm ci in $dir"
  (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$dir/node_modules/.lock-sha256"
fi
/usr/bin/chromium --version >&2
