/* MX9 / MX6 (NUMERICS.md 3): AMD Quark's fake_quantize_mx6_mx9, bit-exact, and ALTO's packed byte
 * formats. The scalar rules (exponent statistics, round half even, the clamp) are in
 * templates/common/alto_numerics.h; this file walks blocks along the last axis.
 *
 * A block whose tail runs past the last dim is padded with zeros logically, as Quark pads the
 * tensor: a zero has t_exp -127, so it only ever demotes its pair partner when that partner is
 * demoted itself, and real elements come out exactly as if the tensor had been padded. */
#include <stdlib.h>
#include <string.h>

#include "base/parallel.h"
#include "runtime/cpu/quant.h"

#define MX69_PACK_GROUP 16
#define MX69_MAX_GROUP 4096

static int mx69_pack_block_bytes(int quant_bit) {
  return quant_bit == 8 ? 18 : 12;
}

static alto_status mx69_check_view(const char *what, const alto_tensor_view *x, int quant_bit) {
  if (!x || !x->data)
    return alto_error(ALTO_ERR_INVALID_ARG, "%s: no input tensor", what);
  if (quant_bit != 8 && quant_bit != 5)
    return alto_error(ALTO_ERR_INVALID_ARG, "%s: quant_bit %d is not 8 (MX9) or 5 (MX6)", what,
                      quant_bit);
  if (x->ndim != 2 && x->ndim != 3)
    return alto_error(ALTO_ERR_INVALID_ARG, "%s: input has %d dims (2 [R, C] or 3 [E, R, C])", what,
                      x->ndim);
  if (x->dtype != ALTO_ELEM_BF16 && x->dtype != ALTO_ELEM_F32)
    return alto_error(ALTO_ERR_INVALID_ARG, "%s: input dtype '%s' is not bf16 or f32", what,
                      alto_elem_name(x->dtype));
  for (int d = 0; d < x->ndim; d++)
    if (x->dims[d] < 0)
      return alto_error(ALTO_ERR_INVALID_ARG, "%s: dim %d is negative (%lld)", what, d,
                        (long long)x->dims[d]);
  return ALTO_OK;
}

/* The statistics of one block of g elements (x[0..n), zeros beyond n): max_exp and, per pair,
 * the prime bit (pair demoted iff both elements are). */
static int mx69_block_stats(const float *x, int n, int g, uint8_t *prime) {
  float amax = 0.0f;
  for (int i = 0; i < n; i++) {
    float a = alto_f32_abs(x[i]);
    if (alto_f32_isnan(a) || alto_f32_isinf(a)) /* nan_to_num(nan=0, inf=0) for statistics */
      a = 0.0f;
    if (a > amax)
      amax = a;
  }
  int max_exp = alto_mx69_exp(amax);
  for (int j = 0; j < g / 2; j++) {
    int d0 = max_exp - (2 * j < n ? alto_mx69_exp(x[2 * j]) : -127) >= 1;
    int d1 = max_exp - (2 * j + 1 < n ? alto_mx69_exp(x[2 * j + 1]) : -127) >= 1;
    prime[j] = (uint8_t)(d0 && d1);
  }
  return max_exp;
}

/* ---- fake quant ----------------------------------------------------------------------------- */
typedef struct {
  const alto_tensor_view *x;
  void *y;
  int64_t C;
  int quant_bit, group;
} mx69_fake_job;

static void mx69_fake_rows(void *ctx, int64_t begin, int64_t end) {
  mx69_fake_job *j = ctx;
  float v[MX69_MAX_GROUP];
  uint8_t prime[MX69_MAX_GROUP / 2];
  for (int64_t row = begin; row < end; row++)
    for (int64_t c0 = 0; c0 < j->C; c0 += j->group) {
      int n = (int)(j->C - c0 < j->group ? j->C - c0 : j->group);
      int64_t base = row * j->C + c0;
      for (int i = 0; i < n; i++)
        v[i] = alto_tensor_get(j->x, base + i);
      int max_exp = mx69_block_stats(v, n, j->group, prime);
      for (int i = 0; i < n; i++) {
        float o = alto_mx69_element(v[i], max_exp, prime[i / 2], j->quant_bit);
        if (j->x->dtype == ALTO_ELEM_BF16)
          ((uint16_t *)j->y)[base + i] = alto_f32_to_bf16(o);
        else
          ((float *)j->y)[base + i] = o;
      }
    }
}

alto_status alto_cpu_mx69_fake(const alto_tensor_view *x, int quant_bit, int group_size, void *y) {
  const char *what = quant_bit == 5 ? "mx6 fake-quant" : "mx9 fake-quant";
  ALTO_TRY(mx69_check_view(what, x, quant_bit));
  if (group_size <= 0 || group_size % 2 || group_size > MX69_MAX_GROUP)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "%s: group_size %d must be a positive multiple of 2 (at most %d; Quark's "
                      "default is 32, ALTO's 16)",
                      what, group_size, MX69_MAX_GROUP);
  int64_t n = alto_tensor_numel(x);
  if (!y && n > 0)
    return alto_error(ALTO_ERR_INVALID_ARG, "%s: no output buffer", what);
  int64_t C = x->dims[x->ndim - 1];
  if (n == 0)
    return ALTO_OK;
  mx69_fake_job j = {x, y, C, quant_bit, group_size};
  alto_parallel_for(n / C, C < 16384 ? 16384 / C : 1, mx69_fake_rows, &j);
  return ALTO_OK;
}

/* ---- packed formats ------------------------------------------------------------------------- */
int64_t alto_mx69_packed_bytes(int quant_bit, int64_t n_elements) {
  if ((quant_bit != 8 && quant_bit != 5) || n_elements < 0 || n_elements % MX69_PACK_GROUP)
    return -1;
  return n_elements / MX69_PACK_GROUP * mx69_pack_block_bytes(quant_bit);
}

/* q of one element in the packed form: Quark's q (round half even of x / scale) clamped to
 * +-127 (MX9) / +-15 (MX6), the largest magnitudes the format holds; NaN has no code and packs
 * as 0 (NUMERICS.md keeps NaN only in fake-quant; see docs/numerics_fp8_mx69.md). */
static int mx69_packed_q(float x, int max_exp, int demoted, int quant_bit) {
  if (alto_f32_isnan(x))
    return 0;
  float lim = quant_bit == 8 ? 127.0f : 15.0f;
  float q = alto_round_half_even(ALTO_FDIV(x, alto_mx69_scale(max_exp, demoted, quant_bit)));
  if (q > lim)
    q = lim;
  if (q < -lim)
    q = -lim;
  return (int)q;
}

typedef struct {
  const alto_tensor_view *x;
  uint8_t *packed;
  const uint8_t *cpacked;
  int quant_bit;
  alto_elem out_dtype;
  void *y;
} mx69_pack_job;

static void mx69_pack_blocks(void *ctx, int64_t begin, int64_t end) {
  mx69_pack_job *j = ctx;
  int bb = mx69_pack_block_bytes(j->quant_bit);
  float v[MX69_PACK_GROUP];
  uint8_t prime[MX69_PACK_GROUP / 2];
  for (int64_t b = begin; b < end; b++) {
    for (int i = 0; i < MX69_PACK_GROUP; i++)
      v[i] = alto_tensor_get(j->x, b * MX69_PACK_GROUP + i);
    int max_exp = mx69_block_stats(v, MX69_PACK_GROUP, MX69_PACK_GROUP, prime);
    uint8_t *p = j->packed + b * bb;
    memset(p, 0, (size_t)bb);
    p[0] = (uint8_t)(max_exp + 127);
    for (int k = 0; k < MX69_PACK_GROUP / 2; k++)
      p[1] |= (uint8_t)(prime[k] << k);
    for (int i = 0; i < MX69_PACK_GROUP; i++) {
      int q = mx69_packed_q(v[i], max_exp, prime[i / 2], j->quant_bit);
      if (j->quant_bit == 8) {
        p[2 + i] = (uint8_t)(int8_t)q;
      } else {
        if (q < 0)
          p[2 + i / 8] |= (uint8_t)(1u << (i % 8));
        p[4 + i / 2] |= (uint8_t)(((unsigned)q & 0xFu) << (4 * (i % 2)));
      }
    }
  }
}

alto_status alto_cpu_mx69_pack(const alto_tensor_view *x, int quant_bit, uint8_t *packed) {
  const char *what = quant_bit == 5 ? "mx6 pack" : "mx9 pack";
  ALTO_TRY(mx69_check_view(what, x, quant_bit));
  int64_t C = x->dims[x->ndim - 1], n = alto_tensor_numel(x);
  if (C % MX69_PACK_GROUP)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "%s: last dim %lld is not a multiple of %d (the packed format has blocks of "
                      "16; pad the tensor or use alto_cpu_mx69_fake)",
                      what, (long long)C, MX69_PACK_GROUP);
  if (!packed && n > 0)
    return alto_error(ALTO_ERR_INVALID_ARG, "%s: no output buffer", what);
  mx69_pack_job j = {.x = x, .packed = packed, .quant_bit = quant_bit};
  alto_parallel_for(n / MX69_PACK_GROUP, 1024, mx69_pack_blocks, &j);
  return ALTO_OK;
}

static void mx69_unpack_blocks(void *ctx, int64_t begin, int64_t end) {
  mx69_pack_job *j = ctx;
  int bb = mx69_pack_block_bytes(j->quant_bit);
  for (int64_t b = begin; b < end; b++) {
    const uint8_t *p = j->cpacked + b * bb;
    for (int i = 0; i < MX69_PACK_GROUP; i++) {
      int q;
      if (j->quant_bit == 8) {
        q = (int8_t)p[2 + i];
      } else {
        q = (p[4 + i / 2] >> (4 * (i % 2))) & 0xF;
        if ((p[2 + i / 8] >> (i % 8)) & 1u)
          q -= 16; /* sign bit + low nibble = 5-bit two's complement */
      }
      float o;
      if (p[0] == 0xFFu) /* E8M0 NaN: never written by the packer */
        o = alto_f32_from_bits(ALTO_F32_NAN_BITS);
      else
        o = ALTO_FMUL((float)q,
                      alto_mx69_scale((int)p[0] - 127, (p[1] >> (i / 2)) & 1, j->quant_bit));
      int64_t k = b * MX69_PACK_GROUP + i;
      if (j->out_dtype == ALTO_ELEM_BF16)
        ((uint16_t *)j->y)[k] = alto_f32_to_bf16(o);
      else
        ((float *)j->y)[k] = o;
    }
  }
}

alto_status alto_cpu_mx69_unpack(const uint8_t *packed, int quant_bit, int64_t n_elements,
                                 alto_elem out_dtype, void *y) {
  const char *what = quant_bit == 5 ? "mx6 unpack" : "mx9 unpack";
  if (quant_bit != 8 && quant_bit != 5)
    return alto_error(ALTO_ERR_INVALID_ARG, "mx69 unpack: quant_bit %d is not 8 (MX9) or 5 (MX6)",
                      quant_bit);
  if (n_elements < 0 || n_elements % MX69_PACK_GROUP)
    return alto_error(ALTO_ERR_INVALID_ARG, "%s: %lld elements is not a multiple of %d", what,
                      (long long)n_elements, MX69_PACK_GROUP);
  if (out_dtype != ALTO_ELEM_BF16 && out_dtype != ALTO_ELEM_F32)
    return alto_error(ALTO_ERR_INVALID_ARG, "%s: output dtype '%s' is not bf16 or f32", what,
                      alto_elem_name(out_dtype));
  if ((!packed || !y) && n_elements > 0)
    return alto_error(ALTO_ERR_INVALID_ARG, "%s: no packed input or output buffer", what);
  mx69_pack_job j = {.cpacked = packed, .quant_bit = quant_bit, .out_dtype = out_dtype, .y = y};
  alto_parallel_for(n_elements / MX69_PACK_GROUP, 1024, mx69_unpack_blocks, &j);
  return ALTO_OK;
}
