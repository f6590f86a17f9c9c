/* CURVE from C: key pairs, an encrypted broker with an allow list, an encrypted worker and
 * client, and a client whose key is not listed (refused fast, not a timeout). */
#include "harness.h"
#include <stdlib.h>
#include <time.h>

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void echo(void *userdata, const zss_request *request, zss_response *response) {
  (void)userdata;
  const char *json = NULL;
  zss_request_payload_json(request, &json);
  zss_response_set_json(response, 0, json);
}

static void test_bad_arguments(void) {
  char pub[41], sec[41];
  CHECK_RESULT(zss_generate_keypair(NULL, sec), ZSS_RESULT_NULL_PARAMETER);
  CHECK_RESULT(zss_generate_keypair(pub, NULL), ZSS_RESULT_NULL_PARAMETER);
  zss_broker *broker = NULL;
  CHECK_RESULT(zss_broker_bind_curve("tcp://127.0.0.1:*", "tcp://127.0.0.1:*", "not a key", NULL, &broker),
               ZSS_RESULT_INVALID_ARGUMENT);
  CHECK(broker == NULL);
  CHECK_CONTAINS(zss_last_error(), "curve_secret");
}

static void test_encrypted_round_trip_and_refused_key(void) {
  char broker_pub[41], broker_sec[41], worker_pub[41], worker_sec[41], client_pub[41], client_sec[41];
  char other_pub[41], other_sec[41];
  CHECK_RESULT(zss_generate_keypair(broker_pub, broker_sec), ZSS_RESULT_OK);
  CHECK_RESULT(zss_generate_keypair(worker_pub, worker_sec), ZSS_RESULT_OK);
  CHECK_RESULT(zss_generate_keypair(client_pub, client_sec), ZSS_RESULT_OK);
  CHECK_RESULT(zss_generate_keypair(other_pub, other_sec), ZSS_RESULT_OK);
  CHECK(strlen(broker_pub) == 40 && strlen(broker_sec) == 40);
  char allow[256];
  snprintf(allow, sizeof allow, "# test\n%s name=worker serve=SECURE\n%s name=client call=SECURE\n", worker_pub,
           client_pub);

  zss_broker *broker = NULL;
  CHECK_RESULT(zss_broker_bind_curve("tcp://127.0.0.1:*", "tcp://127.0.0.1:*", broker_sec, allow, &broker),
               ZSS_RESULT_OK);
  if (!broker) return;
  const char *frontend = NULL, *backend = NULL;
  zss_broker_frontend_endpoint(broker, &frontend);
  zss_broker_backend_endpoint(broker, &backend);
  CHECK_RESULT(zss_broker_start(broker), ZSS_RESULT_OK);

  zss_worker *worker = NULL;
  CHECK_RESULT(zss_worker_new(backend, "secure", &worker), ZSS_RESULT_OK);
  CHECK_RESULT(zss_worker_set_curve(worker, broker_pub, worker_sec), ZSS_RESULT_OK);
  CHECK_RESULT(zss_worker_add_verb(worker, "echo", echo, NULL), ZSS_RESULT_OK);
  CHECK_RESULT(zss_worker_start(worker), ZSS_RESULT_OK);

  zss_client *client = NULL;
  CHECK_RESULT(zss_client_new_curve(frontend, "secure", 2000, broker_pub, client_sec, &client), ZSS_RESULT_OK);
  zss_result r = ZSS_RESULT_TIMEOUT;
  for (int i = 0; i < 50 && r != ZSS_RESULT_OK; i++) {
    zss_reply *reply = NULL;
    r = zss_client_call_json(client, NULL, "echo", "\"over curve\"", NULL, 0, &reply);
    if (r == ZSS_RESULT_OK) {
      const char *json = NULL;
      zss_reply_payload_json(reply, &json);
      CHECK_STR(json, "\"over curve\"");
    }
    zss_reply_free(reply);
    if (r != ZSS_RESULT_OK) sleep_ms(100);
  }
  CHECK_RESULT(r, ZSS_RESULT_OK);

  zss_client *stranger = NULL;
  CHECK_RESULT(zss_client_new_curve(frontend, "secure", 5000, broker_pub, other_sec, &stranger), ZSS_RESULT_OK);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  zss_reply *reply = NULL;
  CHECK_RESULT(zss_client_call_json(stranger, NULL, "echo", "1", NULL, 0, &reply), ZSS_RESULT_AUTHENTICATION_FAILED);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  CHECK(reply == NULL);
  CHECK((t1.tv_sec - t0.tv_sec) < 2); /* fast, not the 5 s timeout */
  CHECK_STR(zss_result_name(ZSS_RESULT_AUTHENTICATION_FAILED), "ZSS_RESULT_AUTHENTICATION_FAILED");

  zss_client_free(stranger);
  zss_client_free(client);
  zss_worker_free(worker);
  zss_broker_free(broker);
}

int main(void) {
  RUN(test_bad_arguments);
  RUN(test_encrypted_round_trip_and_refused_key);
  HARNESS_EXIT();
}
