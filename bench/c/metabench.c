// Metadata benchmark for bench/fuse-binding.bench.ts: time one opendir/readdir pass over DIR, then stat()
// of DIR/f00000 .. DIR/f<N-1>. Prints "readdir_entries readdir_ms stats stat_per_s".
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: metabench DIR N\n"); return 2; }
  const char *dir = argv[1];
  int n = atoi(argv[2]);
  double t0 = now();
  DIR *d = opendir(dir);
  if (!d) { perror(dir); return 1; }
  long entries = 0;
  while (readdir(d)) entries++;
  closedir(d);
  double t1 = now();
  char path[4096];
  struct stat st;
  for (int i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/f%05d", dir, i);
    if (stat(path, &st) != 0) { perror(path); return 1; }
  }
  double t2 = now();
  printf("%ld %.3f %d %.0f\n", entries, (t1 - t0) * 1e3, n, n / (t2 - t1));
  return 0;
}
