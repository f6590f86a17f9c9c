/* Two brokers from C: two `zss broker` processes (ZSS_BIN, default target/debug/zss), a worker
 * registered with both (one comma-separated backend list), a client given both frontends.
 * Calls spread over both; one broker is SIGKILLed with calls in flight: plain calls end with
 * 200 or ZSS_RESULT_BROKER_LOST at once (not at their 5 s timeout), calls with retries all
 * succeed, and later calls all succeed on the survivor. */
#include "harness.h"
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void echo(void *userdata, const zss_request *request, zss_response *response) {
  (void)userdata;
  const char *json = NULL;
  zss_request_payload_json(request, &json);
  zss_response_set_json(response, 0, json);
}

/* Sleeps for the payload's number of milliseconds, then answers it. */
static void nap(void *userdata, const zss_request *request, zss_response *response) {
  (void)userdata;
  const char *json = NULL;
  zss_request_payload_json(request, &json);
  sleep_ms(json ? atol(json) : 0);
  zss_response_set_json(response, 0, json);
}

/* A free loopback port: bound to port 0, read back, released. */
static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
      getsockname(fd, (struct sockaddr *)&addr, &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  if (fd >= 0) close(fd);
  return port;
}

typedef struct broker_proc {
  pid_t pid;
  char frontend[64];
  char backend[64];
} broker_proc;

/* Starts `zss broker` on two free ports, with fast worker liveness; 1 once it answers PING. */
static int broker_start(broker_proc *b) {
  snprintf(b->frontend, sizeof b->frontend, "tcp://127.0.0.1:%d", free_port());
  snprintf(b->backend, sizeof b->backend, "tcp://127.0.0.1:%d", free_port());
  const char *bin = getenv("ZSS_BIN") ? getenv("ZSS_BIN") : "target/debug/zss";
  b->pid = fork();
  if (b->pid == 0) {
    execl(bin, bin, "--log-level", "warn", "broker", "--frontend", b->frontend, "--backend", b->backend,
          "--heartbeat", "100", "--max-ttl", "600", "--update-interval", "100", (char *)NULL);
    _exit(127);
  }
  if (b->pid < 0) return 0;
  zss_client *probe = NULL;
  if (zss_client_new(b->frontend, NULL, 200, &probe) != ZSS_RESULT_OK) return 0;
  int up = 0;
  for (int i = 0; i < 100 && !up; i++) {
    zss_reply *reply = NULL;
    up = zss_client_management(probe, "PING", 0, &reply) == ZSS_RESULT_OK;
    zss_reply_free(reply);
    if (!up) sleep_ms(100);
  }
  zss_client_free(probe);
  return up;
}

static void broker_signal(broker_proc *b, int signal) {
  if (b->pid > 0) {
    kill(b->pid, signal);
    waitpid(b->pid, NULL, 0);
    b->pid = 0;
  }
}

/* The requests broker `b` forwarded to workers (its SMI STATS `broker.forwarded`), or -1. */
static long forwarded(const broker_proc *b) {
  zss_client *c = NULL;
  if (zss_client_new(b->frontend, NULL, 1000, &c) != ZSS_RESULT_OK) return -1;
  zss_reply *reply = NULL;
  long n = -1;
  const char *json = NULL;
  if (zss_client_management(c, "STATS", 0, &reply) == ZSS_RESULT_OK &&
      zss_reply_payload_json(reply, &json) == ZSS_RESULT_OK) {
    const char *at = strstr(json, "\"forwarded\":");
    if (at) n = atol(at + strlen("\"forwarded\":"));
  }
  zss_reply_free(reply);
  zss_client_free(c);
  return n;
}

/* Waits until the worker is registered with broker `b`: a call through it alone succeeds. */
static int registered_with(const broker_proc *b) {
  zss_client *c = NULL;
  if (zss_client_new(b->frontend, "failover", 1000, &c) != ZSS_RESULT_OK) return 0;
  int ok = 0;
  for (int i = 0; i < 250 && !ok; i++) {
    zss_reply *reply = NULL;
    ok = zss_client_call_json(c, NULL, "echo", "1", NULL, 0, &reply) == ZSS_RESULT_OK;
    zss_reply_free(reply);
    if (!ok) sleep_ms(20);
  }
  zss_client_free(c);
  return ok;
}

#define MAX_OUTCOMES 4096
#define THREADS 12

typedef struct load {
  zss_client *client;
  int idempotent;
  atomic_int *running;
  int n;
  zss_result results[MAX_OUTCOMES];
  long ended_ms[MAX_OUTCOMES];
} load;

/* Calls "nap" (100 ms) back to back until told to stop, recording every outcome. */
static void *run_load(void *arg) {
  load *l = arg;
  while (atomic_load(l->running) && l->n < MAX_OUTCOMES) {
    zss_reply *reply = NULL;
    zss_result r = zss_client_call_json_retries(l->client, NULL, "nap", "100", NULL, 0,
                                                l->idempotent ? ZSS_IDEMPOTENT_RETRIES : 0, &reply);
    zss_reply_free(reply);
    l->results[l->n] = r;
    l->ended_ms[l->n] = now_ms();
    l->n++;
  }
  return NULL;
}

static void test_a_killed_broker_costs_only_its_calls_in_flight(void) {
  broker_proc a = {0}, b = {0};
  CHECK(broker_start(&a));
  CHECK(broker_start(&b));
  if (harness_case_failed) goto out;

  char backends[160], frontends[160];
  snprintf(backends, sizeof backends, "%s,%s", a.backend, b.backend);
  snprintf(frontends, sizeof frontends, "%s, %s", a.frontend, b.frontend);
  zss_worker *worker = NULL;
  CHECK_RESULT(zss_worker_new(backends, "failover", &worker), ZSS_RESULT_OK);
  CHECK_RESULT(zss_worker_set_concurrency(worker, THREADS * 2), ZSS_RESULT_OK);
  CHECK_RESULT(zss_worker_add_verb(worker, "echo", echo, NULL), ZSS_RESULT_OK);
  CHECK_RESULT(zss_worker_add_verb(worker, "nap", nap, NULL), ZSS_RESULT_OK);
  CHECK_RESULT(zss_worker_start(worker), ZSS_RESULT_OK);
  CHECK(registered_with(&a));
  CHECK(registered_with(&b));
  long a0 = forwarded(&a), b0 = forwarded(&b);

  /* Pings every 100 ms, lost after 1 s of silence (a SIGKILLed broker drops its connection at
   * once; the margin is for a loaded machine); calls time out after 5 s. */
  zss_client *client = NULL;
  CHECK_RESULT(zss_client_new_liveness(frontends, "failover", 5000, 100, 10, &client), ZSS_RESULT_OK);
  if (harness_case_failed) goto stop_worker;

  /* Calls spread over both brokers. */
  static const uint8_t one[] = {0x01}; /* msgpack 1 */
  for (int i = 0; i < 40; i++) {
    zss_reply *reply = NULL;
    if (i % 2) {
      CHECK_RESULT(zss_client_call_msgpack_retries(client, NULL, "echo", one, 1, NULL, 0, 0, 1, &reply), ZSS_RESULT_OK);
    } else {
      CHECK_RESULT(zss_client_call_json(client, NULL, "echo", "\"spread\"", NULL, 0, &reply), ZSS_RESULT_OK);
    }
    zss_reply_free(reply);
  }
  long a1 = forwarded(&a), b1 = forwarded(&b);
  CHECK(a1 - a0 > 0 && b1 - b0 > 0);
  CHECK((a1 - a0) + (b1 - b0) == 40);

  /* Load: threads 0,1 plain calls, 2,3 with retries, ... (half of each parity); kill b under it. */
  atomic_int running = 1;
  static load loads[THREADS];
  pthread_t threads[THREADS];
  for (int t = 0; t < THREADS; t++) {
    loads[t] = (load){.client = client, .idempotent = t % 4 >= 2, .running = &running};
    CHECK(pthread_create(&threads[t], NULL, run_load, &loads[t]) == 0);
  }
  sleep_ms(500);
  broker_signal(&b, SIGKILL);
  long killed = now_ms();
  sleep_ms(1000);
  long settled = now_ms();
  sleep_ms(500);
  atomic_store(&running, 0);
  for (int t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);

  int lost = 0, calls = 0, late = 0;
  for (int t = 0; t < THREADS; t++) {
    for (int i = 0; i < loads[t].n; i++) {
      zss_result r = loads[t].results[i];
      long at = loads[t].ended_ms[i];
      calls++;
      if (r == ZSS_RESULT_OK) continue;
      if (r == ZSS_RESULT_BROKER_LOST && !loads[t].idempotent) {
        lost++;
        /* Within the liveness window plus slack (valgrind is slow), far from the 5 s timeout. */
        if (at < killed || at > killed + 1500) late++;
        if (at > settled) late++;
        continue;
      }
      fprintf(stderr, "  thread %d (idempotent %d) call %d: %s (%ld ms after the kill)\n", t, loads[t].idempotent,
              i, zss_result_name(r), at - killed);
      CHECK(r == ZSS_RESULT_OK);
    }
  }
  fprintf(stderr, "  # %d calls under load, %d plain calls broker-lost\n", calls, lost);
  CHECK(lost > 0);
  CHECK(late == 0);

  /* Later calls all go to the survivor and succeed. */
  for (int i = 0; i < 20; i++) {
    zss_reply *reply = NULL;
    CHECK_RESULT(zss_client_call_json(client, NULL, "echo", "2", NULL, 0, &reply), ZSS_RESULT_OK);
    zss_reply_free(reply);
  }
  zss_client_free(client);
stop_worker:
  zss_worker_free(worker);
out:
  broker_signal(&a, SIGTERM);
  broker_signal(&b, SIGKILL);
}

static void test_bad_arguments(void) {
  zss_client *client = NULL;
  CHECK_RESULT(zss_client_new_liveness(" , ", NULL, 0, 0, 0, &client), ZSS_RESULT_INVALID_ARGUMENT);
  CHECK(client == NULL);
  CHECK_RESULT(zss_client_new_liveness("tcp://127.0.0.1:1,tcp://127.0.0.1:2", NULL, 0, 0, 0, &client),
               ZSS_RESULT_OK);
  CHECK_RESULT(zss_client_set_brokers(client, ""), ZSS_RESULT_INVALID_ARGUMENT);
  CHECK_CONTAINS(zss_last_error(), "endpoints");
  CHECK_RESULT(zss_client_set_brokers(client, NULL), ZSS_RESULT_NULL_PARAMETER);
  CHECK_RESULT(zss_client_set_brokers(NULL, "tcp://127.0.0.1:3"), ZSS_RESULT_NULL_PARAMETER);
  CHECK_RESULT(zss_client_set_brokers(client, "tcp://127.0.0.1:3"), ZSS_RESULT_OK);
  zss_reply *reply = NULL;
  CHECK_RESULT(zss_client_call_json_retries(client, NULL, "echo", "1", NULL, 0, 2, &reply),
               ZSS_RESULT_INVALID_ARGUMENT); /* no sid */
  CHECK(reply == NULL);
  CHECK_RESULT(zss_client_call_msgpack_retries(client, "x", "echo", NULL, 0, NULL, 0, 0, 2, NULL),
               ZSS_RESULT_NULL_PARAMETER);
  zss_client_free(client);

  zss_worker *worker = NULL;
  CHECK_RESULT(zss_worker_new("tcp://127.0.0.1:1,tcp://127.0.0.1:2", "w", &worker), ZSS_RESULT_OK);
  CHECK_RESULT(zss_worker_set_brokers(worker, ","), ZSS_RESULT_INVALID_ARGUMENT);
  CHECK_RESULT(zss_worker_set_brokers(worker, "tcp://127.0.0.1:4"), ZSS_RESULT_OK);
  CHECK_RESULT(zss_worker_stop(worker), ZSS_RESULT_OK);
  CHECK_RESULT(zss_worker_set_brokers(worker, "tcp://127.0.0.1:4"), ZSS_RESULT_CLOSED);
  zss_worker_free(worker);
}

int main(void) {
  RUN(test_bad_arguments);
  RUN(test_a_killed_broker_costs_only_its_calls_in_flight);
  HARNESS_EXIT();
}
