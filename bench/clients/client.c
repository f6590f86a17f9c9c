/* C client overhead: synchronous calls for SECONDS, per-call latency as JSON.
 * Usage: client FRONTEND SID SECONDS  (scripts/bench.sh builds and runs it). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <zss.h>

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int call(zss_client *client) {
  zss_reply *reply = NULL;
  zss_result r = zss_client_call_json(client, NULL, "echo", "\"x\"", NULL, 0, &reply);
  zss_reply_free(reply);
  if (r != ZSS_RESULT_OK) fprintf(stderr, "call failed: %s\n", zss_last_error());
  return r == ZSS_RESULT_OK;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s FRONTEND SID SECONDS\n", argv[0]);
    return 2;
  }
  double seconds = atof(argv[3]);
  zss_client *client = NULL;
  if (zss_client_new(argv[1], argv[2], 10000, &client) != ZSS_RESULT_OK) {
    fprintf(stderr, "zss_client_new: %s\n", zss_last_error());
    return 1;
  }
  for (int i = 0; i < 200; i++)
    if (!call(client)) return 1;
  size_t cap = 1 << 16, n = 0;
  double *samples = malloc(cap * sizeof *samples);
  double start = now_us();
  while (now_us() - start < seconds * 1e6) {
    double t = now_us();
    if (!call(client)) return 1;
    if (n == cap) samples = realloc(samples, (cap *= 2) * sizeof *samples);
    samples[n++] = now_us() - t;
  }
  double total = (now_us() - start) / 1e6;
  zss_client_free(client);
  qsort(samples, n, sizeof *samples, by_value);
#define PICK(p) samples[(size_t)((n - 1) * (p) + 0.5)]
  printf("{\"client\": \"c\", \"latency\": {\"rps\": %.1f, \"p50_us\": %.1f, \"p99_us\": %.1f, \"p999_us\": %.1f}}\n",
         n / total, PICK(0.5), PICK(0.99), PICK(0.999));
  free(samples);
  return 0;
}
