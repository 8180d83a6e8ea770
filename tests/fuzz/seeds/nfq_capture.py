#!/usr/bin/env python3
"""Seeds for the fuzz targets from real kernel messages (run by capture-lab.sh, not by tests).

  nfq_capture.py capture OUT_DIR QUEUE:COPY_RANGE...
      Binds the netfilter queues (in the calling network namespace, as muzzled does: copy mode
      packet, GSO) and writes every queued-packet message the kernel sends, byte for byte, to
      OUT_DIR/NNNN.msg, answering each with NF_ACCEPT. Touches `OUT_DIR/ready` once bound; stops
      on SIGTERM.
  nfq_capture.py judge IFMAP OUT_FILE MSG...
      Turns captured messages into one judge_fuzz input (tests/fuzz/judge_fuzz.cc has the
      format). IFMAP maps the capturing namespace's interface indexes to the target's
      interface selectors: "2=br-cam,5=lan-nvr,..." (names as judge_fuzz knows them).
  nfq_capture.py packets OUT_PREFIX MSG...
      Writes the packet of each message (from its IP header) to OUT_PREFIX-N (packet_fuzz), and
      the UDP payload of a DHCP request (hint 0x80) to OUT_PREFIX-dhcp-N (dhcp_fuzz).
"""
import os
import signal
import socket
import struct
import sys

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NFQA_CFG_CMD, NFQA_CFG_PARAMS, NFQA_CFG_MASK, NFQA_CFG_FLAGS = 1, 2, 4, 5
NFQA_PACKET_HDR, NFQA_VERDICT_HDR, NFQA_MARK = 1, 2, 3
NFQA_IFINDEX_INDEV, NFQA_IFINDEX_OUTDEV = 5, 6
NFQA_HWADDR, NFQA_PAYLOAD, NFQA_CAP_LEN = 9, 10, 13
NFQNL_CFG_CMD_BIND, NFQNL_COPY_PACKET, NFQA_CFG_F_GSO = 1, 2, 4
NF_ACCEPT = 1

# judge_fuzz's selectors (tests/fuzz/judge_fuzz.cc).
INTERFACES = {"br-cam": 1, "br-iot": 2, "lan-nvr": 3, "uplink0": 4}
LAB_MACS = ["44:47:cc:00:00:11", "44:47:cc:00:00:12", "44:47:cc:00:00:13", "50:ec:50:00:00:21",
            "02:5a:00:00:00:99", "68:54:fd:00:00:31", "68:54:fd:00:00:41", "52:54:00:00:01:10"]


def align(n):
    return (n + 3) & ~3


def attr(kind, payload):
    return struct.pack("=HH", 4 + len(payload), kind) + payload + b"\0" * (align(len(payload)) - len(payload))


def message(kind, queue, attrs, seq, flags=NLM_F_REQUEST):
    body = struct.pack("=BBH", socket.AF_UNSPEC, 0, socket.htons(queue)) + b"".join(attrs)
    return struct.pack("=IHHII", 16 + len(body), NFNL_SUBSYS_QUEUE << 8 | kind, flags, seq, 0) + body


def attrs_of(msg):
    """The attributes of one nfqueue message: {type: payload}."""
    out = {}
    at = 20
    end = struct.unpack_from("=I", msg)[0]
    while at + 4 <= end:
        length, kind = struct.unpack_from("=HH", msg, at)
        if length < 4:
            break
        out[kind & 0x3FFF] = msg[at + 4:at + length]
        at += align(length)
    return out


def capture(out_dir, queues):
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sock.bind((0, 0))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    seq = 0
    for spec in queues:
        queue, copy_range = (int(x) for x in spec.split(":"))
        for attrs in ([attr(NFQA_CFG_CMD, struct.pack("!BxH", NFQNL_CFG_CMD_BIND, 0))],
                      [attr(NFQA_CFG_PARAMS, struct.pack("!IB", copy_range, NFQNL_COPY_PACKET)),
                       attr(NFQA_CFG_FLAGS, struct.pack("!I", NFQA_CFG_F_GSO)),
                       attr(NFQA_CFG_MASK, struct.pack("!I", NFQA_CFG_F_GSO))]):
            seq += 1
            sock.send(message(NFQNL_MSG_CONFIG, queue, attrs, seq, NLM_F_REQUEST | NLM_F_ACK))
            reply = sock.recv(65536)
            error = struct.unpack_from("=i", reply, 16)[0]
            if error != 0:
                sys.exit(f"nfq_capture: queue {queue}: {os.strerror(-error)}")
    open(os.path.join(out_dir, "ready"), "w").close()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    count = 0
    while True:
        buf = sock.recv(1 << 17)
        at = 0
        while at + 16 <= len(buf):
            length, kind = struct.unpack_from("=IH", buf, at)
            msg = buf[at:at + length]
            at += align(length)
            if kind != NFNL_SUBSYS_QUEUE << 8 | NFQNL_MSG_PACKET or length < 20:
                continue
            with open(os.path.join(out_dir, f"{count:04d}.msg"), "wb") as f:
                f.write(msg)
            count += 1
            queue = socket.ntohs(struct.unpack_from("=H", msg, 18)[0])
            packet_id = struct.unpack_from("!I", attrs_of(msg)[NFQA_PACKET_HDR])[0]
            seq += 1
            sock.send(message(NFQNL_MSG_VERDICT, queue,
                              [attr(NFQA_VERDICT_HDR, struct.pack("!II", NF_ACCEPT, packet_id))], seq))


def judge_input(ifmap_text, out_file, msgs):
    ifmap = {0: 0}
    for item in filter(None, ifmap_text.split(",")):
        index, name = item.split("=")
        ifmap[int(index)] = INTERFACES.get(name, 5)
    records = b""
    for path in msgs:
        with open(path, "rb") as f:
            a = attrs_of(f.read())
        hook = a[NFQA_PACKET_HDR][6]
        u32 = lambda kind: struct.unpack("!I", a[kind])[0] if kind in a else 0
        indev, outdev = ifmap.get(u32(NFQA_IFINDEX_INDEV), 5), ifmap.get(u32(NFQA_IFINDEX_OUTDEV), 5)
        mac_selector = 0
        if NFQA_HWADDR in a:
            mac = ":".join(f"{b:02x}" for b in a[NFQA_HWADDR][4:10])
            mac_selector = LAB_MACS.index(mac) + 1 if mac in LAB_MACS else 0x80 | a[NFQA_HWADDR][9] & 0x7F
        payload = a.get(NFQA_PAYLOAD, b"")
        header_only = NFQA_CAP_LEN in a and u32(NFQA_CAP_LEN) > len(payload)
        control = 1 | (0x20 if header_only else 0)  # 100 ms between packets
        records += struct.pack("!BBBBBBH", hook, indev, outdev, mac_selector, u32(NFQA_MARK) & 0xFF,
                               control, len(payload)) + payload
    with open(out_file, "wb") as f:
        f.write(records)


def packets(prefix, msgs):
    for n, path in enumerate(msgs):
        with open(path, "rb") as f:
            data = f.read()
        at = 0
        while at + 20 <= len(data):  # a file may hold several messages
            length = struct.unpack_from("=I", data, at)[0]
            a = attrs_of(data[at:at + length])
            at += align(length)
            payload = a.get(NFQA_PAYLOAD, b"")
            if not payload:
                continue
            with open(f"{prefix}-{n}", "wb") as f:
                f.write(payload)
            mark = struct.unpack("!I", a[NFQA_MARK])[0] if NFQA_MARK in a else 0
            if mark & 0x80 and payload[0] >> 4 == 4:
                with open(f"{prefix}-dhcp-{n}", "wb") as f:
                    f.write(payload[(payload[0] & 0xF) * 4 + 8:])
            break  # the first packet of each file


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "capture":
        capture(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) >= 4 and sys.argv[1] == "packets":
        packets(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) >= 5 and sys.argv[1] == "judge":
        judge_input(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        sys.exit(__doc__)
