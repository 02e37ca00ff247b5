/* base/json: the strict parser (every kind of invalid input), the DOM, the writer, round trips. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "tests/harness.h"

static alto_json *parse_ok_(const char *text) {
  alto_json *v = NULL;
  alto_status st = alto_json_parse(text, strlen(text), "t.json", NULL, &v);
  CHECKF(st == ALTO_OK, "'%s': %s", text, alto_last_error());
  return v;
}

/* Parsing must fail with ALTO_ERR_PARSE and a message containing `needle`. */
static void parse_bad_(const char *text, size_t len, const char *needle) {
  alto_json *v = NULL;
  alto_error_clear();
  alto_status st = alto_json_parse(text, len, "t.json", NULL, &v);
  CHECKF(st == ALTO_ERR_PARSE, "'%.*s' parsed", (int)(len > 60 ? 60 : len), text);
  CHECK(v == NULL);
  CHECKF(strstr(alto_last_error(), needle) != NULL, "'%.40s': message '%s' lacks '%s'", text,
         alto_last_error(), needle);
  CHECKF(strncmp(alto_last_error(), "t.json:", 7) == 0, "no location in '%s'", alto_last_error());
  alto_json_free(v);
}
#define BAD(text, needle) parse_bad_((text), strlen(text), (needle))

static void test_valid(void) {
  alto_json *v = parse_ok_(" {\"a\": [1, -2.5, 1e3, 0, -0, 12345678901234567, true, false, null],"
                           " \"b\": {\"c\": \"x\\ty\"}, \"\": \"empty key\"}\n");
  if (!v)
    return;
  CHECK(v->type == ALTO_JSON_OBJECT && v->count == 3);
  const alto_json *a = alto_json_get_type(v, "a", ALTO_JSON_ARRAY);
  CHECK(a && a->count == 9);
  if (a && a->count == 9) {
    CHECK(a->items[0].is_int && a->items[0].i64 == 1);
    CHECK(!a->items[1].is_int && a->items[1].num == -2.5);
    CHECK(a->items[2].is_int && a->items[2].i64 == 1000 &&
          strcmp(a->items[2].num_text, "1e3") == 0);
    CHECK(a->items[4].is_int && a->items[4].i64 == 0 && signbit(a->items[4].num));
    CHECK(a->items[5].is_int && a->items[5].i64 == 12345678901234567LL);
    CHECK(a->items[6].type == ALTO_JSON_BOOL && a->items[6].boolean);
    CHECK(a->items[7].type == ALTO_JSON_BOOL && !a->items[7].boolean);
    CHECK(a->items[8].type == ALTO_JSON_NULL);
  }
  CHECK(strcmp(alto_json_get_string(alto_json_get(v, "b"), "c"), "x\ty") == 0);
  CHECK(strcmp(alto_json_get_string(v, ""), "empty key") == 0);
  CHECK(alto_json_get(v, "zz") == NULL && alto_json_get_string(v, "a") == NULL);
  CHECK(alto_json_get(a, "a") == NULL);
  alto_json_free(v);

  /* Scalars at the top level, int64 limits, huge numbers kept as text. */
  v = parse_ok_("9223372036854775807");
  CHECK(v && v->is_int && v->i64 == INT64_MAX);
  alto_json_free(v);
  v = parse_ok_("9223372036854775808");
  CHECK(v && !v->is_int && strcmp(v->num_text, "9223372036854775808") == 0);
  alto_json_free(v);
  v = parse_ok_("1e400");
  CHECK(v && isinf(v->num) && !v->is_int);
  alto_json_free(v);
  v = parse_ok_("\"\"");
  CHECK(v && v->type == ALTO_JSON_STRING && v->str_len == 0);
  alto_json_free(v);
  v = parse_ok_("[[[]],{}]");
  CHECK(v && v->count == 2 && v->items[0].items[0].count == 0 && v->items[1].count == 0);
  alto_json_free(v);
}

static void test_strings(void) {
  /* \u escapes: ASCII, 2- and 3-byte UTF-8, a surrogate pair (U+1F600), \u0000, raw UTF-8. */
  alto_json *v =
      parse_ok_("\"\\u0041\\u00e9\\u20AC\\ud83d\\ude00\\u0000\\\"\\\\\\/\\b\\f\\n\\r é\"");
  if (v) {
    const char want[] = "A\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\0\"\\/\b\f\n\r \xC3\xA9";
    CHECK(v->str_len == sizeof want - 1 && memcmp(v->str, want, sizeof want - 1) == 0);
  }
  alto_json_free(v);
}

static void test_invalid(void) {
  BAD("[1, 2,]", "trailing comma");
  BAD("{\"a\": 1,}", "trailing comma");
  BAD("\"abc", "unterminated string");
  BAD("[\"abc\\", "unterminated string");
  BAD("\"a\\qb\"", "invalid escape");
  BAD("\"\\u12G4\"", "\\u escape");
  BAD("\"\\ud83d\"", "surrogate");
  BAD("\"\\ude00\"", "surrogate");
  BAD("\"a\tb\"", "control character");
  BAD("\"a\nb\"", "control character");
  BAD("\"\xC3\x28\"", "UTF-8");
  BAD("\"\xC0\xAF\"", "UTF-8");     /* overlong */
  BAD("\"\xED\xA0\x80\"", "UTF-8"); /* raw surrogate */
  BAD("01", "leading zeros");
  BAD("-012", "leading zeros");
  BAD("1.", "digit must follow '.'");
  BAD(".5", "unexpected '.'");
  BAD("1e", "exponent");
  BAD("-", "digit must follow '-'");
  BAD("+1", "unexpected '+'");
  BAD("NaN", "NaN and Infinity");
  BAD("[Infinity]", "NaN and Infinity");
  BAD("-Infinity", "NaN and Infinity");
  BAD("nul", "unexpected 'n'");
  BAD("tru", "unexpected 't'");
  BAD("", "end of input");
  BAD("   ", "end of input");
  BAD("{\"a\" 1}", "expected ':'");
  BAD("{1: 2}", "expected a string key");
  BAD("[1 2]", "expected ',' or ']'");
  BAD("{\"a\": 1 \"b\": 2}", "expected ',' or '}'");
  BAD("{\"a\": [1, {\"b\": tr", "unexpected 't'");
  BAD("[1, 2", "expected ',' or ']'");
  BAD("{\"a\": 1, \"a\": 2}", "duplicate key \"a\"");
  BAD("{} {}", "after the value");
  BAD("[1] x", "after the value");
  BAD("// c\n1", "unexpected '/'");
  BAD("[1,\n 2,\n x]", "t.json:3:2");
  parse_bad_("[1, 2]", 4, "unexpected end of input"); /* truncated input, no NUL needed */
  parse_bad_("\"a\0b\"", 5, "control character");

  /* Nesting limit: deep input fails cleanly (no stack overflow), within the limit it parses. */
  size_t n = 100000;
  char *deep = malloc(2 * n + 1);
  memset(deep, '[', n);
  memset(deep + n, ']', n);
  deep[2 * n] = '\0';
  parse_bad_(deep, 2 * n, "nesting deeper than 256");
  alto_json *v = NULL;
  alto_json_limits lim = {.max_depth = 10};
  CHECK(alto_json_parse(deep + n - 10, 20, "t.json", &lim, &v) == ALTO_OK);
  alto_json_free(v);
  v = NULL;
  CHECK(alto_json_parse(deep + n - 11, 22, "t.json", &lim, &v) == ALTO_ERR_PARSE);
  CHECK(v == NULL);
  free(deep);
  lim = (alto_json_limits){.max_size = 4};
  CHECK(alto_json_parse("12345", 5, "t.json", &lim, &v) == ALTO_ERR_PARSE);
  CHECK(strstr(alto_last_error(), "exceeds the limit") != NULL);
}

static void test_writer(void) {
  alto_json_writer w;
  alto_json_writer_init(&w, 0);
  alto_json_begin_object(&w);
  alto_json_key(&w, "s");
  alto_json_string(&w, "q\"\\\n\x01 é");
  alto_json_key(&w, "i");
  alto_json_int(&w, INT64_MIN);
  alto_json_key(&w, "d");
  alto_json_double(&w, 0.1);
  alto_json_key(&w, "nan");
  alto_json_double(&w, NAN);
  alto_json_key(&w, "a");
  alto_json_begin_array(&w);
  alto_json_bool(&w, true);
  alto_json_null(&w);
  alto_json_begin_object(&w);
  alto_json_end_object(&w);
  alto_json_begin_array(&w);
  alto_json_end_array(&w);
  alto_json_end_array(&w);
  alto_json_end_object(&w);
  size_t len;
  char *s = alto_json_writer_take(&w, &len);
  const char *want = "{\"s\":\"q\\\"\\\\\\n\\u0001 é\",\"i\":-9223372036854775808,"
                     "\"d\":0.10000000000000001,\"nan\":null,\"a\":[true,null,{},[]]}";
  CHECKF(strcmp(s, want) == 0 && len == strlen(want), "got %s", s);
  alto_json *v = parse_ok_(s);
  if (v) {
    CHECK(strcmp(alto_json_get_string(v, "s"), "q\"\\\n\x01 é") == 0);
    CHECK(alto_json_get(v, "i")->is_int && alto_json_get(v, "i")->i64 == INT64_MIN);
    CHECK(alto_json_get(v, "d")->num == 0.1);
  }
  alto_json_free(v);
  free(s);

  /* Indented output parses to the same thing. */
  alto_json_writer_init(&w, 2);
  alto_json_begin_object(&w);
  alto_json_key(&w, "x");
  alto_json_begin_array(&w);
  alto_json_int(&w, 1);
  alto_json_int(&w, 2);
  alto_json_end_array(&w);
  alto_json_end_object(&w);
  s = alto_json_writer_take(&w, NULL);
  CHECKF(strcmp(s, "{\n  \"x\": [\n    1,\n    2\n  ]\n}") == 0, "got %s", s);
  free(s);
  alto_json_writer_free(&w);
}

/* parse -> write -> parse -> write is a fixed point and keeps numbers' text. */
static void test_round_trip(void) {
  const char *docs[] = {
      ("{\"__metadata__\":{\"format\":\"pt\"},\"w\":{\"dtype\":\"BF16\",\"shape\":[2,3],"
       "\"data_offsets\":[0,12]}}"),
      "[1.5e-7,-0,123456789012345678901234567890,\"\\u00e9\\ud83d\\ude00\\u0001\",[],{}]",
      "\"just a string\"",
      "true",
  };
  for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
    for (int indent = 0; indent <= 4; indent += 4) {
      alto_json *v = parse_ok_(docs[i]);
      if (!v)
        continue;
      alto_json_writer w;
      alto_json_writer_init(&w, indent);
      alto_json_value(&w, v);
      char *s1 = alto_json_writer_take(&w, NULL);
      alto_json *v2 = parse_ok_(s1);
      alto_json_writer_init(&w, indent);
      if (v2)
        alto_json_value(&w, v2);
      char *s2 = alto_json_writer_take(&w, NULL);
      CHECKF(strcmp(s1, s2) == 0, "%s != %s", s1, s2);
      if (indent == 0 && i != 1)
        CHECKF(strcmp(s1, docs[i]) == 0, "%s != %s", s1, docs[i]);
      free(s1);
      free(s2);
      alto_json_free(v);
      alto_json_free(v2);
      alto_json_writer_free(&w);
    }
  }
}

int main(void) {
  RUN(test_valid);
  RUN(test_strings);
  RUN(test_invalid);
  RUN(test_writer);
  RUN(test_round_trip);
  return alto_test_finish();
}
