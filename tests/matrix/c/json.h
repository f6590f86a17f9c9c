/*
 * json.h: the little JSON the matrix's C programs need, on text the zss core produced.
 *
 * Not a parser into values: a well-formedness-checking scanner that finds where a value ends
 * and walks the members of an object, handing out each member's raw key (the text between the
 * quotes, escapes left as they are) and raw value text. Values are copied through verbatim, so
 * nothing is lost (2.0 stays 2.0, large integers stay exact). Plus a growable string buffer
 * and a JSON string writer.
 */
#ifndef MATRIX_JSON_H
#define MATRIX_JSON_H

#include <stdbool.h>
#include <stddef.h>

/* One member of an object, as raw text slices of the object's text. */
typedef struct json_member {
  const char *key; /* the key's raw text, without its quotes (escapes not decoded) */
  size_t key_len;
  const char *value; /* the value's raw text */
  size_t value_len;
} json_member;

/* A pointer just past the JSON value at `p` (leading whitespace skipped), or NULL if the text
 * there is not one well-formed value. */
const char *json_skip_value(const char *p);

/* Calls `fn` for each member of the object `text` (a whole JSON text; whitespace around it is
 * allowed) in order, stopping early when `fn` returns false. Returns false if `text` is not a
 * well-formed JSON object. */
bool json_object_each(const char *text, bool (*fn)(const json_member *member, void *ctx), void *ctx);

/* Whether a member's raw key is exactly `name` (a name with no characters JSON escapes). */
bool json_key_is(const json_member *member, const char *name);

/* Whether a member's raw key starts with `prefix` (a prefix of plain ASCII letters, digits and
 * '-'; an escape always starts with '\', so the raw and the decoded key agree on it). */
bool json_key_starts_with(const json_member *member, const char *prefix);

/* Finds member `name` of object `text`: true and `*found` filled when present; false when
 * absent or `text` is not a well-formed object. */
bool json_object_get(const char *text, const char *name, json_member *found);

/* A growable NUL-terminated string. After any allocation failure `failed` is set and later
 * appends do nothing; check it once at the end. */
typedef struct strbuf {
  char *data;
  size_t len, cap;
  bool failed;
} strbuf;

void sb_append(strbuf *sb, const char *text, size_t len);
void sb_puts(strbuf *sb, const char *text);
/* Appends `text` (`len` bytes of UTF-8) as a JSON string literal, quotes included. */
void sb_json_string(strbuf *sb, const char *text, size_t len);
/* Appends `{"key":value,...}` of the members of object `text` whose keys start with `prefix`.
 * Returns false if `text` is not a well-formed object. */
bool sb_object_with_prefix(strbuf *sb, const char *text, const char *prefix);
void sb_free(strbuf *sb);

#endif
