/*
 * The matrix's C client: `c-client <frontend-endpoint> <scenarios.tsv> <SID>...`
 * (tests/matrix/README.md).
 *
 * The scenario file has one call per line, tab-separated: id, sid or "-", verb, timeout_ms,
 * payload JSON, headers JSON or "-" (plain JSON: the driver untags it for C). For each SID, for
 * each line in order, it calls through the C ABI (zss_client_call_json) and prints one plain
 * JSON line: {"service", "id", "status", "payload", "headers"} for a 2xx, {..., "error"} (the
 * error payload) otherwise, {..., "status": null, "client_error"} for a failure that is not a
 * reply. Payloads are printed as the core's JSON text (which keeps 2.0 apart from 2).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zss.h>

#include "json.h"

#define FIELDS 6

typedef struct scenario {
  char *line; /* owns the text the fields point into */
  const char *id, *sid, *verb, *payload, *headers;
  uint32_t timeout_ms;
} scenario;

typedef struct scenarios {
  scenario *items;
  size_t len, cap;
} scenarios;

static void scenarios_free(scenarios *list) {
  for (size_t i = 0; i < list->len; i++) free(list->items[i].line);
  free(list->items);
  *list = (scenarios){0};
}

/* Splits one line (its newline removed) into the scenario's fields; false if malformed. */
static bool parse_line(char *line, scenario *s) {
  char *fields[FIELDS];
  char *p = line;
  for (int i = 0; i < FIELDS; i++) {
    fields[i] = p;
    char *tab = strchr(p, '\t');
    if (i < FIELDS - 1) {
      if (!tab) return false;
      *tab = '\0';
      p = tab + 1;
    } else if (tab) {
      return false;
    }
  }
  char *end = NULL;
  errno = 0;
  unsigned long timeout = strtoul(fields[3], &end, 10);
  if (errno != 0 || end == fields[3] || *end != '\0' || timeout == 0 || timeout > UINT32_MAX) return false;
  s->line = line;
  s->id = fields[0];
  s->sid = strcmp(fields[1], "-") == 0 ? NULL : fields[1];
  s->verb = fields[2];
  s->timeout_ms = (uint32_t)timeout;
  s->payload = fields[4];
  s->headers = strcmp(fields[5], "-") == 0 ? NULL : fields[5];
  return true;
}

static bool read_scenarios(const char *path, scenarios *list) {
  FILE *file = fopen(path, "r");
  if (!file) {
    fprintf(stderr, "matrix c client: cannot open %s: %s\n", path, strerror(errno));
    return false;
  }
  bool ok = true;
  char *line = NULL;
  size_t size = 0;
  ssize_t n;
  size_t number = 0;
  while ((n = getline(&line, &size, file)) >= 0) {
    number++;
    if (n > 0 && line[n - 1] == '\n') line[--n] = '\0';
    if (n == 0) continue;
    if (list->len == list->cap) {
      size_t cap = list->cap ? 2 * list->cap : 64;
      scenario *items = realloc(list->items, cap * sizeof *items);
      if (!items) {
        fprintf(stderr, "matrix c client: out of memory\n");
        ok = false;
        break;
      }
      list->items = items;
      list->cap = cap;
    }
    scenario s;
    if (!parse_line(line, &s)) {
      fprintf(stderr, "matrix c client: %s:%zu: not 6 tab-separated fields with a timeout\n", path, number);
      ok = false;
      break;
    }
    list->items[list->len++] = s;
    line = NULL; /* now owned by the scenario */
    size = 0;
  }
  if (ok && ferror(file)) {
    fprintf(stderr, "matrix c client: reading %s: %s\n", path, strerror(errno));
    ok = false;
  }
  free(line);
  fclose(file);
  return ok;
}

/* The end of a line for a failure that is not a reply: "status": null, "client_error". */
static void client_error(strbuf *out, const char *what, zss_result result) {
  strbuf text = {0};
  sb_puts(&text, what);
  sb_puts(&text, ": ");
  sb_puts(&text, zss_result_name(result));
  sb_puts(&text, ": ");
  sb_puts(&text, zss_last_error());
  sb_puts(out, "\"status\":null,\"client_error\":");
  if (text.failed) {
    sb_puts(out, "\"out of memory\"");
  } else {
    sb_json_string(out, text.data, text.len);
  }
  sb_free(&text);
}

/* Appends the reply's fields (or a client_error) to `out`. */
static void describe_reply(strbuf *out, const zss_reply *reply) {
  uint16_t status = 0;
  bool is_error = false;
  const char *payload = NULL, *headers = NULL;
  zss_result r;
  if ((r = zss_reply_status(reply, &status)) != ZSS_RESULT_OK) {
    client_error(out, "zss_reply_status", r);
    return;
  }
  if ((r = zss_reply_is_error(reply, &is_error)) != ZSS_RESULT_OK) {
    client_error(out, "zss_reply_is_error", r);
    return;
  }
  if ((r = zss_reply_payload_json(reply, &payload)) != ZSS_RESULT_OK) {
    client_error(out, "zss_reply_payload_json", r);
    return;
  }
  if (!is_error && (r = zss_reply_headers_json(reply, &headers)) != ZSS_RESULT_OK) {
    client_error(out, "zss_reply_headers_json", r);
    return;
  }
  char number[16];
  snprintf(number, sizeof number, "%u", (unsigned)status);
  sb_puts(out, "\"status\":");
  sb_puts(out, number);
  if (is_error) {
    /* The whole error payload: code, errorCode, the messages, extra fields. (The core keeps
     * no headers for an error reply; the table asks for none.) */
    sb_puts(out, ",\"error\":");
    sb_puts(out, payload);
    return;
  }
  sb_puts(out, ",\"payload\":");
  sb_puts(out, payload);
  sb_puts(out, ",\"headers\":");
  if (!sb_object_with_prefix(out, headers, "x-matrix-")) {
    fprintf(stderr, "matrix c client: the core's headers JSON did not scan: %s\n", headers);
    out->failed = true;
  }
}

/* One call → one output line. False only when the line could not be written. */
static bool run_one(const zss_client *client, const char *service, const scenario *s) {
  strbuf fields = {0};
  zss_reply *reply = NULL;
  zss_result r = zss_client_call_json(client, s->sid ? s->sid : service, s->verb, s->payload, s->headers,
                                      s->timeout_ms, &reply);
  if (reply) { /* ZSS_RESULT_OK, _SERVICE_ERROR or _TIMEOUT: a reply to read */
    describe_reply(&fields, reply);
  } else {
    client_error(&fields, "zss_client_call_json", r);
  }
  zss_reply_free(reply);

  strbuf line = {0};
  sb_puts(&line, "{\"service\":");
  sb_json_string(&line, service, strlen(service));
  sb_puts(&line, ",\"id\":");
  sb_json_string(&line, s->id, strlen(s->id));
  sb_puts(&line, ",");
  if (fields.failed) {
    sb_puts(&line, "\"status\":null,\"client_error\":\"the C client could not build its output line\"");
  } else {
    sb_append(&line, fields.data, fields.len);
  }
  sb_puts(&line, "}\n");
  bool ok = !line.failed && fwrite(line.data, 1, line.len, stdout) == line.len && fflush(stdout) == 0;
  sb_free(&line);
  sb_free(&fields);
  return ok;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: c-client <frontend-endpoint> <scenarios.tsv> <SID>...\n");
    return 2;
  }
  scenarios list = {0};
  if (!read_scenarios(argv[2], &list)) {
    scenarios_free(&list);
    return 1;
  }
  zss_client *client = NULL;
  /* The matrix's --curve run: the broker's public key and our secret key, as `zss` reads them. */
  const char *broker_key = getenv("ZSS_BROKER_KEY");
  zss_result r = broker_key ? zss_client_new_curve(argv[1], NULL, 0, broker_key, getenv("ZSS_KEY"), &client)
                            : zss_client_new(argv[1], NULL, 0, &client);
  if (r != ZSS_RESULT_OK) {
    fprintf(stderr, "matrix c client: zss_client_new: %s\n", zss_last_error());
    scenarios_free(&list);
    return 1;
  }
  int status = 0;
  for (int i = 3; i < argc && status == 0; i++) {
    for (size_t j = 0; j < list.len; j++) {
      if (!run_one(client, argv[i], &list.items[j])) {
        fprintf(stderr, "matrix c client: cannot write to stdout: %s\n", strerror(errno));
        status = 1;
        break;
      }
    }
  }
  zss_client_free(client);
  scenarios_free(&list);
  return status;
}
