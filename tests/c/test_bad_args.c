/* Bad arguments and misuse return clear result codes (and never crash): NULL pointers,
 * invalid JSON / msgpack / UTF-8, closed and stopped handles, wrong states, busy addresses. */
#include "fixture.h"
#include <pthread.h>

/* Records what the response setters return when given bad input, then answers. */
typedef struct setter_results {
  zss_result bad_json, bad_msgpack, bad_status, bad_error_code, null_response, null_key;
  zss_result error_json_not_object, error_json_invalid, error_json_bad_code;
} setter_results;

static void bad_setters(void *userdata, const zss_request *request, zss_response *response) {
  setter_results *out = userdata;
  static const uint8_t truncated[] = {0x82, 0xa1, 'a'};
  out->bad_json = zss_response_set_json(response, 0, "{not json");
  out->bad_msgpack = zss_response_set_msgpack(response, 0, truncated, sizeof truncated);
  out->bad_status = zss_response_set_json(response, 404, "1");
  out->bad_error_code = zss_response_set_error(response, 200, NULL, NULL);
  out->error_json_not_object = zss_response_set_error_json(response, 422, "[1]");
  out->error_json_invalid = zss_response_set_error_json(response, 422, "{oops");
  out->error_json_bad_code = zss_response_set_error_json(response, 302, "{}");
  out->null_response = zss_response_set_json(NULL, 0, "1");
  out->null_key = zss_response_set_header_json(response, NULL, "1");
  const char *json = NULL;
  zss_request_payload_json(request, &json);
  zss_response_set_json(response, 0, json); /* the valid answer after the bad attempts */
}

/* Stops its own worker from inside the handler: must not deadlock. */
typedef struct self_stop {
  zss_worker *worker;
  zss_result result;
} self_stop;

static void stop_myself(void *userdata, const zss_request *request, zss_response *response) {
  (void)request;
  self_stop *s = userdata;
  s->result = zss_worker_stop(s->worker);
  zss_response_set_json(response, 0, "\"stopping\"");
}

static void test_null_pointers(void) {
  zss_client *client = (zss_client *)1; /* must be overwritten with NULL on failure */
  zss_broker *broker = (zss_broker *)1;
  zss_worker *worker = (zss_worker *)1;
  zss_reply *reply = (zss_reply *)1;
  CHECK_RESULT(zss_client_new(NULL, NULL, 0, &client), ZSS_RESULT_NULL_PARAMETER);
  CHECK(client == NULL);
  CHECK_CONTAINS(zss_last_error(), "endpoint is NULL");
  CHECK_RESULT(zss_client_new("tcp://127.0.0.1:1", NULL, 0, NULL), ZSS_RESULT_NULL_PARAMETER);
  CHECK_RESULT(zss_broker_bind(NULL, "tcp://127.0.0.1:*", &broker), ZSS_RESULT_NULL_PARAMETER);
  CHECK(broker == NULL);
  CHECK_RESULT(zss_worker_new("tcp://127.0.0.1:1", NULL, &worker), ZSS_RESULT_NULL_PARAMETER);
  CHECK(worker == NULL);
  CHECK_RESULT(zss_client_call_json(NULL, NULL, "v", "1", NULL, 0, &reply), ZSS_RESULT_NULL_PARAMETER);
  CHECK(reply == NULL);
  CHECK_RESULT(zss_client_call_json(NULL, NULL, "v", "1", NULL, 0, NULL), ZSS_RESULT_NULL_PARAMETER);
  CHECK_RESULT(zss_client_call_msgpack(NULL, NULL, "v", NULL, 0, NULL, 0, 0, &reply), ZSS_RESULT_NULL_PARAMETER);
  CHECK_RESULT(zss_client_close(NULL), ZSS_RESULT_NULL_PARAMETER);
  CHECK_RESULT(zss_broker_start(NULL), ZSS_RESULT_NULL_PARAMETER);
  CHECK_RESULT(zss_broker_stop(NULL), ZSS_RESULT_NULL_PARAMETER);
  CHECK_RESULT(zss_broker_frontend_endpoint(NULL, NULL), ZSS_RESULT_NULL_PARAMETER);
  CHECK_RESULT(zss_worker_add_verb(NULL, "v", NULL, NULL), ZSS_RESULT_NULL_PARAMETER);
  CHECK_RESULT(zss_worker_start(NULL), ZSS_RESULT_NULL_PARAMETER);
  CHECK_RESULT(zss_worker_stop(NULL), ZSS_RESULT_NULL_PARAMETER);
  CHECK_RESULT(zss_worker_set_concurrency(NULL, 1), ZSS_RESULT_NULL_PARAMETER);
  uint16_t status;
  const char *text;
  const uint8_t *data;
  size_t len;
  bool flag;
  CHECK_RESULT(zss_reply_status(NULL, &status), ZSS_RESULT_NULL_PARAMETER);
  CHECK_RESULT(zss_reply_is_error(NULL, &flag), ZSS_RESULT_NULL_PARAMETER);
  CHECK_RESULT(zss_reply_payload_json(NULL, &text), ZSS_RESULT_NULL_PARAMETER);
  CHECK_RESULT(zss_reply_payload_msgpack(NULL, &data, &len), ZSS_RESULT_NULL_PARAMETER);
  CHECK_RESULT(zss_reply_error_code(NULL, &status), ZSS_RESULT_NULL_PARAMETER);
  CHECK_RESULT(zss_request_payload_json(NULL, &text), ZSS_RESULT_NULL_PARAMETER);
  CHECK_RESULT(zss_request_text(NULL, ZSS_REQUEST_FIELD_RID, &text), ZSS_RESULT_NULL_PARAMETER);
  CHECK_RESULT(zss_response_set_error(NULL, 500, NULL, NULL), ZSS_RESULT_NULL_PARAMETER);
  CHECK_RESULT(zss_last_error_message(NULL, 10, NULL), ZSS_RESULT_NULL_PARAMETER);
  /* Freeing NULL is a no-op. */
  zss_client_free(NULL);
  zss_broker_free(NULL);
  zss_worker_free(NULL);
  zss_reply_free(NULL);
  zss_string_free(NULL);
}

static void test_invalid_inputs(void) {
  zss_client *client = NULL;
  zss_reply *reply = (zss_reply *)1;
  /* Nothing listens here: every call below must fail before sending anything. */
  CHECK_RESULT(zss_client_new("tcp://127.0.0.1:9", NULL, 100, &client), ZSS_RESULT_OK);
  CHECK_RESULT(zss_client_call_json(client, "svc", "get", "{\"id\": ", NULL, 0, &reply), ZSS_RESULT_INVALID_JSON);
  CHECK(reply == NULL);
  CHECK_CONTAINS(zss_last_error(), "payload_json is not valid JSON");
  CHECK_RESULT(zss_client_call_json(client, "svc", "get", "1", "{oops", 0, &reply), ZSS_RESULT_INVALID_JSON);
  CHECK_RESULT(zss_client_call_json(client, "svc", "get", "1", "[1, 2]", 0, &reply), ZSS_RESULT_INVALID_ARGUMENT);
  CHECK_CONTAINS(zss_last_error(), "must be a map");
  CHECK_RESULT(zss_client_call_json(client, NULL, "get", "1", NULL, 0, &reply), ZSS_RESULT_INVALID_ARGUMENT);
  CHECK_CONTAINS(zss_last_error(), "no service id");
  CHECK_RESULT(zss_client_call_json(client, "svc", "", "1", NULL, 0, &reply), ZSS_RESULT_INVALID_ARGUMENT);
  CHECK_RESULT(zss_client_call_json(client, "svc", "\xff\xfe", "1", NULL, 0, &reply), ZSS_RESULT_INVALID_ARGUMENT);
  CHECK_CONTAINS(zss_last_error(), "not valid UTF-8");
  static const uint8_t bad[] = {0xc1};
  static const uint8_t truncated[] = {0x82, 0xa1, 'a'};
  static const uint8_t not_a_map[] = {0x93, 1, 2, 3};
  CHECK_RESULT(zss_client_call_msgpack(client, "svc", "get", bad, sizeof bad, NULL, 0, 0, &reply),
               ZSS_RESULT_INVALID_MSGPACK);
  CHECK_RESULT(zss_client_call_msgpack(client, "svc", "get", truncated, sizeof truncated, NULL, 0, 0, &reply),
               ZSS_RESULT_INVALID_MSGPACK);
  CHECK_RESULT(zss_client_call_msgpack(client, "svc", "get", NULL, 3, NULL, 0, 0, &reply),
               ZSS_RESULT_NULL_PARAMETER);
  CHECK_RESULT(zss_client_call_msgpack(client, "svc", "get", NULL, 0, not_a_map, sizeof not_a_map, 0, &reply),
               ZSS_RESULT_INVALID_ARGUMENT);
  CHECK(reply == NULL);
  zss_client_free(client);

  zss_worker *worker = NULL;
  CHECK_RESULT(zss_worker_new("tcp://127.0.0.1:9", "", &worker), ZSS_RESULT_INVALID_ARGUMENT);
  CHECK_RESULT(zss_worker_new("tcp://127.0.0.1:9", "smi", &worker), ZSS_RESULT_INVALID_ARGUMENT);
  CHECK(worker == NULL);
  CHECK_RESULT(zss_client_new("not an endpoint", NULL, 0, &client), ZSS_RESULT_SOCKET);
  CHECK(client == NULL);
}

static void test_closed_client(void) {
  zss_client *client = NULL;
  zss_reply *reply = NULL;
  CHECK_RESULT(zss_client_new("tcp://127.0.0.1:9", "svc", 100, &client), ZSS_RESULT_OK);
  CHECK_RESULT(zss_client_close(client), ZSS_RESULT_OK);
  CHECK_RESULT(zss_client_close(client), ZSS_RESULT_OK); /* idempotent */
  CHECK_RESULT(zss_client_call_json(client, NULL, "get", "1", NULL, 0, &reply), ZSS_RESULT_CLOSED);
  CHECK(reply == NULL);
  CHECK_CONTAINS(zss_last_error(), "closed");
  zss_client_free(client);
}

typedef struct pending_call {
  zss_client *client;
  zss_result result;
} pending_call;

static void *call_slowly(void *arg) {
  pending_call *c = arg;
  zss_reply *reply = NULL;
  c->result = zss_client_call_json(c->client, NULL, "get", "1", NULL, 30000, &reply);
  zss_reply_free(reply);
  return NULL;
}

static void test_close_fails_calls_in_flight(void) {
  /* No broker: the call waits for its (long) timeout until the client is closed under it. */
  pending_call c = {NULL, ZSS_RESULT_OK};
  CHECK_RESULT(zss_client_new("tcp://127.0.0.1:9", "svc", 0, &c.client), ZSS_RESULT_OK);
  pthread_t thread;
  CHECK(pthread_create(&thread, NULL, call_slowly, &c) == 0);
  sleep_ms(300);
  CHECK_RESULT(zss_client_close(c.client), ZSS_RESULT_OK);
  pthread_join(thread, NULL);
  CHECK_RESULT(c.result, ZSS_RESULT_CLOSED);
  zss_client_free(c.client);
}

static void test_broker_states(void) {
  zss_broker *broker = NULL, *second = NULL;
  const char *fe = NULL;
  CHECK_RESULT(zss_broker_bind("tcp://127.0.0.1:*", "tcp://127.0.0.1:*", &broker), ZSS_RESULT_OK);
  CHECK_RESULT(zss_broker_frontend_endpoint(broker, &fe), ZSS_RESULT_OK);
  CHECK_CONTAINS(fe, "tcp://127.0.0.1:");
  CHECK(fe && fe[strlen(fe) - 1] != '*');
  /* The same address twice: the second bind fails at once. */
  CHECK_RESULT(zss_broker_bind(fe, "tcp://127.0.0.1:*", &second), ZSS_RESULT_SOCKET);
  CHECK(second == NULL);
  CHECK_CONTAINS(zss_last_error(), "bind");
  CHECK_RESULT(zss_broker_bind("bogus://x", "tcp://127.0.0.1:*", &second), ZSS_RESULT_SOCKET);
  CHECK_RESULT(zss_broker_start(broker), ZSS_RESULT_OK);
  CHECK_RESULT(zss_broker_start(broker), ZSS_RESULT_INVALID_STATE);
  CHECK_RESULT(zss_broker_stop(broker), ZSS_RESULT_OK);
  CHECK_RESULT(zss_broker_stop(broker), ZSS_RESULT_OK); /* idempotent */
  CHECK_RESULT(zss_broker_start(broker), ZSS_RESULT_CLOSED);
  /* Endpoints stay readable after stop. */
  CHECK_RESULT(zss_broker_frontend_endpoint(broker, &fe), ZSS_RESULT_OK);
  zss_broker_free(broker);
}

static void test_worker_states(void) {
  fixture fx;
  setter_results setters;
  memset(&setters, 0xff, sizeof setters);
  verb_def verbs[] = {{"setters", bad_setters, &setters}};
  if (!fixture_start(&fx, verbs, 1)) {
    fixture_stop(&fx);
    return;
  }
  CHECK_RESULT(zss_worker_add_verb(fx.worker, "late", bad_setters, NULL), ZSS_RESULT_INVALID_STATE);
  CHECK_RESULT(zss_worker_set_concurrency(fx.worker, 2), ZSS_RESULT_INVALID_STATE);
  CHECK_RESULT(zss_worker_start(fx.worker), ZSS_RESULT_INVALID_STATE);
  char *identity = NULL;
  CHECK_RESULT(zss_worker_identity(fx.worker, &identity), ZSS_RESULT_OK);
  CHECK(identity != NULL && strncmp(identity, "TEST#", 5) == 0);
  zss_string_free(identity);

  /* Response setters refuse bad input inside a handler, and the handler's valid answer wins. */
  zss_reply *reply = NULL;
  CHECK_RESULT(zss_client_call_json(fx.client, NULL, "setters", "[1]", NULL, 0, &reply), ZSS_RESULT_OK);
  const char *json = NULL;
  CHECK_RESULT(zss_reply_payload_json(reply, &json), ZSS_RESULT_OK);
  CHECK_STR(json, "[1]");
  /* A success reply has no error fields. */
  uint16_t code = 1;
  const char *text = NULL;
  CHECK_RESULT(zss_reply_error_code(reply, &code), ZSS_RESULT_INVALID_STATE);
  CHECK_RESULT(zss_reply_error_user_message(reply, &text), ZSS_RESULT_INVALID_STATE);
  zss_reply_free(reply);
  CHECK_RESULT(setters.bad_json, ZSS_RESULT_INVALID_JSON);
  CHECK_RESULT(setters.bad_msgpack, ZSS_RESULT_INVALID_MSGPACK);
  CHECK_RESULT(setters.bad_status, ZSS_RESULT_INVALID_ARGUMENT);
  CHECK_RESULT(setters.bad_error_code, ZSS_RESULT_INVALID_ARGUMENT);
  CHECK_RESULT(setters.error_json_not_object, ZSS_RESULT_INVALID_ARGUMENT);
  CHECK_RESULT(setters.error_json_invalid, ZSS_RESULT_INVALID_JSON);
  CHECK_RESULT(setters.error_json_bad_code, ZSS_RESULT_INVALID_ARGUMENT);
  CHECK_RESULT(setters.null_response, ZSS_RESULT_NULL_PARAMETER);
  CHECK_RESULT(setters.null_key, ZSS_RESULT_NULL_PARAMETER);

  CHECK_RESULT(zss_worker_stop(fx.worker), ZSS_RESULT_OK);
  CHECK_RESULT(zss_worker_stop(fx.worker), ZSS_RESULT_OK); /* idempotent */
  CHECK_RESULT(zss_worker_start(fx.worker), ZSS_RESULT_CLOSED);
  CHECK_RESULT(zss_worker_add_verb(fx.worker, "late", bad_setters, NULL), ZSS_RESULT_CLOSED);
  CHECK_RESULT(zss_worker_identity(fx.worker, &identity), ZSS_RESULT_INVALID_STATE);
  fixture_stop(&fx);

  zss_worker *w = NULL;
  CHECK_RESULT(zss_worker_new("tcp://127.0.0.1:9", "svc", &w), ZSS_RESULT_OK);
  CHECK_RESULT(zss_worker_add_verb(w, "", bad_setters, NULL), ZSS_RESULT_INVALID_ARGUMENT);
  CHECK_RESULT(zss_worker_add_verb(w, "v", NULL, NULL), ZSS_RESULT_NULL_PARAMETER);
  CHECK_RESULT(zss_worker_set_concurrency(w, 0), ZSS_RESULT_INVALID_ARGUMENT);
  zss_worker_free(w); /* never started */
}

static void test_worker_stops_itself_from_handler(void) {
  fixture fx;
  self_stop s = {NULL, ZSS_RESULT_PANIC};
  verb_def verbs[] = {{"stop", stop_myself, &s}};
  /* The handler needs the worker handle, known only after fixture_start registers it: the
   * handler reads s.worker when called, which is after this assignment. */
  if (!fixture_start(&fx, verbs, 1)) {
    fixture_stop(&fx);
    return;
  }
  s.worker = fx.worker;
  zss_reply *reply = NULL;
  CHECK_RESULT(zss_client_call_json(fx.client, NULL, "stop", "null", NULL, 5000, &reply), ZSS_RESULT_OK);
  zss_reply_free(reply);
  CHECK_RESULT(s.result, ZSS_RESULT_OK);
  fixture_stop(&fx); /* completes the stop the handler requested */
}

static void test_last_error_buffer(void) {
  zss_client *client = NULL;
  CHECK_RESULT(zss_client_new(NULL, NULL, 0, &client), ZSS_RESULT_NULL_PARAMETER);
  char small[8], big[256];
  size_t n = 0;
  CHECK_RESULT(zss_last_error_message(small, sizeof small, &n), ZSS_RESULT_INSUFFICIENT_SIZE);
  CHECK(n == strlen(zss_last_error()));
  CHECK(strlen(small) == sizeof small - 1);
  CHECK_RESULT(zss_last_error_message(big, sizeof big, &n), ZSS_RESULT_OK);
  CHECK_STR(big, "zss_client_new: endpoint is NULL");
  CHECK_STR(zss_result_name(ZSS_RESULT_NULL_PARAMETER), "ZSS_RESULT_NULL_PARAMETER");
}

int main(void) {
  RUN(test_null_pointers);
  RUN(test_invalid_inputs);
  RUN(test_closed_client);
  RUN(test_close_fails_calls_in_flight);
  RUN(test_broker_states);
  RUN(test_worker_states);
  RUN(test_worker_stops_itself_from_handler);
  RUN(test_last_error_buffer);
  HARNESS_EXIT();
}
