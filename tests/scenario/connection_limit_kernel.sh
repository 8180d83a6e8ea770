#!/usr/bin/env bash
# The connection limit on a box without accounting (devices.accounting_interval_seconds: 0): the
# kernel's rule counts each device's connections (conntrack's count in @conn-limit), as muzzled
# counts them when accounting reads conntrack. The same scenario as connection_limit.sh.
COUNTED_BY=kernel exec bash "$(dirname "$0")/connection_limit.sh"
