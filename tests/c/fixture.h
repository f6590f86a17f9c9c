/*
 * A broker embedded through the C ABI, a worker serving sid "TEST" with the verbs a test
 * registers, and a client: the real sockets, on wildcard ports of 127.0.0.1.
 */
#ifndef ZSS_TEST_FIXTURE_H
#define ZSS_TEST_FIXTURE_H

#include "harness.h"
#include <time.h>

typedef struct fixture {
  zss_broker *broker;
  zss_worker *worker;
  zss_client *client;
  const char *frontend;
  const char *backend;
} fixture;

typedef struct verb_def {
  const char *verb;
  zss_handler handler;
  void *userdata;
} verb_def;

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* "ping" answers "pong": the fixture waits on it until the worker is registered. */
static void fixture_ping(void *userdata, const zss_request *request, zss_response *response) {
  (void)userdata;
  (void)request;
  zss_response_set_json(response, 0, "\"pong\"");
}

/* Polls until the broker routes to the worker (SMI UP is asynchronous): the broker answers
 * 404 at once until then. Bounded: 20 s, generous for valgrind. */
static int fixture_wait_registered(zss_client *client, const char *sid) {
  for (int i = 0; i < 1000; i++) {
    zss_reply *reply = NULL;
    zss_result r = zss_client_call_json(client, sid, "ping", "null", NULL, 2000, &reply);
    zss_reply_free(reply);
    if (r == ZSS_RESULT_OK) return 1;
    sleep_ms(20);
  }
  return 0;
}

/* Starts broker, worker (sid "TEST", "ping" plus `verbs`) and client (default sid "TEST").
 * Returns 1 on success; on failure reports through CHECK and returns 0. */
static int fixture_start(fixture *fx, const verb_def *verbs, size_t n_verbs) {
  memset(fx, 0, sizeof *fx);
  CHECK_RESULT(zss_broker_bind("tcp://127.0.0.1:*", "tcp://127.0.0.1:*", &fx->broker), ZSS_RESULT_OK);
  if (!fx->broker) return 0;
  CHECK_RESULT(zss_broker_frontend_endpoint(fx->broker, &fx->frontend), ZSS_RESULT_OK);
  CHECK_RESULT(zss_broker_backend_endpoint(fx->broker, &fx->backend), ZSS_RESULT_OK);
  CHECK_RESULT(zss_broker_start(fx->broker), ZSS_RESULT_OK);

  CHECK_RESULT(zss_worker_new(fx->backend, "test", &fx->worker), ZSS_RESULT_OK);
  if (!fx->worker) return 0;
  CHECK_RESULT(zss_worker_set_concurrency(fx->worker, 4), ZSS_RESULT_OK);
  CHECK_RESULT(zss_worker_add_verb(fx->worker, "ping", fixture_ping, NULL), ZSS_RESULT_OK);
  for (size_t i = 0; i < n_verbs; i++) {
    CHECK_RESULT(zss_worker_add_verb(fx->worker, verbs[i].verb, verbs[i].handler, verbs[i].userdata),
                 ZSS_RESULT_OK);
  }
  CHECK_RESULT(zss_worker_start(fx->worker), ZSS_RESULT_OK);

  CHECK_RESULT(zss_client_new(fx->frontend, "test", 0, &fx->client), ZSS_RESULT_OK);
  if (!fx->client) return 0;
  int ok = fixture_wait_registered(fx->client, "test");
  CHECK(ok);
  return ok && !harness_case_failed;
}

static void fixture_stop(fixture *fx) {
  zss_client_free(fx->client);
  zss_worker_free(fx->worker);
  zss_broker_free(fx->broker);
  memset(fx, 0, sizeof *fx);
}

#endif
