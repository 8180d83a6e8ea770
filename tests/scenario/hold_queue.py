#!/usr/bin/env python3
"""Binds netfilter queue N in the calling network namespace and holds it until killed, so that a
muzzled started there cannot bind it (tests/scenario/idle_setup.sh: a setup that fails to
enforce). Prints `bound pid=PID` once the kernel accepted the bind (PID: this process, to kill;
the caller's own pid is `ip netns exec`'s), or `error E` and exits 1.

Usage: hold_queue.py N
"""
import os
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_CONFIG = 2
NFQA_CFG_CMD = 1
NFQNL_CFG_CMD_BIND = 1
NLM_F_REQUEST, NLM_F_ACK = 1, 4

queue = int(sys.argv[1])
sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
sock.bind((0, 0))
# struct nfqnl_msg_config_cmd {u8 command; u8 pad; be16 pf}, as the NFQA_CFG_CMD attribute.
attr = struct.pack("=HH", 8, NFQA_CFG_CMD) + struct.pack("!BBH", NFQNL_CFG_CMD_BIND, 0, 0)
# struct nfgenmsg {u8 family; u8 version; be16 res_id (the queue)}.
body = struct.pack("!BBH", socket.AF_UNSPEC, 0, queue) + attr
header = struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_CONFIG,
                     NLM_F_REQUEST | NLM_F_ACK, 1, 0)
sock.send(header + body)
error = struct.unpack("=i", sock.recv(4096)[16:20])[0]
if error != 0:
    print("error %d" % error, flush=True)
    sys.exit(1)
print("bound pid=%d" % os.getpid(), flush=True)
while True:
    time.sleep(60)
