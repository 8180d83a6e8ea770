#!/usr/bin/env bash
# The package's documents, made from the built programs themselves so they never drift from
# them: the man pages muzzled(8) and muzzlectl(1) from their --help (help2man; muzzlectl's page
# also holds every subcommand's --help), the bash completion from `muzzlectl completion bash`,
# and the Debian changelog, compressed as Debian policy asks (gzip -9n: no name, no time stamp).
#
#   image/docs.sh MUZZLED MUZZLECTL VERSION OUT_DIR
#
# Run by the build (image/CMakeLists.txt, target muzzle_package_docs).
set -euo pipefail
muzzled="$1" muzzlectl="$2" version="$3" out="$4"
here="$(cd "$(dirname "$0")" && pwd)"
command -v help2man >/dev/null || {
  echo "image/docs.sh: help2man is missing: run tests/setup.sh or image/setup.sh (they install it)" >&2
  exit 1
}
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Text as roff that prints as it is: backslashes escaped, a leading . or ' defused.
roff_literal() { sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"; }

# muzzlectl as a user runs it: its help's usage lines name "muzzlectl", not the build's path.
ctl() { (exec -a muzzlectl "$muzzlectl" "$@"); }

# Every command path muzzlectl has, from its completion script ("/policy/apply" -> "policy apply").
ctl completion bash >"$tmp/muzzlectl.bash"
{
  echo "[COMMANDS]"
  echo "Each command's own help, as \\fBmuzzlectl COMMAND --help\\fR prints it."
  sed -n 's/^ *"\(\/[^"]*\)") path=.*/\1/p' "$tmp/muzzlectl.bash" | tr / ' ' | sed 's/^ //' |
    while read -r -a command; do
      echo ".SS \"muzzlectl ${command[*]}\""
      echo ".nf"
      ctl "${command[@]}" --help | roff_literal
      echo ".fi"
    done
  echo "[SEE ALSO]"
  echo ".BR muzzled (8)"
} >"$tmp/muzzlectl.h2m"
printf '[SEE ALSO]\n.BR muzzlectl (1)\n' >"$tmp/muzzled.h2m"

help2man --no-info --section 8 --version-string "$version" --include "$tmp/muzzled.h2m" \
  --name "per-device firewall for IoT network segments" "$muzzled" >"$tmp/muzzled.8"
help2man --no-info --section 1 --version-string "$version" --include "$tmp/muzzlectl.h2m" \
  --name "manage Muzzle boxes through their management API" "$muzzlectl" >"$tmp/muzzlectl.1"
gzip -9n <"$tmp/muzzled.8" >"$out/muzzled.8.gz"
gzip -9n <"$tmp/muzzlectl.1" >"$out/muzzlectl.1.gz"
cp "$tmp/muzzlectl.bash" "$out/muzzlectl"
gzip -9n <"$here/debian/changelog" >"$out/changelog.gz"
