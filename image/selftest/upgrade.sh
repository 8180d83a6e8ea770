# shellcheck shell=bash disable=SC2154  # say, lab_*, $config, $LABNET: muzzle-selftest and lab.sh
# upgrade.sh: the boot self-test's package upgrade, sourced by muzzle-selftest (which provides
# say, muzzled_journal, journal_has, $config and the lab library) once muzzled.service enforces
# the example policy in the lab gateway's namespace with an admin's config. Defines
# selftest_upgrade, which does nothing but say so when no upgrade drive is attached, unless the
# kernel command line says muzzle.selftest_upgrade=1 (image/smoke.sh does when it attaches one):
# then a missing drive is a failure.
#
# The drive (image/build.sh: make_upgrade_drive) holds a newer package with the same binaries
# (<version>+selftest1) and the installed one. With a camera trying the simulated internet over
# and over (denied: what arrives there is counted, and must stay 0), a long-lived allowed flow to
# the NVR, a few revisions in state_dir and `nft monitor` watching the gateway's namespace, it
# installs the newer package with dpkg -i, as an admin would, and checks: the version changed;
# muzzled.service runs a new process; the config edit, the revisions and the audit chain are
# intact, the inventory was carried over and the policy generation kept; the flow to the NVR
# never broke; new flows are judged; table inet muzzle was never absent (every deletion was
# re-created in the same transaction). Then installing the older package again (a downgrade)
# must be refused, naming both versions, and change nothing.

readonly upgrade_label=muzzle-upgrade
readonly upgrade_mount=/run/muzzle-selftest-upgrade
readonly upgrade_work=/run/muzzle-selftest-upgrade.work
readonly upgrade_state=/var/lib/muzzle

# Polls COMMAND every 0.2 s until it succeeds, for at most SECONDS.
upgrade_wait() {
  local seconds="$1" i
  shift
  for ((i = 0; i < seconds * 5; i++)); do
    "$@" && return 0
    sleep 0.2
  done
  "$@"
}

upgrade_positive() { [[ "$1" =~ ^[0-9]+$ ]] && (($1 > 0)); }
upgrade_ctl() { muzzlectl --timeout 20 "$@"; }  # the local socket, as root
upgrade_version() { dpkg-query -W -f='${Version}' muzzle; }
upgrade_status() { dpkg-query -W -f='${db:Status-Abbrev}' muzzle; }
upgrade_pid() { systemctl show -p MainPID --value muzzled.service; }

# What reached the simulated internet from SOURCE, counted by table inet muzzle_selftest in its
# namespace (upgrade_count_arrivals); "unreadable" when the counters cannot be read.
upgrade_arrived() {
  local listing
  listing="$(lab_exec inet nft list chain inet muzzle_selftest arrivals)" || {
    echo unreadable
    return 0
  }
  awk -v src="$1" '{ mine = 0; for (i = 1; i < NF; i++) {
                             if ($i == "saddr" && $(i + 1) == src) mine = 1
                             if (mine && $i == "packets") n += $(i + 1) } }
                     END { print n + 0 }' <<<"$listing"
}
# Packets of the camera's, over IPv4 and IPv6.
upgrade_camera_arrived() {
  local v4 v6
  v4="$(upgrade_arrived 198.18.10.11)"
  v6="$(upgrade_arrived fd00:10::11)"
  if [[ "$v4" == unreadable || "$v6" == unreadable ]]; then echo unreadable; else echo $((v4 + v6)); fi
}

# Counts, in the simulated internet's namespace, every packet that arrives from the camera (its
# profile reaches the NVR and the gateway, never the internet) and, as the control that shows the
# counters count, from the vacuum (allowed to its cloud).
upgrade_count_arrivals() {
  lab_exec inet nft -f - <<'NFT'
table inet muzzle_selftest {
  chain arrivals {
    type filter hook prerouting priority raw; policy accept;
    ip saddr 198.18.10.11 counter
    ip6 saddr fd00:10::11 counter
    ip saddr 198.18.10.21 counter
  }
}
NFT
}

# The camera trying the simulated internet, round after round until killed: each round new flows
# (UDP to 8 fresh ports over IPv4 and IPv6, a TCP connection to 443), so each meets the queue and
# not a verdict kept in conntrack. The number of rounds done is in FILE.
upgrade_denied_stream() {
  local file="$1"
  lab_exec cam1 bash -c '
    labnet="$0" file="$1" round=0
    while :; do
      port=$((20000 + (round * 8) % 20000))
      "$labnet" burst 203.0.113.10 "$port" --flows 8 >/dev/null
      "$labnet" burst 2001:db8:cafe::10 "$port" --flows 8 >/dev/null
      "$labnet" tcp 203.0.113.10 443 --timeout-ms 300 >/dev/null
      round=$((round + 1))
      echo "$round" >"$file.new" && mv "$file.new" "$file"
      sleep 0.1
    done' "$LABNET" "$file" </dev/null >/dev/null 2>&1 &
  UPGRADE_STREAM_PID=$!
  _lab_remember_pid "$UPGRADE_STREAM_PID"
}
upgrade_rounds() { cat "$upgrade_work/rounds" 2>/dev/null || echo 0; }

# `nft monitor` in the gateway's namespace into FILE; returns once it reports a change (a
# throw-away table made and deleted there), so nothing that follows goes unseen.
upgrade_monitor_start() {
  local file="$1"
  lab_exec gw nft monitor >"$file" 2>&1 </dev/null &
  UPGRADE_MONITOR_PID=$!
  _lab_remember_pid "$UPGRADE_MONITOR_PID"
  upgrade_monitor_probe() {
    lab_exec gw nft add table inet muzzle_selftest_probe &&
      lab_exec gw nft delete table inet muzzle_selftest_probe &&
      grep -q '^delete table inet muzzle_selftest_probe$' "$file"
  }
  upgrade_wait 20 upgrade_monitor_probe
}

# Reads an `nft monitor` log: every transaction ends with "# new generation N by process ...".
# Prints "DELETIONS ADDITIONS LOST": how many transactions deleted table inet muzzle, how many
# added it, and how many deleted it without adding it again (a moment without the table).
upgrade_table_events() {
  awk '
    /^# new generation / { if (deleted && !added) lost++; deleted = 0; added = 0; next }
    $0 == "delete table inet muzzle" { deleted = 1; added = 0; deletions++; next }
    $0 == "add table inet muzzle" { if (deleted) added = 1; additions++; next }
    END { if (deleted && !added) lost++; print deletions + 0, additions + 0, lost + 0 }' "$1"
}

# The journal's time of the first line matching PATTERN in muzzled.service invocation ID, in
# microseconds since the epoch (empty when there is none).
upgrade_journal_usec() {
  journalctl "_SYSTEMD_INVOCATION_ID=$1" -o export --no-pager 2>/dev/null | awk -v p="$2" '
    /^__REALTIME_TIMESTAMP=/ { t = substr($0, 22) }
    /^MESSAGE=/ && $0 ~ p { print t; exit }'
}

# dpkg ARGS... with its maintainer scripts' calls (-D2) and every line stamped with the seconds
# since it started, into $upgrade_work/dpkg.log (appended); returns dpkg's status. What takes the
# time under emulation is then on the console.
upgrade_dpkg() {
  local t0=${EPOCHREALTIME/./} line now
  DEBIAN_FRONTEND=noninteractive dpkg -D2 "$@" </dev/null 2>&1 | while IFS= read -r line; do
    [[ "$line" == *"D000002: process_archive"* ]] && continue # its bookkeeping, not a step
    now=${EPOCHREALTIME/./}
    printf '  dpkg %5d.%d s  %s\n' $(((now - t0) / 1000000)) $(((now - t0) / 100000 % 10)) "$line"
  done >>"$upgrade_work/dpkg.log"
  return "${PIPESTATUS[0]}"
}

# Files of state_dir that must come through an upgrade unchanged: the revisions (text, metadata,
# current) and the generation. The audit log and inventory may grow; they are checked apart.
upgrade_state_digest() {
  (cd "$upgrade_state" && sha256sum revisions/* generation)
}

selftest_upgrade() {
  local required=0 dev="/dev/disk/by-label/$upgrade_label" start=$SECONDS
  grep -qw 'muzzle.selftest_upgrade=1' /proc/cmdline && required=1
  say "upgrade: looking for the upgrade drive (label $upgrade_label; required: $required)"
  if ! upgrade_wait $((required ? 30 : 2)) test -e "$dev"; then
    if ((required)); then
      lab_fail "the upgrade drive (label $upgrade_label) is attached, as muzzle.selftest_upgrade=1 says"
    else
      say "upgrade: no upgrade drive attached; the upgrade checks are skipped"
    fi
    return 0
  fi
  install -d -m 0755 "$upgrade_mount" "$upgrade_work"
  lab_check "the upgrade drive mounts (read-only)" mount -o ro "$dev" "$upgrade_mount" || true
  mountpoint -q "$upgrade_mount" || return 0

  local old_version new_version="" old_deb="" new_deb="" deb v
  old_version="$(upgrade_version)"
  for deb in "$upgrade_mount"/*.deb; do
    v="$(dpkg-deb -f "$deb" Version)"
    if [[ "$v" == "$old_version" ]]; then old_deb="$deb"; else new_deb="$deb" new_version="$v"; fi
  done
  say "upgrade: installed $old_version; on the drive: $(cd "$upgrade_mount" && echo *.deb)"
  lab_check "the upgrade drive holds the installed package and a newer one" \
    bash -c "[[ -n '$old_deb' && -n '$new_deb' ]] && dpkg --compare-versions '$new_version' gt '$old_version'"
  if [[ -z "$old_deb" || -z "$new_deb" ]]; then
    umount "$upgrade_mount"
    return 0
  fi

  # -- before: an admin's state ------------------------------------------------------------
  # fail_mode closed: the queue rules have no bypass flag, so while no muzzled listens the kernel
  # drops new flows instead of passing them (open would add `bypass`).
  lab_check "upgrade: fail_mode closed queues without bypass (no muzzled: new flows wait, none pass)" \
    bash -c "ip netns exec $(lab_ns gw) nft list table inet muzzle | grep -q 'queue .*to 100' &&
             ! ip netns exec $(lab_ns gw) nft list table inet muzzle | grep -q bypass"
  lab_check "upgrade: an admin's revisions (device set, twice)" bash -c '
    muzzlectl --timeout 20 device set 02:5a:00:00:00:99 --name gadget --profile quarantine \
      --comment "muzzle-selftest: before the upgrade" >/dev/null &&
    muzzlectl --timeout 20 device set 02:5a:00:00:00:99 --profile vacuum \
      --comment "muzzle-selftest: before the upgrade, again" >/dev/null'
  printf '# An admin edit made before the upgrade (muzzle-selftest): it must survive it.\n' >>"$config"
  local config_sum history_before generation_before old_pid old_id
  config_sum="$(sha256sum <"$config")"
  history_before="$(upgrade_ctl policy history 2>&1 || true)"
  upgrade_state_digest >"$upgrade_work/state.before" 2>&1 || true
  cp "$upgrade_state/audit.log" "$upgrade_work/audit.before" || : >"$upgrade_work/audit.before"
  old_pid="$(upgrade_pid)"
  old_id="$(systemctl show -p InvocationID --value muzzled.service)"
  generation_before="$(cut -d' ' -f1 "$upgrade_state/generation" 2>/dev/null || true)"
  say "upgrade: muzzled pid $old_pid, generation ${generation_before:-?}; revisions:"
  sed 's/^/  /' <<<"$history_before"

  # -- traffic that runs across the upgrade ------------------------------------------------
  lab_check "upgrade: counters in the simulated internet's namespace" upgrade_count_arrivals
  lab_expect allowed vacuum cloud2 tcp 443
  local control
  control="$(upgrade_arrived 198.18.10.21)"
  lab_check "  which count what arrives there (the vacuum's allowed flow: $control packets)" \
    upgrade_positive "$control"
  lab_check "upgrade: nft monitor watches the gateway's namespace" \
    upgrade_monitor_start "$upgrade_work/nft-monitor.log"
  lab_hold_start cam1 "$(lab_addr nvr)" 554 --interval-ms 200 --max-ms 900000 \
    --echo-timeout-ms 10000 || true
  lab_check "upgrade: a long-lived allowed flow, camera -> NVR tcp/554, echoes" \
    lab_hold_wait_echoes 3 30
  upgrade_denied_stream "$upgrade_work/rounds"
  upgrade_rounds_at_least() { (($(upgrade_rounds) >= $1)); }
  lab_check "upgrade: the camera tries the internet, round after round" \
    upgrade_wait 30 upgrade_rounds_at_least 2

  # -- the upgrade -------------------------------------------------------------------------
  local rounds_before echoes_before dpkg_start dpkg_s rc=0
  rounds_before="$(upgrade_rounds)"
  echoes_before="$(lab_hold_echoes)"
  say "upgrade: dpkg -i $(basename "$new_deb")"
  dpkg_start=$SECONDS
  upgrade_dpkg -i "$new_deb" || rc=$?
  dpkg_s=$((SECONDS - dpkg_start))
  cat "$upgrade_work/dpkg.log"
  lab_check "upgrade: dpkg -i of the newer package succeeds ($dpkg_s s)" test "$rc" = 0
  lab_check "  the installed version is now $new_version" \
    test "$(upgrade_version)/$(upgrade_status)" = "$new_version/ii "
  local new_pid new_id
  new_pid="$(upgrade_pid)"
  new_id="$(systemctl show -p InvocationID --value muzzled.service)"
  say "upgrade: muzzled pid $old_pid -> $new_pid"
  lab_check "  muzzled.service is active, in a new process" \
    bash -c "systemctl is-active --quiet muzzled.service && [[ '$new_pid' != 0 && '$new_pid' != '$old_pid' ]]"
  lab_check "  it enforces again (event=ready in its new invocation)" journal_has 'event=ready'
  local generation_after
  generation_after="$(muzzled_journal | sed -n 's/.*event=ready generation=\([0-9]*\).*/\1/p' | tail -n1)"
  lab_check "  with the same policy generation ($generation_before -> $generation_after): flows judged before keep their verdicts" \
    bash -c "[[ -n '$generation_before' && '$generation_before' == '$generation_after' ]]"
  local stopping ready
  # (awk leaves at the first match: journalctl's broken pipe is not a failure here)
  stopping="$(upgrade_journal_usec "$old_id" 'event=stopping' || true)"
  ready="$(upgrade_journal_usec "$new_id" 'event=ready' || true)"
  if [[ -n "$stopping" && -n "$ready" ]]; then
    say "upgrade: no muzzled judged for $(((ready - stopping) / 1000)) ms (old event=stopping -> new event=ready); dpkg -i took $dpkg_s s"
  fi
  lab_check "  the camera kept trying during the upgrade ($rounds_before rounds before, $(upgrade_rounds) after)" \
    test "$(upgrade_rounds)" -gt "$rounds_before"

  # Kept: the admin's config, the revisions, the audit chain, the inventory.
  lab_check "  the admin's edit of muzzled.yaml is kept, and no .dpkg-* copy beside it" \
    bash -c "[[ \"\$(sha256sum <'$config')\" == '$config_sum' ]] && ! ls /etc/muzzle/*.dpkg-* 2>/dev/null"
  lab_check "  the revisions are the same (muzzlectl policy history)" \
    test "$(upgrade_ctl policy history 2>&1 || true)" = "$history_before"
  lab_check "  state_dir's revisions and generation are byte for byte the same" \
    bash -c "diff <(cd '$upgrade_state' && sha256sum revisions/* generation) '$upgrade_work/state.before'"
  lab_check "  the audit log only grew (what was there is unchanged)" \
    cmp -s -n "$(stat -c %s "$upgrade_work/audit.before")" "$upgrade_work/audit.before" \
    "$upgrade_state/audit.log"
  lab_check "  the audit chain verifies (muzzlectl audit --verify)" upgrade_ctl audit --verify
  lab_check "  the device inventory came through (event=inventory-loaded with devices)" \
    journal_has 'event=inventory-loaded devices=[1-9]'

  # The traffic: the flow to the NVR never broke, new flows are judged.
  upgrade_hold_carries_on() { lab_hold_wait_echoes "$1" 30 && lab_hold_alive; }
  lab_check "  the flow to the NVR never broke, and carries on (5 echoes more within 30 s)" \
    upgrade_hold_carries_on $((echoes_before + 5))
  say "upgrade: the flow to the NVR: $(lab_hold_echoes) echoes ($echoes_before before the upgrade)"
  lab_table_header
  lab_expect allowed cam1 nvr tcp 554
  lab_expect rejected cam1 cloud1 tcp 443
  lab_expect allowed cam1 nvr tcp 554 6
  lab_expect rejected cam1 cloud1 tcp 443 6
  lab_check "  the new muzzled judges the camera's tries (event=deny in its journal)" \
    journal_has 'event=deny .*dst=203.0.113.10:'

  # -- a downgrade: refused, nothing changes ---------------------------------------------------
  local monitor_lines out
  monitor_lines="$(wc -l <"$upgrade_work/nft-monitor.log")"
  rc=0
  : >"$upgrade_work/dpkg.log"
  dpkg_start=$SECONDS
  upgrade_dpkg -i "$old_deb" || rc=$?
  out="$(cat "$upgrade_work/dpkg.log")"
  printf '%s\n' "$out"
  say "upgrade: the refused downgrade took $((SECONDS - dpkg_start)) s"
  lab_check "downgrade: dpkg -i of the older package fails" test "$rc" != 0
  lab_check "  saying why, with both versions and how to force it" \
    bash -c "grep -qF 'refusing to downgrade from $new_version (installed) to $old_version' <<<\"\$1\" &&
             grep -qF 'MUZZLE_ALLOW_DOWNGRADE=1 apt install' <<<\"\$1\"" _ "$out"
  lab_check "  the newer package stays installed ($(upgrade_version))" \
    test "$(upgrade_version)/$(upgrade_status)" = "$new_version/ii "
  lab_check "  muzzled was not restarted (pid $(upgrade_pid))" \
    bash -c "systemctl is-active --quiet muzzled.service && [[ \"\$(systemctl show -p MainPID --value muzzled.service)\" == '$new_pid' ]]"
  lab_check "  the config is unchanged" test "$(sha256sum <"$config")" = "$config_sum"
  lab_check "  table inet muzzle was not touched" \
    bash -c "! tail -n +$((monitor_lines + 1)) '$upgrade_work/nft-monitor.log' | grep -q 'table inet muzzle\$'"

  # -- the whole time ------------------------------------------------------------------------
  kill "$UPGRADE_STREAM_PID" "$UPGRADE_MONITOR_PID" "$LAB_HOLD_PID" 2>/dev/null || true
  local arrived events
  arrived="$(upgrade_camera_arrived)"
  lab_check "no packet of the camera's $(upgrade_rounds) rounds of tries reached the internet (arrived: $arrived)" \
    test "$arrived" = 0
  events="$(upgrade_table_events "$upgrade_work/nft-monitor.log")"
  say "upgrade: table inet muzzle in nft monitor: deleted, added, deleted and not re-added: $events"
  lab_check "table inet muzzle was never absent: replaced in one transaction, never deleted alone" \
    bash -c "read -r deleted added lost <<<'$events'; ((added >= 1 && lost == 0))"
  lab_exec inet nft delete table inet muzzle_selftest || true
  umount "$upgrade_mount" || true
  say "upgrade: checks took $((SECONDS - start)) s"
}
