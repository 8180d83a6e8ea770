#!/usr/bin/env bash
# The package's preinst (image/debian/preinst.in, as configured into the build): what dpkg's
# calls do to it, without installing anything. CTest `image_preinst` (label `package`).
#
#   image/preinst_test.sh BUILD/image/debian/preinst VERSION
set -uo pipefail

preinst="${1:?usage: preinst_test.sh PREINST VERSION}"
version="${2:?usage: preinst_test.sh PREINST VERSION}"
passed=0
failed=0

# expect NAME RC PATTERN|"" [ENV=VALUE...] -- ARGS...: runs the preinst with ARGS (and ENV), and
# requires exit status RC and, unless PATTERN is empty, PATTERN (grep -F) in its output.
expect() {
  local name="$1" rc="$2" pattern="$3" env=() out got
  shift 3
  while [[ "$1" != -- ]]; do env+=("$1") && shift; done
  shift
  out="$(env -u MUZZLE_ALLOW_DOWNGRADE "${env[@]}" sh "$preinst" "$@" 2>&1)"
  got=$?
  if [[ "$got" == "$rc" && (-z "$pattern" || "$out" == *"$pattern"*) ]]; then
    passed=$((passed + 1))
    printf '  PASS  %s\n' "$name"
  else
    failed=$((failed + 1))
    printf '  FAIL  %s: exit %s (wanted %s), output:\n%s\n' "$name" "$got" "$rc" "$out"
  fi
}

[[ -r "$preinst" ]] || {
  echo "preinst_test: $preinst is missing: configure the build (cmake) first"
  exit 1
}
grep -qx "version='$version'" "$preinst" || {
  echo "preinst_test: $preinst does not say version='$version' (configure_file in image/CMakeLists.txt)"
  exit 1
}

newer="$version+selftest1"
expect "a first install" 0 "" -- install
expect "an upgrade from an older version" 0 "" -- upgrade 0.0.1
expect "an upgrade from a release candidate of this version" 0 "" -- upgrade "$version~rc1"
expect "reinstalling the same version" 0 "" -- upgrade "$version"
expect "a downgrade is refused, naming both versions" 1 \
  "refusing to downgrade from $newer (installed) to $version." -- upgrade "$newer"
expect "  and saying how to force it" 1 "MUZZLE_ALLOW_DOWNGRADE=1 apt install ./muzzle_${version}_" \
  -- upgrade "$newer"
expect "  and that nothing changed" 1 "muzzle $newer stays installed and muzzled keeps running" \
  -- upgrade "$newer"
expect "installing over a newer version's kept state is refused too" 1 \
  "refusing to downgrade from 2.0 (removed, its configuration and state kept) to $version." \
  -- install 2.0
expect "MUZZLE_ALLOW_DOWNGRADE=1 lets a downgrade pass, with a warning" 0 \
  "downgrading from $newer to $version (MUZZLE_ALLOW_DOWNGRADE=1)" \
  MUZZLE_ALLOW_DOWNGRADE=1 -- upgrade "$newer"
expect "any other value of MUZZLE_ALLOW_DOWNGRADE does not" 1 "refusing to downgrade" \
  MUZZLE_ALLOW_DOWNGRADE=yes -- upgrade "$newer"
expect "abort-upgrade passes (dpkg undoing a failed upgrade)" 0 "" -- abort-upgrade "$newer"

printf '%d passed, %d failed\n' "$passed" "$failed"
((failed == 0))
