/* fi_xfer: minimal libfabric two-process benchmark (send/recv + one-sided RMA)
 *
 *   server: ./fi_xfer -p tcp -e msg -P 9228
 *   client: ./fi_xfer -p tcp -e msg -P 9228 -c 127.0.0.1
 *
 * -p provider name (tcp, sockets, "tcp;ofi_rxm", net, udp;ofi_rxd, shm ...)
 * -e msg|rdm     endpoint type
 * -n N           number of 4 MiB transfers per bandwidth phase (default 256 = 1 GiB)
 * -L N           ping-pong iterations for latency (default 20000)
 * -w W           window (outstanding ops) for bandwidth phases (default 4)
 * -S bytes       bulk size (default 4 MiB)
 * -R N           RMA read phase: rotate over N distinct bulk-sized source windows and destination
 *                buffers (default 1: every fi_read copies the same cache-hot 4 MiB into the same
 *                4 MiB; 16 gives the working set of kiseki's bench GETs of 16 chunks)
 * -D N           RMA read phase: destination buffers only (default: as many as -R). -R 16 -D 4: 16
 *                distinct sources, landing in 4 buffers reused in turn (kiseki's GET whose chunks
 *                are handed on and recycled into a 16 MiB read window, ADR 0036)
 *
 * Handles mr_mode FI_MR_LOCAL/VIRT_ADDR/ALLOCATED/PROV_KEY/ENDPOINT generically,
 * i.e. the same code is what a verbs or cxi path would need.
 * Build: gcc -O2 -Wall fi_xfer.c -o fi_xfer -lfabric
 */
#define _GNU_SOURCE
#include <assert.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <poll.h>
#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_rma.h>

#define CHK(call)                                                              \
  do {                                                                         \
    int _rc = (int)(call);                                                     \
    if (_rc) {                                                                 \
      fprintf(stderr, "%s:%d %s = %d (%s)\n", __FILE__, __LINE__, #call, _rc,  \
              fi_strerror(-_rc));                                              \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)

enum { CTRL_SZ = 256, MAXW = 64 };

static const char *prov = "tcp", *node = NULL, *port = "9228", *bind_addr = "127.0.0.1";
static int blocking = 0, cq_fd = -1;
static int is_rdm = 0, iters_bw = 256, iters_lat = 20000, win = 4, rot = 1, rot_dst = 0;
static size_t bulk = 4u << 20;

static struct fi_info *info;
static struct fid_fabric *fabric;
static struct fid_domain *domain;
static struct fid_eq *eq;
static struct fid_pep *pep;
static struct fid_ep *ep;
static struct fid_cq *cq;
static struct fid_av *av;
static fi_addr_t peer = FI_ADDR_UNSPEC;
static uint64_t mr_mode;

/* buffers */
struct buf { char *p; size_t len; struct fid_mr *mr; void *desc; };
static struct buf ctrl_tx, ctrl_rx, bulk_tx, bulk_rx[MAXW], rma;
struct rinfo { uint64_t addr, key, len; };
static struct rinfo remote;

struct ctx { struct fi_context2 fc; int slot; };
static struct ctx rx_ctx[MAXW + 1], tx_ctx[MAXW + 1];
static long tx_done, rx_done; static int rx_slot_q[4096];

/* CPU seconds (user + system) this process has used so far */
static double cpu_s(void) {
  struct rusage u; getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

static double now(void) {
  struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void reg(struct buf *b, size_t len, uint64_t access, uint64_t key) {
  b->len = len;
  if (posix_memalign((void **)&b->p, 4096, len)) abort();
  memset(b->p, 0, len);
  CHK(fi_mr_reg(domain, b->p, len, access, 0, key, 0, &b->mr, NULL));
  if (mr_mode & FI_MR_ENDPOINT) {
    CHK(fi_mr_bind(b->mr, &ep->fid, 0));
    CHK(fi_mr_enable(b->mr));
  }
  b->desc = fi_mr_desc(b->mr);
}

static void progress(void) {
  struct fi_cq_msg_entry e[16];
  ssize_t n = fi_cq_read(cq, e, 16);
  if (n == -FI_EAGAIN) return;
  if (n == -FI_EAVAIL) {
    struct fi_cq_err_entry err = {0};
    fi_cq_readerr(cq, &err, 0);
    fprintf(stderr, "cq error: %s (prov %d: %s)\n", fi_strerror(err.err),
            err.prov_errno, fi_cq_strerror(cq, err.prov_errno, err.err_data, NULL, 0));
    exit(1);
  }
  if (n < 0) { fprintf(stderr, "fi_cq_read %zd %s\n", n, fi_strerror(-n)); exit(1); }
  for (ssize_t i = 0; i < n; i++) {
    if (e[i].flags & FI_RECV) { rx_slot_q[rx_done % 4096] = ((struct ctx *)e[i].op_context)->slot; rx_done++; }
    else tx_done++;
  }
}

/* retry a posting call while it returns -FI_EAGAIN, driving progress */
#define POST(call)                                                             \
  do {                                                                         \
    ssize_t _r;                                                                \
    while ((_r = (call)) == -FI_EAGAIN) progress();                            \
    if (_r) { fprintf(stderr, "%s = %zd (%s)\n", #call, _r, fi_strerror(-_r)); exit(1); } \
  } while (0)

static void post_recv(struct buf *b, size_t len, int slot) {
  rx_ctx[slot].slot = slot;
  POST(fi_recv(ep, b->p, len, b->desc, FI_ADDR_UNSPEC, &rx_ctx[slot]));
}
static void post_send(struct buf *b, size_t len, int slot) {
  tx_ctx[slot].slot = slot;
  POST(fi_send(ep, b->p, len, b->desc, peer, &tx_ctx[slot]));
}
/* -b: event-loop style wait: fi_trywait() then poll() on the CQ's fd, like uv_poll would */
static void block_once(void) {
  if (!blocking) return;
  struct fid *f = &cq->fid;
  if (fi_trywait(fabric, &f, 1) == FI_SUCCESS) {
    struct pollfd p = { .fd = cq_fd, .events = POLLIN };
    poll(&p, 1, 100);
  }
}
static void wait_rx(long target) { while (rx_done < target) { long b = rx_done + tx_done; progress(); if (b == rx_done + tx_done) block_once(); } }
static void wait_tx(long target) { while (tx_done < target) { long b = rx_done + tx_done; progress(); if (b == rx_done + tx_done) block_once(); } }

/* control message: send & wait for local completion */
static void ctrl_send(const void *m, size_t len) {
  memcpy(ctrl_tx.p, m, len);
  long t = tx_done + 1; post_send(&ctrl_tx, len, MAXW); wait_tx(t);
}
/* control receive: post, wait, copy out */
static void ctrl_recv(void *m, size_t len) {
  long t = rx_done + 1; post_recv(&ctrl_rx, CTRL_SZ, MAXW); wait_rx(t);
  if (m) memcpy(m, ctrl_rx.p, len);
}

static struct fi_info *mkhints(void) {
  struct fi_info *h = fi_allocinfo();
  h->fabric_attr->prov_name = strdup(prov);
  h->ep_attr->type = is_rdm ? FI_EP_RDM : FI_EP_MSG;
  h->caps = FI_MSG | FI_RMA;
  h->mode = FI_CONTEXT | FI_CONTEXT2;
  h->domain_attr->mr_mode = FI_MR_LOCAL | FI_MR_VIRT_ADDR | FI_MR_ALLOCATED |
                            FI_MR_PROV_KEY | FI_MR_ENDPOINT;
  h->domain_attr->threading = FI_THREAD_DOMAIN;
  h->addr_format = FI_SOCKADDR_IN;
  return h;
}

static void open_common(struct fi_info *fi) {
  struct fi_cq_attr cqa = { .format = FI_CQ_FORMAT_MSG, .size = 1024, .wait_obj = blocking ? FI_WAIT_FD : FI_WAIT_NONE };
  CHK(fi_domain(fabric, fi, &domain, NULL));
  CHK(fi_cq_open(domain, &cqa, &cq, NULL));
  if (blocking) CHK(fi_control(&cq->fid, FI_GETWAIT, &cq_fd));
  CHK(fi_endpoint(domain, fi, &ep, NULL));
  CHK(fi_ep_bind(ep, &cq->fid, FI_TRANSMIT | FI_RECV));
  if (is_rdm) {
    struct fi_av_attr ava = { .type = FI_AV_TABLE };
    CHK(fi_av_open(domain, &ava, &av, NULL));
    CHK(fi_ep_bind(ep, &av->fid, 0));
  } else {
    CHK(fi_ep_bind(ep, &eq->fid, 0));
  }
  CHK(fi_enable(ep));
  mr_mode = fi->domain_attr->mr_mode;
  uint64_t k = 1;
  reg(&ctrl_tx, CTRL_SZ, FI_SEND, k++);
  reg(&ctrl_rx, CTRL_SZ, FI_RECV, k++);
  if (rot_dst == 0) rot_dst = rot;
  reg(&bulk_tx, bulk * (rot > rot_dst ? rot : rot_dst), FI_SEND | FI_READ | FI_WRITE, k++);
  for (int i = 0; i < win; i++) reg(&bulk_rx[i], bulk, FI_RECV, k++);
  reg(&rma, bulk * rot, FI_REMOTE_READ | FI_REMOTE_WRITE, k++);
}

static void wait_cm(uint32_t want, struct fi_eq_cm_entry *ent) {
  uint32_t ev;
  ssize_t n = fi_eq_sread(eq, &ev, ent, sizeof *ent, -1, 0);
  if (n < 0) {
    struct fi_eq_err_entry err = {0};
    fi_eq_readerr(eq, &err, 0);
    fprintf(stderr, "eq error %zd: %s\n", n, fi_strerror(err.err)); exit(1);
  }
  if (ev != want) { fprintf(stderr, "unexpected CM event %u (want %u)\n", ev, want); exit(1); }
}

static void setup(void) {
  struct fi_info *hints = mkhints();
  struct fi_eq_attr eqa = { .wait_obj = FI_WAIT_UNSPEC };
  struct fi_eq_cm_entry ent;
  double t0 = now();
  if (!node) CHK(fi_getinfo(FI_VERSION(1, 17), bind_addr, port, FI_SOURCE, hints, &info));
  else CHK(fi_getinfo(FI_VERSION(1, 17), node, port, 0, hints, &info));
  double t1 = now();
  CHK(fi_fabric(info->fabric_attr, &fabric, NULL));
  if (!is_rdm) CHK(fi_eq_open(fabric, &eqa, &eq, NULL));
  char mr[200]; fi_tostr_r(mr, sizeof mr, &info->domain_attr->mr_mode, FI_TYPE_MR_MODE);
  printf("# provider=%s ep=%s fabric=%s domain=%s mr_mode=%s data_progress=%d fi_getinfo=%.1f ms\n",
         info->fabric_attr->prov_name, is_rdm ? "RDM" : "MSG", info->fabric_attr->name,
         info->domain_attr->name, mr, info->domain_attr->data_progress, (t1 - t0) * 1e3);
  if (!is_rdm && !node) { /* MSG server */
    CHK(fi_passive_ep(fabric, info, &pep, NULL));
    CHK(fi_pep_bind(pep, &eq->fid, 0));
    CHK(fi_listen(pep));
    printf("# listening on %s:%s\n", bind_addr, port); fflush(stdout);
    wait_cm(FI_CONNREQ, &ent);
    open_common(ent.info);
    post_recv(&ctrl_rx, CTRL_SZ, MAXW); /* first ctrl recv posted before accept */
    CHK(fi_accept(ep, NULL, 0));
    wait_cm(FI_CONNECTED, &ent);
    fi_freeinfo(ent.info);
  } else if (!is_rdm) { /* MSG client */
    open_common(info);
    post_recv(&ctrl_rx, CTRL_SZ, MAXW);
    CHK(fi_connect(ep, info->dest_addr, NULL, 0));
    wait_cm(FI_CONNECTED, &ent);
  } else if (!node) { /* RDM server: learn client address from HELLO */
    open_common(info);
    printf("# RDM ep bound to %s:%s\n", bind_addr, port); fflush(stdout);
    post_recv(&ctrl_rx, CTRL_SZ, MAXW);
    wait_rx(1);
    size_t alen; memcpy(&alen, ctrl_rx.p, sizeof alen);
    if (fi_av_insert(av, ctrl_rx.p + sizeof alen, 1, &peer, 0, NULL) != 1) { fprintf(stderr, "av_insert\n"); exit(1); }
    post_recv(&ctrl_rx, CTRL_SZ, MAXW);
  } else { /* RDM client */
    open_common(info);
    if (fi_av_insert(av, info->dest_addr, 1, &peer, 0, NULL) != 1) { fprintf(stderr, "av_insert\n"); exit(1); }
    post_recv(&ctrl_rx, CTRL_SZ, MAXW);
    char msg[CTRL_SZ]; size_t alen = CTRL_SZ - sizeof alen;
    CHK(fi_getname(&ep->fid, msg + sizeof alen, &alen));
    memcpy(msg, &alen, sizeof alen);
    ctrl_send(msg, sizeof alen + alen);
  }
  /* both sides now have exactly one ctrl recv posted: rx_done counts from here */
  fi_freeinfo(hints);
}

/* the pre-posted ctrl recv is consumed by the first ctrl_recv_posted() call */
static void ctrl_recv_posted(void *m, size_t len) {
  long base = is_rdm && !node ? 1 : 0; /* RDM server consumed HELLO already */
  wait_rx(base + 1);
  if (m) memcpy(m, ctrl_rx.p, len);
}

static void fill(char *p, size_t n, int seed) { for (size_t i = 0; i < n; i++) p[i] = (char)(i * 7 + seed); }
static int check(const char *p, size_t n, int seed) {
  for (size_t i = 0; i < n; i++) if (p[i] != (char)(i * 7 + seed)) return 0;
  return 1;
}

static void server(void) {
  struct rinfo me = { (mr_mode & FI_MR_VIRT_ADDR) ? (uint64_t)(uintptr_t)rma.p : 0,
                      fi_mr_key(rma.mr), rma.len };
  fill(rma.p, rma.len, 42);
  ctrl_recv_posted(NULL, 0);                   /* client READY */
  ctrl_send(&me, sizeof me);                   /* our RMA window */
  /* phase 1: latency ping-pong, 8 bytes */
  for (int i = 0; i < iters_lat + 100; i++) {
    ctrl_recv(NULL, 0);
    ctrl_send(ctrl_rx.p, 8);
  }
  /* phase 2: bulk send/recv bandwidth */
  long base = rx_done;
  for (int i = 0; i < win && i < iters_bw; i++) post_recv(&bulk_rx[i], bulk, i);
  int posted = win < iters_bw ? win : iters_bw, ok = 1, first = 1;
  while (rx_done - base < iters_bw) {
    long before = rx_done; progress(); if (before == rx_done) block_once();
    for (long c = before; c < rx_done; c++) {
      int slot = rx_slot_q[c % 4096];
      if (first) { ok = check(bulk_rx[slot].p, bulk, 7); first = 0; }
      if (posted < iters_bw) { post_recv(&bulk_rx[slot], bulk, slot); posted++; }
    }
  }
  ctrl_send("ACK", 4);
  printf("# server: send/recv payload check %s\n", ok ? "OK" : "FAILED");
  /* phases 3-5: RMA read bw, RMA read latency, RMA write bw; just drive progress
     until the client says DONE (tcp/rxm have manual data progress at the target) */
  for (int ph = 0; ph < 3; ph++) {
    double c0 = cpu_s();
    ctrl_recv(NULL, 0); ctrl_send("ACK", 4);
    /* phase 3's CPU: serving the client's fi_reads (it is idle in poll() before they start) */
    if (ph == 0) { printf("SERVER rma_read_cpu_s=%.4f\n", cpu_s() - c0); fflush(stdout); }
  }
  printf("# server: RMA write landed %s\n", check(rma.p, bulk, 99) ? "OK" : "FAILED");
}

static void client(void) {
  ctrl_send("READY", 6);
  ctrl_recv_posted(&remote, sizeof remote);
  printf("# remote RMA window addr=0x%llx key=0x%llx len=%llu\n", (unsigned long long)remote.addr,
         (unsigned long long)remote.key, (unsigned long long)remote.len);
  /* phase 1 */
  double t0 = 0;
  for (int i = 0; i < iters_lat + 100; i++) {
    if (i == 100) t0 = now();
    long t = rx_done + 1; post_recv(&ctrl_rx, CTRL_SZ, MAXW);
    ctrl_send("PINGPONG", 8);
    wait_rx(t);
  }
  double lat = (now() - t0) / iters_lat / 2 * 1e6;
  /* phase 2 */
  fill(bulk_tx.p, bulk, 7);
  long ackt = rx_done + 1; post_recv(&ctrl_rx, CTRL_SZ, MAXW);
  t0 = now();
  long base = tx_done;
  for (int i = 0; i < iters_bw; i++) {
    while (i - (tx_done - base) >= win) { long b = tx_done; progress(); if (b == tx_done) block_once(); }
    post_send(&bulk_tx, bulk, i % win);
  }
  wait_tx(base + iters_bw); wait_rx(ackt);
  double sbw = (double)bulk * iters_bw / (now() - t0) / 1e9;
  /* phase 3: RMA read bandwidth */
  memset(bulk_tx.p, 0, bulk);
  tx_ctx[0].slot = 0;
  base = tx_done;
  POST(fi_read(ep, bulk_tx.p, bulk, bulk_tx.desc, peer, remote.addr, remote.key, &tx_ctx[0]));
  wait_tx(base + 1);
  int rok = check(bulk_tx.p, bulk, 42);
  /* the rotated buffers are faulted in before timing, as kiseki's pooled receive buffers are */
  memset(bulk_tx.p, 0, bulk * rot_dst);
  double rc0 = cpu_s();
  t0 = now(); base = tx_done;
  for (int i = 0; i < iters_bw; i++) {
    while (i - (tx_done - base) >= win) { long b = tx_done; progress(); if (b == tx_done) block_once(); }
    tx_ctx[i % win].slot = i % win;
    size_t off = (size_t)(i % rot) * bulk, dst = (size_t)(i % rot_dst) * bulk;
    POST(fi_read(ep, bulk_tx.p + dst, bulk, bulk_tx.desc, peer, remote.addr + off, remote.key, &tx_ctx[i % win]));
  }
  wait_tx(base + iters_bw);
  double rbw = (double)bulk * iters_bw / (now() - t0) / 1e9;
  double rcpu = cpu_s() - rc0;
  ackt = rx_done + 1; post_recv(&ctrl_rx, CTRL_SZ, MAXW); ctrl_send("DONE", 5); wait_rx(ackt);
  /* phase 4: 8-byte RMA read latency (one outstanding) */
  for (int i = 0; i < iters_lat + 100; i++) {
    if (i == 100) t0 = now();
    long t = tx_done + 1;
    POST(fi_read(ep, bulk_tx.p, 8, bulk_tx.desc, peer, remote.addr, remote.key, &tx_ctx[0]));
    wait_tx(t);
  }
  double rlat = (now() - t0) / iters_lat * 1e6;
  ackt = rx_done + 1; post_recv(&ctrl_rx, CTRL_SZ, MAXW); ctrl_send("DONE", 5); wait_rx(ackt);
  /* phase 5: RMA write bandwidth */
  fill(bulk_tx.p, bulk, 99);
  t0 = now(); base = tx_done;
  for (int i = 0; i < iters_bw; i++) {
    while (i - (tx_done - base) >= win) { long b = tx_done; progress(); if (b == tx_done) block_once(); }
    tx_ctx[i % win].slot = i % win;
    POST(fi_write(ep, bulk_tx.p, bulk, bulk_tx.desc, peer, remote.addr, remote.key, &tx_ctx[i % win]));
  }
  wait_tx(base + iters_bw);
  double wbw = (double)bulk * iters_bw / (now() - t0) / 1e9;
  ackt = rx_done + 1; post_recv(&ctrl_rx, CTRL_SZ, MAXW); ctrl_send("DONE", 5); wait_rx(ackt);
  printf("RESULT prov=%s ep=%s lat8B_halfRTT_us=%.2f sendrecv_4MiB_GBps=%.2f "
         "rma_read_4MiB_GBps=%.2f (data %s) rma_read8B_RTT_us=%.2f rma_write_4MiB_GBps=%.2f "
         "(msgs=%d x %zu B, window %d, %d distinct buffers, %s) rma_read_cpu_s=%.4f\n",
         info->fabric_attr->prov_name, is_rdm ? "RDM" : "MSG", lat, sbw, rbw, rok ? "OK" : "BAD",
         rlat, wbw, iters_bw, bulk, win, rot, blocking ? "FI_WAIT_FD+poll" : "busy-poll", rcpu);
}

int main(int argc, char **argv) {
  int c;
  while ((c = getopt(argc, argv, "bp:e:c:P:n:L:w:S:s:R:D:")) != -1) switch (c) {
    case 'b': blocking = 1; break;
    case 's': bind_addr = optarg; break;
    case 'p': prov = optarg; break;
    case 'e': is_rdm = !strcmp(optarg, "rdm"); break;
    case 'c': node = optarg; break;
    case 'P': port = optarg; break;
    case 'n': iters_bw = atoi(optarg); break;
    case 'L': iters_lat = atoi(optarg); break;
    case 'w': win = atoi(optarg); if (win > MAXW) win = MAXW; break;
    case 'S': bulk = strtoull(optarg, NULL, 0); break;
    case 'R': rot = atoi(optarg) > 0 ? atoi(optarg) : 1; break;
    case 'D': rot_dst = atoi(optarg) > 0 ? atoi(optarg) : 0; break;
    default: fprintf(stderr, "bad args\n"); return 2;
  }
  setup();
  if (node) client(); else server();
  /* teardown */
  fi_close(&ep->fid);
  if (pep) fi_close(&pep->fid);
  if (av) fi_close(&av->fid);
  fi_close(&cq->fid);
  struct buf *bs[] = { &ctrl_tx, &ctrl_rx, &bulk_tx, &rma };
  for (unsigned i = 0; i < 4; i++) fi_close(&bs[i]->mr->fid);
  for (int i = 0; i < win; i++) fi_close(&bulk_rx[i].mr->fid);
  fi_close(&domain->fid);
  if (eq) fi_close(&eq->fid);
  fi_close(&fabric->fid);
  fi_freeinfo(info);
  return 0;
}
