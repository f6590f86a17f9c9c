/*
 * A tiny test harness for the C ABI tests: each test case is a function; RUN() reports
 * "ok - name" or "not ok - name" (TAP-like lines scripts/test-c.sh counts).
 */
#ifndef ZSS_TEST_HARNESS_H
#define ZSS_TEST_HARNESS_H

#include <stdio.h>
#include <string.h>
#include <zss.h>

static int harness_passed, harness_failed, harness_case_failed;

#define CHECK(cond)                                                                           \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      fprintf(stderr, "  %s:%d: CHECK failed: %s (last error: %s)\n", __FILE__, __LINE__,     \
              #cond, zss_last_error());                                                       \
      harness_case_failed = 1;                                                                \
    }                                                                                         \
  } while (0)

/* Checks a zss_result against the expected one and names both on failure. */
#define CHECK_RESULT(expr, expected)                                                          \
  do {                                                                                        \
    zss_result check_result_ = (expr);                                                        \
    if (check_result_ != (expected)) {                                                        \
      fprintf(stderr, "  %s:%d: %s returned %s, expected %s (last error: %s)\n", __FILE__,    \
              __LINE__, #expr, zss_result_name(check_result_), zss_result_name(expected),     \
              zss_last_error());                                                              \
      harness_case_failed = 1;                                                                \
    }                                                                                         \
  } while (0)

#define CHECK_STR(actual, expected)                                                           \
  do {                                                                                        \
    const char *check_a_ = (actual), *check_e_ = (expected);                                  \
    if (check_a_ == NULL || strcmp(check_a_, check_e_) != 0) {                                \
      fprintf(stderr, "  %s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__, __LINE__,         \
              #actual, check_a_ ? check_a_ : "(null)", check_e_);                             \
      harness_case_failed = 1;                                                                \
    }                                                                                         \
  } while (0)

#define CHECK_CONTAINS(haystack, needle)                                                      \
  do {                                                                                        \
    const char *check_h_ = (haystack);                                                        \
    if (check_h_ == NULL || strstr(check_h_, (needle)) == NULL) {                             \
      fprintf(stderr, "  %s:%d: %s is \"%s\", expected to contain \"%s\"\n", __FILE__,        \
              __LINE__, #haystack, check_h_ ? check_h_ : "(null)", (needle));                 \
      harness_case_failed = 1;                                                                \
    }                                                                                         \
  } while (0)

#define RUN(test)                                                                             \
  do {                                                                                        \
    harness_case_failed = 0;                                                                  \
    test();                                                                                   \
    if (harness_case_failed) {                                                                \
      printf("not ok - %s\n", #test);                                                         \
      harness_failed++;                                                                       \
    } else {                                                                                  \
      printf("ok - %s\n", #test);                                                             \
      harness_passed++;                                                                       \
    }                                                                                         \
    fflush(stdout);                                                                           \
  } while (0)

#define HARNESS_EXIT()                                                                        \
  do {                                                                                        \
    printf("# %s: %d of %d cases ok\n", __FILE__, harness_passed, harness_passed + harness_failed);         \
    return harness_failed == 0 ? 0 : 1;                                                       \
  } while (0)

#endif
