#include "compiler/scheme.h"

#include <string.h>

static const char *const alto_scheme_names[] = {
    "bf16",     "mxfp4",       "mxfp8_e4m3",     "mxfp8_e5m2", "nvfp4",
    "fp8_block", "fp8_rowwise", "fp8_tensorwise", "mx9",        "mx6",
};
_Static_assert(sizeof(alto_scheme_names) / sizeof(alto_scheme_names[0]) == ALTO_SCHEME_COUNT,
               "alto_scheme_names must name every scheme");

static const char *const alto_scale_rule_names[] = {"even", "floor", "uos", "rceil"};
_Static_assert(sizeof(alto_scale_rule_names) / sizeof(alto_scale_rule_names[0]) ==
                   ALTO_SCALE_RULE_COUNT,
               "alto_scale_rule_names must name every rule");

static const char *const alto_elem_names[] = {"e2m1", "e4m3", "e5m2", "bf16", "f32"};
_Static_assert(sizeof(alto_elem_names) / sizeof(alto_elem_names[0]) == ALTO_ELEM_COUNT,
               "alto_elem_names must name every element format");

const char *alto_scheme_name(alto_scheme s) {
  ALTO_ASSERT((unsigned)s < ALTO_SCHEME_COUNT);
  return alto_scheme_names[s];
}

static void alto_join_names_(char *buf, size_t n, const char *const *names, int count) {
  buf[0] = '\0';
  for (int i = 0; i < count; i++) {
    if (i)
      strncat(buf, ", ", n - strlen(buf) - 1);
    strncat(buf, names[i], n - strlen(buf) - 1);
  }
}

const char *alto_scheme_valid_names(void) {
  static char buf[256];
  alto_join_names_(buf, sizeof buf, alto_scheme_names, ALTO_SCHEME_COUNT);
  return buf;
}

alto_status alto_scheme_parse(const char *name, alto_scheme *out) {
  for (int i = 0; i < ALTO_SCHEME_COUNT; i++)
    if (strcmp(name, alto_scheme_names[i]) == 0) {
      *out = (alto_scheme)i;
      return ALTO_OK;
    }
  return alto_error(ALTO_ERR_INVALID_ARG, "unknown scheme '%s' (valid: %s)", name,
                    alto_scheme_valid_names());
}

alto_elem alto_scheme_elem(alto_scheme s) {
  switch (s) {
  case ALTO_SCHEME_MXFP4:
  case ALTO_SCHEME_NVFP4:
    return ALTO_ELEM_E2M1;
  case ALTO_SCHEME_MXFP8_E5M2:
    return ALTO_ELEM_E5M2;
  case ALTO_SCHEME_MXFP8_E4M3:
  case ALTO_SCHEME_FP8_BLOCK:
  case ALTO_SCHEME_FP8_ROWWISE:
  case ALTO_SCHEME_FP8_TENSORWISE:
    return ALTO_ELEM_E4M3;
  case ALTO_SCHEME_BF16:
  case ALTO_SCHEME_MX9:
  case ALTO_SCHEME_MX6:
  case ALTO_SCHEME_COUNT:
    break;
  }
  return ALTO_ELEM_BF16;
}

int alto_scheme_block(alto_scheme s) {
  switch (s) {
  case ALTO_SCHEME_MXFP4:
  case ALTO_SCHEME_MXFP8_E4M3:
  case ALTO_SCHEME_MXFP8_E5M2:
    return 32;
  case ALTO_SCHEME_NVFP4:
  case ALTO_SCHEME_MX9:
  case ALTO_SCHEME_MX6:
    return 16;
  case ALTO_SCHEME_FP8_BLOCK:
    return 128;
  default:
    return 0;
  }
}

const char *alto_scale_rule_name(alto_scale_rule r) {
  ALTO_ASSERT((unsigned)r < ALTO_SCALE_RULE_COUNT);
  return alto_scale_rule_names[r];
}

alto_status alto_scale_rule_parse(const char *name, alto_scale_rule *out) {
  for (int i = 0; i < ALTO_SCALE_RULE_COUNT; i++)
    if (strcmp(name, alto_scale_rule_names[i]) == 0) {
      *out = (alto_scale_rule)i;
      return ALTO_OK;
    }
  return alto_error(ALTO_ERR_INVALID_ARG, "unknown scale rule '%s' (valid: even, floor, uos, rceil)",
                    name);
}

const char *alto_elem_name(alto_elem e) {
  ALTO_ASSERT((unsigned)e < ALTO_ELEM_COUNT);
  return alto_elem_names[e];
}

alto_status alto_elem_parse(const char *name, alto_elem *out) {
  for (int i = 0; i < ALTO_ELEM_COUNT; i++)
    if (strcmp(name, alto_elem_names[i]) == 0) {
      *out = (alto_elem)i;
      return ALTO_OK;
    }
  return alto_error(ALTO_ERR_INVALID_ARG,
                    "unknown element type '%s' (valid: e2m1, e4m3, e5m2, bf16, f32)", name);
}
