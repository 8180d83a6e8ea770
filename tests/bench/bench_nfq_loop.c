/* bench_nfq_loop: the user-space ceiling for the benchmark. A minimal accept-all netfilter queue
 * loop (libnetfilter_queue's libmnl API) that answers exactly like muzzled: NF_REPEAT with the
 * allow verdict mark of the installed generation (fw/nft/marks.h), so it runs behind muzzled's
 * own ruleset. It does nothing else per packet: whatever muzzled costs beyond this is muzzled's.
 *
 *   bench_nfq_loop --queue 100 --mark MARK [--batch] [--max-seconds 600]
 *
 * Like muzzled with queue {first: 100, count: 1}, it binds flow queue 100 and inspection queue
 * 101 (DNS answers, DHCP requests) on one socket; inspection packets are answered NF_ACCEPT, as
 * muzzled answers them (a repeat would queue them again).
 * Per-packet mode sends one verdict message per packet, at once. --batch drains the socket until
 * it would block and then answers everything read with one NFQNL_MSG_VERDICT_BATCH per queue
 * (the kernel applies it to every queued id up to the last one). The queues are configured as
 * muzzled configures its own (copy ranges, queue length, socket buffer, GSO), so the comparison
 * is fair.
 * Runs until SIGTERM/SIGINT or --max-seconds (SIGALRM); prints one counters line on exit.
 * Must run inside the gateway's network namespace (the bench script does that).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The same values as fw/nfq (kHeaderCopyRange, kWholePacketCopyRange, QueueOptions). */
enum {
  kHeaderCopyRange = 512,
  kWholePacketCopyRange = 0xffff,
  kQueueMaxLen = 4096,
  kSocketBufferBytes = 8 * 1024 * 1024
};
static char recv_buf[0xffff + 4096];

static volatile sig_atomic_t stop_requested;
static void onSignal(int signo) {
  (void)signo;
  stop_requested = 1;
}

/* Index 0: the flow queue (NF_REPEAT + mark); 1: the inspection queue (NF_ACCEPT). */
struct Loop {
  struct mnl_socket* nl;
  uint32_t portid;
  uint16_t queue; /* the flow queue; the inspection queue is queue + 1 */
  uint32_t mark;
  bool batch;
  uint32_t last_id[2]; /* highest packet id read since the last batch verdict, per queue */
  bool unanswered[2];
  bool have_unanswered;
  uint64_t packets;
  uint64_t verdict_messages;
  uint64_t enobufs;
};

static int sendVerdict(struct Loop* loop, int which, uint32_t id, bool batch) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr* nlh = nfq_nlmsg_put(buf, batch ? NFQNL_MSG_VERDICT_BATCH : NFQNL_MSG_VERDICT,
                                       loop->queue + which);
  nfq_nlmsg_verdict_put(nlh, (int)id, which == 0 ? NF_REPEAT : NF_ACCEPT);
  if (which == 0) nfq_nlmsg_verdict_put_mark(nlh, loop->mark);
  for (;;) {
    if (mnl_socket_sendto(loop->nl, nlh, nlh->nlmsg_len) >= 0) break;
    if (errno != EINTR) {
      perror("bench_nfq_loop: sending a verdict");
      return -1;
    }
  }
  ++loop->verdict_messages;
  return 0;
}

static int onPacket(const struct nlmsghdr* nlh, void* data) {
  struct Loop* loop = data;
  struct nlattr* attr[NFQA_MAX + 1] = {0};
  if (nfq_nlmsg_parse(nlh, attr) < 0 || attr[NFQA_PACKET_HDR] == NULL) return MNL_CB_OK;
  const struct nfqnl_msg_packet_hdr* ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
  const struct nfgenmsg* nfg = mnl_nlmsg_get_payload(nlh);
  const int which = ntohs(nfg->res_id) == loop->queue ? 0 : 1;
  uint32_t id = ntohl(ph->packet_id);
  ++loop->packets;
  if (loop->batch) {
    loop->last_id[which] = id;
    loop->unanswered[which] = true;
    loop->have_unanswered = true;
    return MNL_CB_OK;
  }
  return sendVerdict(loop, which, id, false) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

/* --batch: one verdict per queue for everything read so far. */
static int answerBatch(struct Loop* loop) {
  for (int which = 0; which < 2; ++which) {
    if (!loop->unanswered[which]) continue;
    if (sendVerdict(loop, which, loop->last_id[which], true) < 0) return -1;
    loop->unanswered[which] = false;
  }
  loop->have_unanswered = false;
  return 0;
}

/* Sends one config message and waits for its acknowledgement. */
static int request(struct Loop* loop, struct nlmsghdr* nlh) {
  static uint32_t seq;
  nlh->nlmsg_flags |= NLM_F_ACK;
  nlh->nlmsg_seq = ++seq;
  if (mnl_socket_sendto(loop->nl, nlh, nlh->nlmsg_len) < 0) return -1;
  char buf[MNL_SOCKET_BUFFER_SIZE];
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(loop->nl, buf, sizeof(buf));
    if (n < 0) return -1;
    int rc = mnl_cb_run(buf, (size_t)n, seq, loop->portid, NULL, NULL);
    if (rc < 0) return -1;
    if (rc == MNL_CB_STOP) return 0;
  }
}

static int openQueue(struct Loop* loop) {
  loop->nl = mnl_socket_open(NETLINK_NETFILTER);
  if (loop->nl == NULL || mnl_socket_bind(loop->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
    perror("bench_nfq_loop: netlink socket");
    return -1;
  }
  loop->portid = mnl_socket_get_portid(loop->nl);
  int size = kSocketBufferBytes;
  setsockopt(mnl_socket_get_fd(loop->nl), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));

  for (int which = 0; which < 2; ++which) {
    const uint16_t queue = (uint16_t)(loop->queue + which);
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr* nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);
    nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_BIND);
    if (request(loop, nlh) < 0) {
      fprintf(stderr, "bench_nfq_loop: cannot bind queue %u: %s\n", queue, strerror(errno));
      return -1;
    }
    nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);
    nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, which == 0 ? kHeaderCopyRange : kWholePacketCopyRange);
    nfq_nlmsg_cfg_put_qmaxlen(nlh, kQueueMaxLen);
    mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(NFQA_CFG_F_GSO));
    mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_GSO));
    if (request(loop, nlh) < 0) {
      fprintf(stderr, "bench_nfq_loop: cannot configure queue %u: %s\n", queue, strerror(errno));
      return -1;
    }
  }
  return 0;
}

int main(int argc, char** argv) {
  struct Loop loop = {.queue = 100};
  unsigned max_seconds = 600; /* bounded even if the script that started us dies */
  bool have_mark = false;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--queue") == 0 && i + 1 < argc) {
      loop.queue = (uint16_t)strtoul(argv[++i], NULL, 0);
    } else if (strcmp(argv[i], "--mark") == 0 && i + 1 < argc) {
      loop.mark = (uint32_t)strtoul(argv[++i], NULL, 0);
      have_mark = true;
    } else if (strcmp(argv[i], "--batch") == 0) {
      loop.batch = true;
    } else if (strcmp(argv[i], "--max-seconds") == 0 && i + 1 < argc) {
      max_seconds = (unsigned)strtoul(argv[++i], NULL, 0);
    } else {
      fprintf(stderr, "usage: bench_nfq_loop --queue N --mark MARK [--batch] [--max-seconds S]\n");
      return 64;
    }
  }
  if (!have_mark) {
    fprintf(stderr, "bench_nfq_loop: --mark is required (generation << 8 | 1)\n");
    return 64;
  }
  struct sigaction sa = {.sa_handler = onSignal}; /* no SA_RESTART: recv returns EINTR */
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGALRM, &sa, NULL);
  alarm(max_seconds);
  if (openQueue(&loop) < 0) return 1;
  printf("bench_nfq_loop: ready queue=%u mode=%s\n", loop.queue, loop.batch ? "batch" : "per-packet");
  fflush(stdout);

  const int fd = mnl_socket_get_fd(loop.nl);
  int status = 0;
  while (!stop_requested) {
    /* Block for the first message, then take whatever else is there without blocking. */
    int flags = loop.have_unanswered ? MSG_DONTWAIT : 0;
    ssize_t n = recv(fd, recv_buf, sizeof(recv_buf), flags);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (answerBatch(&loop) < 0) {
          status = 1;
          break;
        }
        continue;
      }
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {
        ++loop.enobufs;
        continue;
      }
      perror("bench_nfq_loop: recv");
      status = 1;
      break;
    }
    /* A malformed message is skipped, as muzzled does; a failed send was reported. */
    (void)mnl_cb_run(recv_buf, (size_t)n, 0, loop.portid, onPacket, &loop);
  }
  if (loop.have_unanswered) answerBatch(&loop);
  printf("bench_nfq_loop: stopped packets=%llu verdict_messages=%llu enobufs=%llu\n",
         (unsigned long long)loop.packets, (unsigned long long)loop.verdict_messages,
         (unsigned long long)loop.enobufs);
  mnl_socket_close(loop.nl);
  return status;
}
