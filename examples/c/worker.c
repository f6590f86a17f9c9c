/*
 * worker: serves the service "demo" with C handlers until SIGINT or SIGTERM.
 *
 *   cc worker.c $(pkg-config --cflags --libs zss) -o worker
 *   ./worker [backend]                 (default tcp://127.0.0.1:7776)
 *
 * Verbs: "echo" answers its payload; "hello" answers {"greeting": "hello, <name>"} for a
 * payload {"name": "..."} and 400 otherwise; "fail" answers a 422 error.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <zss.h>

/* userdata: a request counter shared by the handlers (they run on several threads). */
typedef struct stats {
  atomic_long requests;
} stats;

static void echo(void *userdata, const zss_request *request, zss_response *response) {
  atomic_fetch_add(&((stats *)userdata)->requests, 1);
  const uint8_t *data = NULL;
  size_t len = 0;
  /* msgpack in, msgpack out: the payload passes through untouched. */
  if (zss_request_payload_msgpack(request, &data, &len) == ZSS_RESULT_OK) {
    zss_response_set_msgpack(response, 0, data, len);
  } else {
    zss_response_set_error(response, 400, NULL, zss_last_error());
  }
}

static void hello(void *userdata, const zss_request *request, zss_response *response) {
  atomic_fetch_add(&((stats *)userdata)->requests, 1);
  const char *json = NULL;
  zss_request_payload_json(request, &json);
  /* A real service would use a JSON parser; this finds "name":"..." by hand to stay
   * dependency-free. */
  const char *key = json ? strstr(json, "\"name\":\"") : NULL;
  if (!key) {
    zss_response_set_error(response, 400, "Please tell me your name.", "payload.name (string) is required");
    return;
  }
  key += strlen("\"name\":\"");
  const char *end = strchr(key, '"');
  char answer[256];
  snprintf(answer, sizeof answer, "{\"greeting\":\"hello, %.*s\"}", end ? (int)(end - key) : 0, key);
  zss_response_set_json(response, 0, answer);
  zss_response_set_header_json(response, "x-served-by", "\"examples/c/worker\"");
}

static void fail(void *userdata, const zss_request *request, zss_response *response) {
  (void)request;
  atomic_fetch_add(&((stats *)userdata)->requests, 1);
  zss_response_set_error(response, 422, "That cannot be done.", "the fail verb always fails");
}

int main(int argc, char **argv) {
  const char *backend = argc > 1 ? argv[1] : "tcp://127.0.0.1:7776";
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

  stats counters = {0};
  zss_worker *worker = NULL;
  if (zss_worker_new(backend, "demo", &worker) != ZSS_RESULT_OK ||
      zss_worker_add_verb(worker, "echo", echo, &counters) != ZSS_RESULT_OK ||
      zss_worker_add_verb(worker, "hello", hello, &counters) != ZSS_RESULT_OK ||
      zss_worker_add_verb(worker, "fail", fail, &counters) != ZSS_RESULT_OK ||
      zss_worker_start(worker) != ZSS_RESULT_OK) {
    fprintf(stderr, "worker: %s\n", zss_last_error());
    zss_worker_free(worker);
    return 1;
  }
  printf("serving DEMO via %s\n", backend);
  fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  zss_worker_stop(worker); /* finishes requests in flight, unregisters from the broker */
  zss_worker_free(worker);
  printf("stopped after %ld requests\n", atomic_load(&counters.requests));
  return 0;
}
