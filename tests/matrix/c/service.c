/*
 * The matrix's C service: `c-service <backend-endpoint> <SID>` (tests/matrix/README.md).
 *
 * Registers SID with the broker through the C ABI (libzss) and serves until SIGTERM or SIGINT,
 * then stops the worker (requests in flight finish, SMI DOWN) and exits 0. Payloads are handled
 * as the core's JSON text, passed through untouched where possible; json.c picks the few
 * fields the `status` and `fail` verbs need and the x-matrix- headers.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zss.h>

#include "json.h"

#define MATRIX_PREFIX "x-matrix-"

/* Any zss call that fails in a handler: log why, and answer 500 (what a handler that cannot
 * answer properly should say). */
static void internal_error(zss_response *response, const char *verb, const char *what) {
  fprintf(stderr, "matrix c service: %s: %s failed: %s\n", verb, what, zss_last_error());
  if (zss_response_set_error(response, 500, NULL, NULL) != ZSS_RESULT_OK) {
    fprintf(stderr, "matrix c service: %s: zss_response_set_error failed: %s\n", verb, zss_last_error());
  }
}

/* The caller sent something the verb cannot use: 400 with a developer message. */
static void bad_request(zss_response *response, const char *verb, const char *developer_message) {
  if (zss_response_set_error(response, 400, NULL, developer_message) != ZSS_RESULT_OK) {
    internal_error(response, verb, "zss_response_set_error");
  }
}

static bool payload_json(const zss_request *request, zss_response *response, const char *verb, const char **json) {
  if (zss_request_payload_json(request, json) != ZSS_RESULT_OK) {
    internal_error(response, verb, "zss_request_payload_json");
    return false;
  }
  return true;
}

/* A JSON integer's raw text → long; false if it is not one (or out of range). */
static bool parse_integer(const char *text, size_t len, long *out) {
  char digits[32];
  if (len == 0 || len >= sizeof digits) return false;
  memcpy(digits, text, len);
  digits[len] = '\0';
  char *end = NULL;
  errno = 0;
  long value = strtol(digits, &end, 10);
  if (errno != 0 || end != digits + len) return false;
  *out = value;
  return true;
}

/* echo: the payload as it came (null → 204). */
static void echo(void *userdata, const zss_request *request, zss_response *response) {
  (void)userdata;
  const char *json = NULL;
  if (!payload_json(request, response, "echo", &json)) return;
  if (zss_response_set_json(response, 0, json) != ZSS_RESULT_OK) internal_error(response, "echo", "zss_response_set_json");
}

/* inspect: 200, a string holding the payload's JSON as this service received it. */
static void inspect(void *userdata, const zss_request *request, zss_response *response) {
  (void)userdata;
  const char *json = NULL;
  if (!payload_json(request, response, "inspect", &json)) return;
  strbuf text = {0};
  sb_json_string(&text, json, strlen(json));
  if (text.failed) {
    fprintf(stderr, "matrix c service: inspect: out of memory\n");
    if (zss_response_set_error(response, 500, NULL, NULL) != ZSS_RESULT_OK) {
      fprintf(stderr, "matrix c service: inspect: zss_response_set_error failed: %s\n", zss_last_error());
    }
  } else if (zss_response_set_json(response, 200, text.data) != ZSS_RESULT_OK) {
    internal_error(response, "inspect", "zss_response_set_json");
  }
  sb_free(&text);
}

/* status: {"status": n, "payload": p} → status n (2xx) with payload p. */
static void status(void *userdata, const zss_request *request, zss_response *response) {
  (void)userdata;
  const char *json = NULL;
  if (!payload_json(request, response, "status", &json)) return;
  json_member code_member, payload_member;
  long code = 0;
  if (!json_object_get(json, "status", &code_member) ||
      !parse_integer(code_member.value, code_member.value_len, &code) || code < 200 || code > 299) {
    bad_request(response, "status", "status: expected {\"status\": n (2xx), \"payload\": p}");
    return;
  }
  char *payload = NULL;
  if (json_object_get(json, "payload", &payload_member)) {
    payload = malloc(payload_member.value_len + 1);
    if (!payload) {
      internal_error(response, "status", "malloc");
      return;
    }
    memcpy(payload, payload_member.value, payload_member.value_len);
    payload[payload_member.value_len] = '\0';
  }
  if (zss_response_set_json(response, (uint16_t)code, payload ? payload : "null") != ZSS_RESULT_OK) {
    internal_error(response, "status", "zss_response_set_json");
  }
  free(payload);
}

/* fail: {"code": n, ...} → error n; userMessage/developerMessage when given (standard text
 * otherwise), every other field kept as an extra field (zss_response_set_error_json). */
static void fail(void *userdata, const zss_request *request, zss_response *response) {
  (void)userdata;
  const char *json = NULL;
  if (!payload_json(request, response, "fail", &json)) return;
  json_member code_member;
  long code = 0;
  if (!json_object_get(json, "code", &code_member) || !parse_integer(code_member.value, code_member.value_len, &code) ||
      code < 400 || code > 599) {
    bad_request(response, "fail", "fail: expected {\"code\": n (400-599), ...}");
    return;
  }
  if (zss_response_set_error_json(response, (uint16_t)code, json) != ZSS_RESULT_OK) {
    internal_error(response, "fail", "zss_response_set_error_json");
  }
}

/* crash: the handler fails, C's way: it cannot answer, says why on stderr (never to the
 * caller) and reports the failure as a 500 with the standard messages. */
static void crash(void *userdata, const zss_request *request, zss_response *response) {
  (void)userdata;
  const char *json = NULL;
  if (!payload_json(request, response, "crash", &json)) return;
  fprintf(stderr, "matrix c service: crash requested: %s\n", json);
  if (zss_response_set_error(response, 500, NULL, NULL) != ZSS_RESULT_OK) {
    fprintf(stderr, "matrix c service: crash: zss_response_set_error failed: %s\n", zss_last_error());
  }
}

/* sleep: a number of milliseconds → "awake" after that long. Handlers run on the worker's
 * pool of threads, so a sleeping one holds up no other request. */
static void sleep_verb(void *userdata, const zss_request *request, zss_response *response) {
  (void)userdata;
  const char *json = NULL;
  if (!payload_json(request, response, "sleep", &json)) return;
  char *end = NULL;
  errno = 0;
  double ms = strtod(json, &end);
  if (errno != 0 || end == json || *end != '\0' || !(ms >= 0 && ms <= 3600e3)) {
    bad_request(response, "sleep", "sleep: expected a number of milliseconds (at most an hour)");
    return;
  }
  long long ns = (long long)(ms * 1e6);
  struct timespec left = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
  while (nanosleep(&left, &left) != 0 && errno == EINTR) {
  }
  if (zss_response_set_json(response, 0, "\"awake\"") != ZSS_RESULT_OK) {
    internal_error(response, "sleep", "zss_response_set_json");
  }
}

/* headers: 200 with the request's x-matrix- headers as payload; reply header x-matrix-reply =
 * the request payload (the core sends the request's headers back, plus the ones set here). */
static void headers(void *userdata, const zss_request *request, zss_response *response) {
  (void)userdata;
  const char *json = NULL, *request_headers = NULL;
  if (!payload_json(request, response, "headers", &json)) return;
  if (zss_request_headers_json(request, &request_headers) != ZSS_RESULT_OK) {
    internal_error(response, "headers", "zss_request_headers_json");
    return;
  }
  strbuf seen = {0};
  if (!sb_object_with_prefix(&seen, request_headers, MATRIX_PREFIX)) {
    fprintf(stderr, "matrix c service: headers: the core's headers JSON did not scan: %s\n", request_headers);
    if (zss_response_set_error(response, 500, NULL, NULL) != ZSS_RESULT_OK) {
      fprintf(stderr, "matrix c service: headers: zss_response_set_error failed: %s\n", zss_last_error());
    }
  } else if (seen.failed) {
    fprintf(stderr, "matrix c service: headers: out of memory\n");
    if (zss_response_set_error(response, 500, NULL, NULL) != ZSS_RESULT_OK) {
      fprintf(stderr, "matrix c service: headers: zss_response_set_error failed: %s\n", zss_last_error());
    }
  } else if (zss_response_set_json(response, 200, seen.data) != ZSS_RESULT_OK) {
    internal_error(response, "headers", "zss_response_set_json");
  } else if (zss_response_set_header_json(response, MATRIX_PREFIX "reply", json) != ZSS_RESULT_OK) {
    internal_error(response, "headers", "zss_response_set_header_json");
  }
  sb_free(&seen);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: c-service <backend-endpoint> <SID>\n");
    return 2;
  }
  /* Blocked before any thread exists, so every thread (libzss's, libzmq's) inherits the mask
   * and the signals wait for sigwait below. */
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  int rc = pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
  if (rc != 0) {
    fprintf(stderr, "matrix c service: pthread_sigmask: %s\n", strerror(rc));
    return 1;
  }

  static const struct {
    const char *verb;
    zss_handler handler;
  } verbs[] = {
      {"echo", echo},   {"inspect", inspect},     {"status", status},   {"fail", fail},
      {"crash", crash}, {"sleep", sleep_verb},    {"headers", headers},
  };
  zss_worker *worker = NULL;
  if (zss_worker_new(argv[1], argv[2], &worker) != ZSS_RESULT_OK) {
    fprintf(stderr, "matrix c service: zss_worker_new: %s\n", zss_last_error());
    return 1;
  }
  /* The matrix's --curve run: the broker's public key and our secret key, as `zss` reads them. */
  const char *broker_key = getenv("ZSS_BROKER_KEY");
  if (broker_key && zss_worker_set_curve(worker, broker_key, getenv("ZSS_KEY")) != ZSS_RESULT_OK) {
    fprintf(stderr, "matrix c service: zss_worker_set_curve: %s\n", zss_last_error());
    zss_worker_free(worker);
    return 1;
  }
  for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
    if (zss_worker_add_verb(worker, verbs[i].verb, verbs[i].handler, NULL) != ZSS_RESULT_OK) {
      fprintf(stderr, "matrix c service: zss_worker_add_verb %s: %s\n", verbs[i].verb, zss_last_error());
      zss_worker_free(worker);
      return 1;
    }
  }
  if (zss_worker_start(worker) != ZSS_RESULT_OK) {
    fprintf(stderr, "matrix c service: zss_worker_start: %s\n", zss_last_error());
    zss_worker_free(worker);
    return 1;
  }
  fprintf(stderr, "matrix c service: serving %s via %s\n", argv[2], argv[1]);

  int signal_number = 0;
  rc = sigwait(&stop_signals, &signal_number);
  if (rc != 0) fprintf(stderr, "matrix c service: sigwait: %s\n", strerror(rc));
  fprintf(stderr, "matrix c service: signal %d, stopping\n", signal_number);
  zss_result stopped = zss_worker_stop(worker);
  if (stopped != ZSS_RESULT_OK) fprintf(stderr, "matrix c service: zss_worker_stop: %s\n", zss_last_error());
  zss_worker_free(worker);
  return rc == 0 && stopped == ZSS_RESULT_OK ? 0 : 1;
}
