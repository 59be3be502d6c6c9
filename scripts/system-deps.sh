#!/usr/bin/env bash
# The Debian packages the tests and the demonstration use, installed only where their command
# (or, for fonts, their directory) is missing: a machine whose Node.js comes from elsewhere
# already has npm, and Debian's npm package would conflict with that Node.js.
# Without root or apt-get, prints what is missing; the tests that need it are then skipped.
set -euo pipefail

# command-or-path  package
REQUIRED="
fitsverify fitsverify
fitscopy libcfitsio-bin
jq jq
chromium chromium
/usr/share/fonts/truetype/liberation fonts-liberation
npm npm
nginx nginx
wrk wrk
"

missing=()
while read -r probe package; do
  [ -n "$probe" ] || continue
  if [ "${probe:0:1}" = / ]; then
    [ -e "$probe" ] || missing+=("$package")
  else
    command -v "$probe" >/dev/null || missing+=("$package")
  fi
done <<<"$REQUIRED"

[ ${#missing[@]} -gt 0 ] || exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq
  # Without recommends: chromium's (upower, a notification daemon, Mesa) serve no headless browser.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "note: missing Debian packages: ${missing[*]}; the tests that need them will be skipped"
fi
