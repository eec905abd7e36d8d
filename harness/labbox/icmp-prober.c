/*
 * Fixed-rate ICMP echo prober for network-visible downtime. Sends one echo request every
 * 1/rate s on an absolute CLOCK_MONOTONIC schedule (no back-off while replies are missing,
 * unlike ping -i), records every probe's send time and its reply's kernel receive time
 * (SO_TIMESTAMPNS, CLOCK_REALTIME), and on SIGTERM/SIGINT stops sending, waits -d ms for
 * replies still in flight, and prints one line per probe:
 *   <seq> <send_realtime_ns> <recv_realtime_ns or -1>
 * after a header line starting with '#'. With -u SECONDS it only waits for the target to
 * answer: exit 0 at the first reply, 1 if none came within SECONDS (probing at the same rate).
 * Built by the harness with gcc at run time.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static long replies;
static void on_signal(int sig) { (void)sig; stop = 1; }

static int64_t now_ns(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint16_t checksum(const void *data, size_t len) {
  const uint16_t *p = data;
  uint32_t sum = 0;
  for (; len > 1; len -= 2) sum += *p++;
  if (len) sum += *(const uint8_t *)p;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

struct probe { int64_t sent; int64_t received; };

/* Reads one waiting datagram; records it if it is a reply to one of our probes. Returns 0 when none was waiting. */
static int receive_one(int fd, uint32_t target, uint16_t id, struct probe *probes, long sent) {
  unsigned char buffer[1500];
  char control[256];
  struct iovec iov = { .iov_base = buffer, .iov_len = sizeof buffer };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control };
  ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);
  if (n < 0) return 0;
  int64_t received = now_ns(CLOCK_REALTIME);
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
      struct timespec ts;
      memcpy(&ts, CMSG_DATA(c), sizeof ts);
      received = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    }
  }
  struct iphdr *ip = (struct iphdr *)buffer;
  size_t header = (size_t)ip->ihl * 4;
  if ((size_t)n < header + sizeof(struct icmphdr) + 4 || ip->saddr != target) return 1;
  struct icmphdr *reply = (struct icmphdr *)(buffer + header);
  if (reply->type != ICMP_ECHOREPLY || ntohs(reply->un.echo.id) != id) return 1;
  uint32_t seq;
  memcpy(&seq, buffer + header + sizeof *reply, sizeof seq);
  seq = ntohl(seq);
  if (seq < (uint32_t)sent && probes[seq].received < 0) {
    probes[seq].received = received;
    replies++;
  }
  return 1;
}

int main(int argc, char **argv) {
  const char *target = NULL;
  long rate = 1000, max = 600000, until_reply = 0, drain_ms = 50;
  int opt;
  while ((opt = getopt(argc, argv, "t:r:n:u:d:")) != -1) {
    if (opt == 't') target = optarg;
    else if (opt == 'd') drain_ms = strtol(optarg, NULL, 10);
    else if (opt == 'u') until_reply = strtol(optarg, NULL, 10);
    else if (opt == 'r') rate = strtol(optarg, NULL, 10);
    else if (opt == 'n') max = strtol(optarg, NULL, 10);
    else return 2;
  }
  struct sockaddr_in to = { .sin_family = AF_INET };
  if (!target || inet_pton(AF_INET, target, &to.sin_addr) != 1 || rate < 1 || rate > 100000 || max < 1) {
    fprintf(stderr, "usage: %s -t IPV4 [-r RATE_HZ] [-n MAX_PROBES] [-u SECONDS] [-d DRAIN_MS]\n", argv[0]);
    return 2;
  }
  struct probe *probes = calloc((size_t)max, sizeof *probes);
  if (!probes) { perror("calloc"); return 1; }
  int fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
  if (fd < 0) { perror("socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)"); return 1; }
  int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
  int rcvbuf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  /* a busy machine must not delay our sends: a real-time priority if we may have one */
  struct sched_param sp = { .sched_priority = 10 };
  int realtime = sched_setscheduler(0, SCHED_FIFO, &sp) == 0;
  struct sigaction sa = { .sa_handler = on_signal };
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  uint16_t id = (uint16_t)getpid();
  int64_t period = 1000000000 / rate;
  if (until_reply > 0 && max > rate * until_reply) max = rate * until_reply;
  int64_t start = now_ns(CLOCK_MONOTONIC);
  long sent = 0, late = 0;
  while (!stop && sent < max) {
    int64_t due = start + sent * period;
    int64_t now = now_ns(CLOCK_MONOTONIC);
    if (now >= due) {
      if (now - due > period) late++;
      unsigned char packet[sizeof(struct icmphdr) + 8];
      memset(packet, 0, sizeof packet);
      struct icmphdr *icmp = (struct icmphdr *)packet;
      icmp->type = ICMP_ECHO;
      icmp->un.echo.id = htons(id);
      icmp->un.echo.sequence = htons((uint16_t)sent);
      uint32_t seq = htonl((uint32_t)sent);
      memcpy(packet + sizeof *icmp, &seq, sizeof seq);
      icmp->checksum = checksum(packet, sizeof packet);
      probes[sent].sent = now_ns(CLOCK_REALTIME);
      probes[sent].received = -1;
      if (sendto(fd, packet, sizeof packet, 0, (struct sockaddr *)&to, sizeof to) < 0 && errno != ENOBUFS && errno != EHOSTUNREACH && errno != EAGAIN) {
        perror("sendto");
      }
      sent++;
      continue;
    }
    int64_t wait = due - now;
    struct timespec timeout = { .tv_sec = wait / 1000000000, .tv_nsec = wait % 1000000000 };
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    if (ppoll(&pfd, 1, &timeout, NULL) <= 0) continue;
    while (receive_one(fd, to.sin_addr.s_addr, id, probes, sent)) {}
    if (until_reply > 0 && replies > 0) return 0;
  }
  if (until_reply > 0) {
    fprintf(stderr, "no reply from %s within %ld s\n", target, until_reply);
    return 1;
  }
  /* replies still in flight when asked to stop: wait for them as long as a reply may take */
  int64_t drain_until = now_ns(CLOCK_MONOTONIC) + drain_ms * 1000000;
  for (;;) {
    int64_t left = drain_until - now_ns(CLOCK_MONOTONIC);
    if (left <= 0) break;
    struct timespec timeout = { .tv_sec = left / 1000000000, .tv_nsec = left % 1000000000 };
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    if (ppoll(&pfd, 1, &timeout, NULL) <= 0) break;
    receive_one(fd, to.sin_addr.s_addr, id, probes, sent);
  }
  printf("# rate=%ld target=%s sent=%ld late=%ld realtime=%d\n", rate, target, sent, late, realtime);
  for (long i = 0; i < sent; i++) printf("%ld %lld %lld\n", i, (long long)probes[i].sent, (long long)probes[i].received);
  return fflush(stdout) == 0 ? 0 : 1;
}
