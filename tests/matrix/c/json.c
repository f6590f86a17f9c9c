/* json.c: see json.h. */
#include "json.h"

#include <stdlib.h>
#include <string.h>

/* Deeper nesting than this is refused (the scanner recurses). */
#define JSON_MAX_DEPTH 512

static const char *skip_ws(const char *p) {
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  return p;
}

static bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* `p` at the opening quote; returns past the closing quote. */
static const char *skip_string(const char *p) {
  p++;
  for (;;) {
    unsigned char c = (unsigned char)*p;
    if (c == '"') return p + 1;
    if (c < 0x20) return NULL; /* the end of the text, or an unescaped control character */
    if (c == '\\') {
      p++;
      if (*p == 'u') {
        for (int i = 1; i <= 4; i++) {
          if (!is_hex(p[i])) return NULL;
        }
        p += 5;
      } else if (*p && strchr("\"\\/bfnrt", *p)) {
        p++;
      } else {
        return NULL;
      }
    } else {
      p++;
    }
  }
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static const char *skip_number(const char *p) {
  if (*p == '-') p++;
  if (*p == '0') {
    p++;
  } else if (is_digit(*p)) {
    while (is_digit(*p)) p++;
  } else {
    return NULL;
  }
  if (*p == '.') {
    p++;
    if (!is_digit(*p)) return NULL;
    while (is_digit(*p)) p++;
  }
  if (*p == 'e' || *p == 'E') {
    p++;
    if (*p == '+' || *p == '-') p++;
    if (!is_digit(*p)) return NULL;
    while (is_digit(*p)) p++;
  }
  return p;
}

static const char *skip_literal(const char *p, const char *word) {
  size_t n = strlen(word);
  return strncmp(p, word, n) == 0 ? p + n : NULL;
}

static const char *skip_value_at(const char *p, int depth);

/* `p` at '{'. For each member calls fn (when fn is not NULL). Returns past the '}'. */
static const char *walk_object(const char *p, int depth, bool (*fn)(const json_member *, void *), void *ctx,
                               bool *stopped) {
  p = skip_ws(p + 1);
  if (*p == '}') return p + 1;
  for (;;) {
    if (*p != '"') return NULL;
    const char *key = p + 1;
    const char *after_key = skip_string(p);
    if (!after_key) return NULL;
    p = skip_ws(after_key);
    if (*p != ':') return NULL;
    const char *value = skip_ws(p + 1);
    const char *end = skip_value_at(value, depth + 1);
    if (!end) return NULL;
    if (fn && !*stopped) {
      json_member m = {key, (size_t)(after_key - 1 - key), value, (size_t)(end - value)};
      if (!fn(&m, ctx)) *stopped = true;
    }
    p = skip_ws(end);
    if (*p == '}') return p + 1;
    if (*p != ',') return NULL;
    p = skip_ws(p + 1);
  }
}

static const char *skip_array(const char *p, int depth) {
  p = skip_ws(p + 1);
  if (*p == ']') return p + 1;
  for (;;) {
    p = skip_value_at(p, depth + 1);
    if (!p) return NULL;
    p = skip_ws(p);
    if (*p == ']') return p + 1;
    if (*p != ',') return NULL;
    p = skip_ws(p + 1);
  }
}

static const char *skip_value_at(const char *p, int depth) {
  if (depth > JSON_MAX_DEPTH) return NULL;
  p = skip_ws(p);
  switch (*p) {
    case '"': return skip_string(p);
    case '{': {
      bool stopped = false;
      return walk_object(p, depth, NULL, NULL, &stopped);
    }
    case '[': return skip_array(p, depth);
    case 't': return skip_literal(p, "true");
    case 'f': return skip_literal(p, "false");
    case 'n': return skip_literal(p, "null");
    default: return skip_number(p);
  }
}

const char *json_skip_value(const char *p) { return p ? skip_value_at(p, 0) : NULL; }

bool json_object_each(const char *text, bool (*fn)(const json_member *, void *), void *ctx) {
  if (!text) return false;
  const char *p = skip_ws(text);
  if (*p != '{') return false;
  bool stopped = false;
  const char *end = walk_object(p, 0, fn, ctx, &stopped);
  return end && *skip_ws(end) == '\0';
}

bool json_key_is(const json_member *m, const char *name) {
  return m->key_len == strlen(name) && memcmp(m->key, name, m->key_len) == 0;
}

bool json_key_starts_with(const json_member *m, const char *prefix) {
  size_t n = strlen(prefix);
  return m->key_len >= n && memcmp(m->key, prefix, n) == 0;
}

typedef struct get_ctx {
  const char *name;
  json_member *found;
  bool present;
} get_ctx;

static bool get_one(const json_member *m, void *ctx) {
  get_ctx *g = ctx;
  if (!json_key_is(m, g->name)) return true;
  *g->found = *m;
  g->present = true;
  return false;
}

bool json_object_get(const char *text, const char *name, json_member *found) {
  get_ctx g = {name, found, false};
  return json_object_each(text, get_one, &g) && g.present;
}

void sb_append(strbuf *sb, const char *text, size_t len) {
  if (sb->failed) return;
  if (sb->len + len + 1 > sb->cap) {
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < sb->len + len + 1) {
      if (cap > ((size_t)-1) / 2) {
        sb->failed = true;
        return;
      }
      cap *= 2;
    }
    char *data = realloc(sb->data, cap);
    if (!data) {
      sb->failed = true;
      return;
    }
    sb->data = data;
    sb->cap = cap;
  }
  memcpy(sb->data + sb->len, text, len);
  sb->len += len;
  sb->data[sb->len] = '\0';
}

void sb_puts(strbuf *sb, const char *text) { sb_append(sb, text, strlen(text)); }

void sb_json_string(strbuf *sb, const char *text, size_t len) {
  static const char hex[] = "0123456789abcdef";
  sb_append(sb, "\"", 1);
  size_t start = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)text[i];
    const char *esc = NULL;
    char u[7];
    switch (c) {
      case '"': esc = "\\\""; break;
      case '\\': esc = "\\\\"; break;
      case '\n': esc = "\\n"; break;
      case '\r': esc = "\\r"; break;
      case '\t': esc = "\\t"; break;
      case '\b': esc = "\\b"; break;
      case '\f': esc = "\\f"; break;
      default:
        if (c < 0x20) {
          memcpy(u, "\\u00", 4);
          u[4] = hex[c >> 4];
          u[5] = hex[c & 15];
          u[6] = '\0';
          esc = u;
        }
    }
    if (esc) {
      sb_append(sb, text + start, i - start);
      sb_puts(sb, esc);
      start = i + 1;
    }
  }
  sb_append(sb, text + start, len - start);
  sb_append(sb, "\"", 1);
}

typedef struct prefix_ctx {
  strbuf *sb;
  const char *prefix;
  bool first;
} prefix_ctx;

static bool append_if_prefixed(const json_member *m, void *ctx) {
  prefix_ctx *c = ctx;
  if (!json_key_starts_with(m, c->prefix)) return true;
  if (!c->first) sb_append(c->sb, ",", 1);
  c->first = false;
  sb_append(c->sb, "\"", 1);
  sb_append(c->sb, m->key, m->key_len);
  sb_append(c->sb, "\":", 2);
  sb_append(c->sb, m->value, m->value_len);
  return true;
}

bool sb_object_with_prefix(strbuf *sb, const char *text, const char *prefix) {
  prefix_ctx c = {sb, prefix, true};
  sb_append(sb, "{", 1);
  bool ok = json_object_each(text, append_if_prefixed, &c);
  sb_append(sb, "}", 1);
  return ok;
}

void sb_free(strbuf *sb) {
  free(sb->data);
  *sb = (strbuf){0};
}
