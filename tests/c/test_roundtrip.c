/* Round trips through a real broker and worker: JSON, msgpack, headers, 204, request fields,
 * and concurrent calls on one client. */
#include "fixture.h"
#include <pthread.h>
#include <stdlib.h>

/* Answers with the request payload, as msgpack bytes (exercises both msgpack directions). */
static void echo(void *userdata, const zss_request *request, zss_response *response) {
  (void)userdata;
  const uint8_t *data = NULL;
  size_t len = 0;
  if (zss_request_payload_msgpack(request, &data, &len) == ZSS_RESULT_OK) {
    zss_response_set_msgpack(response, 0, data, len);
  } else {
    zss_response_set_error(response, 500, NULL, zss_last_error());
  }
}

/* Answers with the request headers and adds one of its own. */
static void headers(void *userdata, const zss_request *request, zss_response *response) {
  (void)userdata;
  const char *json = NULL;
  zss_request_headers_json(request, &json);
  zss_response_set_json(response, 0, json);
  zss_response_set_header_json(response, "x-answered-by", "\"c-worker\"");
}

/* Sets nothing: the reply is 204 No Content. */
static void nothing(void *userdata, const zss_request *request, zss_response *response) {
  (void)userdata;
  (void)request;
  (void)response;
}

/* Answers with its request's text fields, as JSON built by hand. */
static void whoami(void *userdata, const zss_request *request, zss_response *response) {
  (void)userdata;
  const char *rid = NULL, *client = NULL, *sid = NULL, *verb = NULL;
  zss_request_text(request, ZSS_REQUEST_FIELD_RID, &rid);
  zss_request_text(request, ZSS_REQUEST_FIELD_CLIENT, &client);
  zss_request_text(request, ZSS_REQUEST_FIELD_SID, &sid);
  zss_request_text(request, ZSS_REQUEST_FIELD_VERB, &verb);
  char buf[512];
  snprintf(buf, sizeof buf, "{\"rid\":\"%s\",\"client\":\"%s\",\"sid\":\"%s\",\"verb\":\"%s\"}", rid,
           client, sid, verb);
  zss_response_set_json(response, 201, buf);
}

static const verb_def VERBS[] = {
    {"echo", echo, NULL},
    {"headers", headers, NULL},
    {"nothing", nothing, NULL},
    {"whoami", whoami, NULL},
};

static fixture fx;

static void test_version(void) {
  const char *v = zss_version();
  CHECK(v != NULL && strlen(v) >= 5);
  CHECK_STR(zss_result_name(ZSS_RESULT_TIMEOUT), "ZSS_RESULT_TIMEOUT");
}

static void test_json_round_trip(void) {
  zss_reply *reply = NULL;
  CHECK_RESULT(zss_client_call_json(fx.client, NULL, "echo", "{\"id\": 42, \"name\": \"zss\"}", NULL, 0, &reply),
               ZSS_RESULT_OK);
  CHECK(reply != NULL);
  if (!reply) return;
  uint16_t status = 0;
  bool is_error = true;
  const char *json = NULL;
  CHECK_RESULT(zss_reply_status(reply, &status), ZSS_RESULT_OK);
  CHECK(status == 200);
  CHECK_RESULT(zss_reply_is_error(reply, &is_error), ZSS_RESULT_OK);
  CHECK(!is_error);
  CHECK_RESULT(zss_reply_payload_json(reply, &json), ZSS_RESULT_OK);
  CHECK_STR(json, "{\"id\":42,\"name\":\"zss\"}");
  const char *rid = NULL;
  CHECK_RESULT(zss_reply_rid(reply, &rid), ZSS_RESULT_OK);
  CHECK(rid != NULL && strlen(rid) == 36);
  zss_reply_free(reply);
}

static void test_msgpack_round_trip(void) {
  /* {"id": 42, "ok": true} in msgpack */
  static const uint8_t payload[] = {0x82, 0xa2, 'i', 'd', 0x2a, 0xa2, 'o', 'k', 0xc3};
  /* {"x-trace": "abc"} */
  static const uint8_t hdrs[] = {0x81, 0xa7, 'x', '-', 't', 'r', 'a', 'c', 'e', 0xa3, 'a', 'b', 'c'};
  zss_reply *reply = NULL;
  CHECK_RESULT(zss_client_call_msgpack(fx.client, "test", "ECHO", payload, sizeof payload, hdrs, sizeof hdrs,
                                       0, &reply),
               ZSS_RESULT_OK);
  if (!reply) return;
  const uint8_t *data = NULL;
  size_t len = 0;
  CHECK_RESULT(zss_reply_payload_msgpack(reply, &data, &len), ZSS_RESULT_OK);
  CHECK(len == sizeof payload && memcmp(data, payload, len) == 0);
  const char *json = NULL;
  CHECK_RESULT(zss_reply_payload_json(reply, &json), ZSS_RESULT_OK);
  CHECK_STR(json, "{\"id\":42,\"ok\":true}");
  CHECK_RESULT(zss_reply_headers_json(reply, &json), ZSS_RESULT_OK);
  CHECK_CONTAINS(json, "\"x-trace\":\"abc\"");
  CHECK_RESULT(zss_reply_headers_msgpack(reply, &data, &len), ZSS_RESULT_OK);
  CHECK(len > 0 && (data[0] & 0xf0) == 0x80); /* a fixmap */
  zss_reply_free(reply);
}

static void test_headers_both_ways(void) {
  zss_reply *reply = NULL;
  CHECK_RESULT(zss_client_call_json(fx.client, NULL, "headers", "null", "{\"x-user\": \"ada\", \"x-n\": 7}", 0,
                                    &reply),
               ZSS_RESULT_OK);
  if (!reply) return;
  const char *payload = NULL, *reply_headers = NULL;
  CHECK_RESULT(zss_reply_payload_json(reply, &payload), ZSS_RESULT_OK);
  CHECK_CONTAINS(payload, "\"x-user\":\"ada\"");
  CHECK_CONTAINS(payload, "\"x-n\":7");
  CHECK_RESULT(zss_reply_headers_json(reply, &reply_headers), ZSS_RESULT_OK);
  CHECK_CONTAINS(reply_headers, "\"x-answered-by\":\"c-worker\"");
  CHECK_CONTAINS(reply_headers, "\"response-time\"");
  zss_reply_free(reply);
}

static void test_no_content(void) {
  zss_reply *reply = NULL;
  CHECK_RESULT(zss_client_call_json(fx.client, NULL, "nothing", "{}", NULL, 0, &reply), ZSS_RESULT_OK);
  if (!reply) return;
  uint16_t status = 0;
  const char *json = NULL;
  CHECK_RESULT(zss_reply_status(reply, &status), ZSS_RESULT_OK);
  CHECK(status == 204);
  CHECK_RESULT(zss_reply_payload_json(reply, &json), ZSS_RESULT_OK);
  CHECK_STR(json, "null");
  zss_reply_free(reply);
}

static void test_request_fields(void) {
  zss_reply *reply = NULL;
  CHECK_RESULT(zss_client_call_json(fx.client, "Test", "whoAmI", "1", NULL, 0, &reply), ZSS_RESULT_OK);
  if (!reply) return;
  uint16_t status = 0;
  const char *json = NULL, *rid = NULL;
  CHECK_RESULT(zss_reply_status(reply, &status), ZSS_RESULT_OK);
  CHECK(status == 201);
  CHECK_RESULT(zss_reply_payload_json(reply, &json), ZSS_RESULT_OK);
  CHECK_CONTAINS(json, "\"client\":\"client#");
  CHECK_CONTAINS(json, "\"sid\":\"TEST\"");
  CHECK_CONTAINS(json, "\"verb\":\"WHOAMI\"");
  CHECK_RESULT(zss_reply_rid(reply, &rid), ZSS_RESULT_OK);
  if (rid) {
    char expected[64];
    snprintf(expected, sizeof expected, "\"rid\":\"%s\"", rid);
    CHECK_CONTAINS(json, expected);
  }
  zss_reply_free(reply);
}

#define THREADS 4
#define CALLS_PER_THREAD 5

static void *call_many(void *arg) {
  long id = (long)arg;
  long ok = 0;
  for (int i = 0; i < CALLS_PER_THREAD; i++) {
    char payload[64], expected[64];
    snprintf(payload, sizeof payload, "[%ld, %d]", id, i);
    snprintf(expected, sizeof expected, "[%ld,%d]", id, i);
    zss_reply *reply = NULL;
    if (zss_client_call_json(fx.client, NULL, "echo", payload, NULL, 5000, &reply) == ZSS_RESULT_OK) {
      const char *json = NULL;
      if (zss_reply_payload_json(reply, &json) == ZSS_RESULT_OK && strcmp(json, expected) == 0) ok++;
    }
    zss_reply_free(reply);
  }
  return (void *)ok;
}

static void test_concurrent_calls_share_a_client(void) {
  pthread_t threads[THREADS];
  for (long t = 0; t < THREADS; t++) CHECK(pthread_create(&threads[t], NULL, call_many, (void *)t) == 0);
  long total = 0;
  for (int t = 0; t < THREADS; t++) {
    void *ok = NULL;
    pthread_join(threads[t], &ok);
    total += (long)ok;
  }
  CHECK(total == THREADS * CALLS_PER_THREAD);
}

static void test_management(void) {
  zss_reply *reply = NULL;
  CHECK_RESULT(zss_client_management(fx.client, "PING", 0, &reply), ZSS_RESULT_OK);
  const char *json = NULL;
  if (reply) {
    CHECK_RESULT(zss_reply_payload_json(reply, &json), ZSS_RESULT_OK);
    CHECK_STR(json, "\"PONG\"");
    zss_reply_free(reply);
  }
  reply = NULL;
  CHECK_RESULT(zss_client_management(fx.client, "STATS", 0, &reply), ZSS_RESULT_OK);
  if (reply) {
    CHECK_RESULT(zss_reply_payload_json(reply, &json), ZSS_RESULT_OK);
    CHECK(json != NULL && strstr(json, "\"services\"") != NULL && strstr(json, "\"broker\"") != NULL);
    zss_reply_free(reply);
  }
  reply = NULL;
  CHECK_RESULT(zss_client_management(fx.client, "REBOOT", 0, &reply), ZSS_RESULT_SERVICE_ERROR);
  if (reply) {
    uint16_t status = 0;
    CHECK_RESULT(zss_reply_status(reply, &status), ZSS_RESULT_OK);
    CHECK(status == 404);
    zss_reply_free(reply);
  }
  CHECK_RESULT(zss_client_management(fx.client, NULL, 0, &reply), ZSS_RESULT_NULL_PARAMETER);
}

int main(void) {
  RUN(test_version);
  harness_case_failed = 0;
  if (!fixture_start(&fx, VERBS, sizeof VERBS / sizeof VERBS[0])) {
    printf("not ok - fixture_start\n");
    fixture_stop(&fx);
    return 1;
  }
  RUN(test_json_round_trip);
  RUN(test_msgpack_round_trip);
  RUN(test_headers_both_ways);
  RUN(test_no_content);
  RUN(test_request_fields);
  RUN(test_concurrent_calls_share_a_client);
  RUN(test_management);
  fixture_stop(&fx);
  HARNESS_EXIT();
}
