/* Error replies: handler errors with their code and messages, broker and worker 404s,
 * timeouts (599) with and without a broker. */
#include "fixture.h"

/* Fails with 422 and its own messages. */
static void reject(void *userdata, const zss_request *request, zss_response *response) {
  (void)userdata;
  (void)request;
  zss_response_set_error(response, 422, "Name is required.", "payload.name missing");
}

/* Fails with 403 and the standard messages. */
static void forbid(void *userdata, const zss_request *request, zss_response *response) {
  (void)userdata;
  (void)request;
  zss_response_set_error(response, 403, NULL, NULL);
}

/* Fails with 422, its own user message, the standard developer message and extra fields. */
static void reject_fields(void *userdata, const zss_request *request, zss_response *response) {
  (void)userdata;
  (void)request;
  zss_response_set_error_json(response, 422,
                              "{\"userMessage\": \"Check the form.\", \"code\": 400,"
                              " \"validationErrors\": [\"name\", \"age\"]}");
}

/* Sleeps longer than the callers' timeout, then answers. */
static void slow(void *userdata, const zss_request *request, zss_response *response) {
  (void)userdata;
  (void)request;
  sleep_ms(700);
  zss_response_set_json(response, 0, "\"late\"");
}

/* Sets an error, then a success: the last call wins. */
static void change_mind(void *userdata, const zss_request *request, zss_response *response) {
  (void)userdata;
  (void)request;
  zss_response_set_error(response, 500, NULL, NULL);
  zss_response_set_json(response, 0, "\"fine\"");
}

static const verb_def VERBS[] = {
    {"reject", reject, NULL},
    {"forbid", forbid, NULL},
    {"reject_fields", reject_fields, NULL},
    {"slow", slow, NULL},
    {"change_mind", change_mind, NULL},
};

static fixture fx;

/* Calls and checks an error reply: result, status, error code, and the message texts. */
static void expect_error(const char *sid, const char *verb, uint32_t timeout_ms, zss_result expected_result,
                         uint16_t expected_code, const char *user, const char *developer) {
  zss_reply *reply = NULL;
  CHECK_RESULT(zss_client_call_json(fx.client, sid, verb, "{}", NULL, timeout_ms, &reply), expected_result);
  CHECK(reply != NULL);
  if (!reply) return;
  uint16_t status = 0, code = 0;
  bool is_error = false;
  const char *u = NULL, *d = NULL, *payload = NULL;
  CHECK_RESULT(zss_reply_status(reply, &status), ZSS_RESULT_OK);
  CHECK(status == expected_code);
  CHECK_RESULT(zss_reply_is_error(reply, &is_error), ZSS_RESULT_OK);
  CHECK(is_error);
  CHECK_RESULT(zss_reply_error_code(reply, &code), ZSS_RESULT_OK);
  CHECK(code == expected_code);
  CHECK_RESULT(zss_reply_error_user_message(reply, &u), ZSS_RESULT_OK);
  CHECK_STR(u, user);
  CHECK_RESULT(zss_reply_error_developer_message(reply, &d), ZSS_RESULT_OK);
  CHECK_STR(d, developer);
  CHECK_RESULT(zss_reply_payload_json(reply, &payload), ZSS_RESULT_OK);
  char code_field[32];
  snprintf(code_field, sizeof code_field, "\"code\":%u", (unsigned)expected_code);
  CHECK_CONTAINS(payload, code_field);
  zss_reply_free(reply);
}

static void test_handler_error_reaches_caller(void) {
  expect_error(NULL, "reject", 0, ZSS_RESULT_SERVICE_ERROR, 422, "Name is required.", "payload.name missing");
  /* The message of the failing call names the code too. */
  CHECK_CONTAINS(zss_last_error(), "422");
}

static void test_handler_error_standard_messages(void) {
  expect_error(NULL, "forbid", 0, ZSS_RESULT_SERVICE_ERROR, 403, "You do not have access to this resource.",
               "User does not have enough privileges to access this resource.");
}

static void test_handler_error_extra_fields(void) {
  expect_error(NULL, "reject_fields", 0, ZSS_RESULT_SERVICE_ERROR, 422, "Check the form.",
               "The request was well-formed but could not be processed due to semantic errors.");
  zss_reply *reply = NULL;
  CHECK_RESULT(zss_client_call_json(fx.client, NULL, "reject_fields", "{}", NULL, 0, &reply),
               ZSS_RESULT_SERVICE_ERROR);
  const char *payload = NULL;
  CHECK_RESULT(zss_reply_payload_json(reply, &payload), ZSS_RESULT_OK);
  /* The argument's code wins over the JSON's; extra fields are kept. */
  CHECK_CONTAINS(payload, "\"validationErrors\":[\"name\",\"age\"]");
  CHECK_CONTAINS(payload, "\"errorCode\":422");
  zss_reply_free(reply);
}

static void test_set_error_json_rejects_bad_input(void) {
  zss_response *none = NULL;
  CHECK_RESULT(zss_response_set_error_json(none, 422, "{}"), ZSS_RESULT_NULL_PARAMETER);
}

static void test_last_setter_wins(void) {
  zss_reply *reply = NULL;
  CHECK_RESULT(zss_client_call_json(fx.client, NULL, "change_mind", "null", NULL, 0, &reply), ZSS_RESULT_OK);
  const char *json = NULL;
  CHECK_RESULT(zss_reply_payload_json(reply, &json), ZSS_RESULT_OK);
  CHECK_STR(json, "\"fine\"");
  zss_reply_free(reply);
}

static void test_unknown_service_is_broker_404(void) {
  expect_error("nosuchservice", "get", 0, ZSS_RESULT_SERVICE_ERROR, 404, "The content you requested was not found.",
               "The resource could not be found.");
}

static void test_unknown_verb_is_worker_404(void) {
  expect_error(NULL, "nosuchverb", 0, ZSS_RESULT_SERVICE_ERROR, 404, "The content you requested was not found.",
               "The resource could not be found.");
}

static void test_timeout_is_599(void) {
  expect_error(NULL, "slow", 150, ZSS_RESULT_TIMEOUT, ZSS_STATUS_TIMEOUT,
               "Connection timeout while processing this request.",
               "Connection timeout while processing this request.");
  /* The client still works after a timeout (the late reply is dropped). */
  sleep_ms(800);
  zss_reply *reply = NULL;
  CHECK_RESULT(zss_client_call_json(fx.client, NULL, "ping", "null", NULL, 0, &reply), ZSS_RESULT_OK);
  zss_reply_free(reply);
}

static void test_timeout_without_broker(void) {
  /* Bind a broker only to learn a free port, then stop it: nothing listens there. */
  zss_broker *probe = NULL;
  char endpoint[128] = {0};
  CHECK_RESULT(zss_broker_bind("tcp://127.0.0.1:*", "tcp://127.0.0.1:*", &probe), ZSS_RESULT_OK);
  const char *fe = NULL;
  CHECK_RESULT(zss_broker_frontend_endpoint(probe, &fe), ZSS_RESULT_OK);
  if (fe) snprintf(endpoint, sizeof endpoint, "%s", fe);
  zss_broker_free(probe);
  /* libzmq closes the listening socket in the background: give it time, or the client may
     still connect to the dying broker (and see it lost, ZSS_RESULT_BROKER_LOST). */
  sleep_ms(300);

  zss_client *lonely = NULL;
  CHECK_RESULT(zss_client_new(endpoint, "test", 100, &lonely), ZSS_RESULT_OK);
  zss_reply *reply = NULL;
  CHECK_RESULT(zss_client_call_json(lonely, NULL, "ping", "null", NULL, 0, &reply), ZSS_RESULT_TIMEOUT);
  uint16_t status = 0;
  CHECK_RESULT(zss_reply_status(reply, &status), ZSS_RESULT_OK);
  CHECK(status == 599);
  zss_reply_free(reply);
  zss_client_free(lonely);
}

int main(void) {
  if (!fixture_start(&fx, VERBS, sizeof VERBS / sizeof VERBS[0])) {
    printf("not ok - fixture_start\n");
    fixture_stop(&fx);
    return 1;
  }
  RUN(test_handler_error_reaches_caller);
  RUN(test_handler_error_standard_messages);
  RUN(test_handler_error_extra_fields);
  RUN(test_set_error_json_rejects_bad_input);
  RUN(test_last_setter_wins);
  RUN(test_unknown_service_is_broker_404);
  RUN(test_unknown_verb_is_worker_404);
  RUN(test_timeout_is_599);
  RUN(test_timeout_without_broker);
  fixture_stop(&fx);
  HARNESS_EXIT();
}
