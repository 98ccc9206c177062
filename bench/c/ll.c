// The C ceiling for bench/fuse-binding.bench.ts: libfuse3's low-level API with the multithreaded loop and
// zero-copy fuse_reply_buf, serving the same /big and /many as test/fixtures/memfs.ts.
// Taken verbatim from /work/shared/research/fuse-bindings.md Appendix C (c/ll.c).
// Low-level libfuse3 test fs (multithreaded loop): ino 1 '/', 2 big, 3 many/, 1000+i many/fNNNNN
#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <sys/stat.h>
static char *big; static size_t bigsz; static int many; static double tmo = 1.0;
static int fill_stat(fuse_ino_t ino, struct stat *st) {
  memset(st, 0, sizeof *st); st->st_ino = ino; st->st_uid = getuid(); st->st_gid = getgid();
  if (ino == 1 || (ino == 3 && many)) { st->st_mode = S_IFDIR | 0755; st->st_nlink = 2; return 0; }
  if (ino == 2) { st->st_mode = S_IFREG | 0644; st->st_nlink = 1; st->st_size = bigsz; return 0; }
  if (ino >= 1000 && ino < 1000 + (fuse_ino_t)many) { st->st_mode = S_IFREG | 0644; st->st_nlink = 1; return 0; }
  return -1;
}
static void x_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
  struct fuse_entry_param e; memset(&e, 0, sizeof e); fuse_ino_t ino = 0;
  if (parent == 1 && !strcmp(name, "big")) ino = 2;
  else if (parent == 1 && !strcmp(name, "many") && many) ino = 3;
  else if (parent == 3 && name[0] == 'f' && strlen(name) == 6) { int i = atoi(name + 1); if (i >= 0 && i < many) ino = 1000 + i; }
  if (!ino) { fuse_reply_err(req, ENOENT); return; }
  e.ino = ino; e.attr_timeout = tmo; e.entry_timeout = tmo; fill_stat(ino, &e.attr); fuse_reply_entry(req, &e);
}
static void x_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  struct stat st; if (fill_stat(ino, &st)) { fuse_reply_err(req, ENOENT); return; }
  fuse_reply_attr(req, &st, tmo);
}
struct dirbuf { char *p; size_t size; };
static void dirbuf_add(fuse_req_t req, struct dirbuf *b, const char *name, fuse_ino_t ino) {
  struct stat st; size_t old = b->size; memset(&st, 0, sizeof st); st.st_ino = ino;
  b->size += fuse_add_direntry(req, NULL, 0, name, NULL, 0);
  b->p = realloc(b->p, b->size);
  fuse_add_direntry(req, b->p + old, b->size - old, name, &st, b->size);
}
static struct dirbuf rootdir, manydir;
static void x_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  struct dirbuf *b = ino == 1 ? &rootdir : (ino == 3 ? &manydir : NULL);
  if (!b) { fuse_reply_err(req, ENOTDIR); return; }
  if ((size_t)off < b->size) fuse_reply_buf(req, b->p + off, (b->size - off) < size ? b->size - off : size);
  else fuse_reply_buf(req, NULL, 0);
}
static void x_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) { fuse_reply_open(req, fi); }
static void x_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  if (ino != 2) { fuse_reply_buf(req, NULL, 0); return; }
  if ((size_t)off >= bigsz) { fuse_reply_buf(req, NULL, 0); return; }
  if (off + size > bigsz) size = bigsz - off;
  fuse_reply_buf(req, big + off, size);
}
static const struct fuse_lowlevel_ops ops = { .lookup = x_lookup, .getattr = x_getattr, .readdir = x_readdir, .open = x_open, .read = x_read };
int main(int argc, char *argv[]) {
  struct fuse_args args = FUSE_ARGS_INIT(argc, argv); struct fuse_cmdline_opts o; int ret = 1;
  bigsz = (size_t)atol(getenv("BIG_MB") ? getenv("BIG_MB") : "0") << 20;
  many = atoi(getenv("MANY") ? getenv("MANY") : "0");
  if (getenv("TMO")) tmo = atof(getenv("TMO"));
  if (bigsz) { big = malloc(bigsz); for (size_t i = 0; i < bigsz; i += 4096) { char tmp[32]; int n = snprintf(tmp, sizeof tmp, "blk%zu ", i / 4096); memset(big + i, 'x', 4096); memcpy(big + i, tmp, n); } }
  if (fuse_parse_cmdline(&args, &o) != 0) return 1;
  struct fuse_session *se = fuse_session_new(&args, &ops, sizeof ops, NULL);
  if (!se) return 1;
  // directory buffers are built lazily need a req; build with NULL req (fuse_add_direntry ignores req)
  dirbuf_add(NULL, &rootdir, ".", 1); dirbuf_add(NULL, &rootdir, "..", 1); dirbuf_add(NULL, &rootdir, "big", 2); if (many) dirbuf_add(NULL, &rootdir, "many", 3);
  if (many) { dirbuf_add(NULL, &manydir, ".", 3); dirbuf_add(NULL, &manydir, "..", 1); char n[16]; for (int i = 0; i < many; i++) { snprintf(n, sizeof n, "f%05d", i); dirbuf_add(NULL, &manydir, n, 1000 + i); } }
  if (fuse_set_signal_handlers(se) != 0) goto out;
  if (fuse_session_mount(se, o.mountpoint) != 0) goto out;
  fuse_daemonize(o.foreground);
  if (o.singlethread) ret = fuse_session_loop(se);
  else { struct fuse_loop_config cfg = { .clone_fd = o.clone_fd, .max_idle_threads = o.max_idle_threads }; ret = fuse_session_loop_mt(se, &cfg); }
  fuse_session_unmount(se);
out:
  fuse_remove_signal_handlers(se); fuse_session_destroy(se); return ret ? 1 : 0;
}
