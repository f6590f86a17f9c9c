/*
 * client: calls a service once and prints the reply.
 *
 *   cc client.c $(pkg-config --cflags --libs zss) -o client
 *   ./client [frontend] [sid] [verb] [payload-json]
 *   ./client tcp://127.0.0.1:7777 demo hello '{"name": "Ada"}'
 *
 * Exit status: 0 for a 2xx reply, 2 for an error reply (printed), 1 for anything else.
 */
#include <stdio.h>
#include <zss.h>

int main(int argc, char **argv) {
  const char *frontend = argc > 1 ? argv[1] : "tcp://127.0.0.1:7777";
  const char *sid = argc > 2 ? argv[2] : "demo";
  const char *verb = argc > 3 ? argv[3] : "hello";
  const char *payload = argc > 4 ? argv[4] : "{\"name\": \"world\"}";

  zss_client *client = NULL;
  if (zss_client_new(frontend, sid, 2000, &client) != ZSS_RESULT_OK) {
    fprintf(stderr, "client: %s\n", zss_last_error());
    return 1;
  }
  zss_reply *reply = NULL;
  zss_result result = zss_client_call_json(client, NULL, verb, payload, NULL, 0, &reply);
  int exit_code = 1;
  if (reply != NULL) { /* a reply arrived: success, error reply or timeout */
    uint16_t status = 0;
    const char *json = NULL, *headers = NULL;
    zss_reply_status(reply, &status);
    zss_reply_payload_json(reply, &json);
    zss_reply_headers_json(reply, &headers);
    printf("status %u\npayload %s\nheaders %s\n", (unsigned)status, json, headers);
    if (result == ZSS_RESULT_OK) {
      exit_code = 0;
    } else {
      uint16_t code = 0;
      const char *user = NULL, *developer = NULL;
      zss_reply_error_code(reply, &code);
      zss_reply_error_user_message(reply, &user);
      zss_reply_error_developer_message(reply, &developer);
      printf("error %u: %s (%s)\n", (unsigned)code, user, developer);
      exit_code = 2;
    }
  } else {
    fprintf(stderr, "client: %s: %s\n", zss_result_name(result), zss_last_error());
  }
  zss_reply_free(reply);
  zss_client_free(client);
  return exit_code;
}
