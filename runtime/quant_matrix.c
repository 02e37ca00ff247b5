#include "runtime/quant_matrix.h"

#include <stdio.h>
#include <string.h>

static void alto_qcase_add_(alto_qcase *out, int max, int *n, alto_quant_spec s, int rht) {
  if (*n >= max)
    return;
  alto_qcase *c = &out[(*n)++];
  memset(c, 0, sizeof *c);
  c->kind = ALTO_QCASE_QUANT;
  c->spec = s;
  c->rht = rht;
  snprintf(c->label, sizeof c->label, "%s%s %s axis%d %s%s%s%s%s", alto_scheme_name(s.scheme),
           (s.scheme >= ALTO_SCHEME_FP8_BLOCK) ? (s.elem == ALTO_ELEM_E5M2 ? "/e5m2" : "/e4m3") : "",
           s.block2d ? "2d" : "1d", s.axis, s.sr ? "sr" : "rne",
           (s.scheme <= ALTO_SCHEME_MXFP8_E5M2 && s.scheme >= ALTO_SCHEME_MXFP4)
               ? (const char *[]){" even", " floor", " uos", " rceil"}[s.rule]
               : "",
           rht ? " rht" : "", s.two_level ? " two-level" : "", s.pow2_scale ? " pow2" : "");
  if (rht)
    snprintf(c->label + strlen(c->label), sizeof c->label - strlen(c->label), "%d", rht);
}

int alto_quant_matrix(alto_qcase *out, int max) {
  int n = 0;
  /* MX: every rule along K; SR; columns with and without RHT; 2-D blocks packed either way */
  const alto_scheme mx[] = {ALTO_SCHEME_MXFP4, ALTO_SCHEME_MXFP8_E4M3, ALTO_SCHEME_MXFP8_E5M2};
  for (int i = 0; i < 3; i++) {
    alto_quant_spec s = alto_quant_spec_default(mx[i]);
    for (int r = 0; r < ALTO_SCALE_RULE_COUNT; r++) {
      if (r == ALTO_SCALE_UOS && mx[i] != ALTO_SCHEME_MXFP4)
        continue;
      s.rule = (alto_scale_rule)r;
      s.axis = -1, s.block2d = false;
      alto_qcase_add_(out, max, &n, s, 0);
    }
    s.rule = ALTO_SCALE_EVEN;
    s.axis = -2;
    alto_qcase_add_(out, max, &n, s, 0);
    s.block2d = true;
    alto_qcase_add_(out, max, &n, s, 0);
    s.axis = -1;
    alto_qcase_add_(out, max, &n, s, 0);
  }
  alto_quant_spec s = alto_quant_spec_default(ALTO_SCHEME_MXFP4);
  s.sr = true, s.seed = 0x5EED, s.stream = 0xABCDEF0123ull;
  alto_qcase_add_(out, max, &n, s, 0); /* dY 1x32 along N with SR (dgrad) */
  s.axis = -2;
  alto_qcase_add_(out, max, &n, s, 32); /* R dY 32x1 along M with SR (wgrad) */
  s.block2d = true;
  alto_qcase_add_(out, max, &n, s, 0);
  s = alto_quant_spec_default(ALTO_SCHEME_MXFP4);
  s.axis = -2;
  const int rhts[] = {16, 32, 64, 128, 256};
  for (int i = 0; i < 5; i++)
    alto_qcase_add_(out, max, &n, s, rhts[i]); /* R X 32x1 along M (wgrad, saved in forward) */
  /* NVFP4 */
  s = alto_quant_spec_default(ALTO_SCHEME_NVFP4);
  alto_qcase_add_(out, max, &n, s, 0);
  s.two_level = true;
  alto_qcase_add_(out, max, &n, s, 0);
  s.sr = true, s.seed = 7, s.stream = 11;
  alto_qcase_add_(out, max, &n, s, 0);
  s.axis = -2;
  alto_qcase_add_(out, max, &n, s, 32);
  s.sr = false, s.block2d = true;
  alto_qcase_add_(out, max, &n, s, 0);
  s = alto_quant_spec_default(ALTO_SCHEME_NVFP4);
  s.axis = -2;
  alto_qcase_add_(out, max, &n, s, 16); /* R X 16x1 along M, RHT of 16 rows fused */
  /* blockwise FP8: 1x128, 128x1, 128x128, both element types */
  for (int e = 0; e < 2; e++) {
    s = alto_quant_spec_default(ALTO_SCHEME_FP8_BLOCK);
    s.elem = e ? ALTO_ELEM_E5M2 : ALTO_ELEM_E4M3;
    alto_qcase_add_(out, max, &n, s, 0);
    s.axis = -2;
    alto_qcase_add_(out, max, &n, s, 0);
    s.block2d = true;
    alto_qcase_add_(out, max, &n, s, 0);
  }
  /* rowwise / tensorwise FP8 */
  for (int e = 0; e < 2; e++)
    for (int p = 0; p < 2; p++) {
      s = alto_quant_spec_default(ALTO_SCHEME_FP8_ROWWISE);
      s.elem = e ? ALTO_ELEM_E5M2 : ALTO_ELEM_E4M3;
      s.pow2_scale = p;
      alto_qcase_add_(out, max, &n, s, 0);
      s.axis = -2;
      alto_qcase_add_(out, max, &n, s, 0);
      s = alto_quant_spec_default(ALTO_SCHEME_FP8_TENSORWISE);
      s.elem = e ? ALTO_ELEM_E5M2 : ALTO_ELEM_E4M3;
      s.pow2_scale = p;
      alto_qcase_add_(out, max, &n, s, 0);
    }
  /* the fused dual-output kernel: X (RNE) and dY (SR), MXFP4 and MXFP8 */
  const struct {
    alto_scheme s;
    bool sr;
    int rht;
  } duals[] = {{ALTO_SCHEME_MXFP4, false, 32}, {ALTO_SCHEME_MXFP4, true, 32},
               {ALTO_SCHEME_MXFP4, false, 64}, {ALTO_SCHEME_MXFP8_E4M3, false, 32}};
  for (size_t i = 0; i < sizeof duals / sizeof duals[0] && n < max; i++) {
    alto_qcase *c = &out[n++];
    memset(c, 0, sizeof *c);
    c->kind = ALTO_QCASE_DUAL;
    c->spec = alto_quant_spec_default(duals[i].s);
    c->spec.sr = duals[i].sr;
    c->spec.seed = 0xD0A1, c->spec.stream = 0x51;
    c->rht = duals[i].rht;
    snprintf(c->label, sizeof c->label, "dual %s %s rht%d", alto_scheme_name(duals[i].s),
             duals[i].sr ? "sr" : "rne", duals[i].rht);
  }
  /* MX9 / MX6 */
  for (int q = 0; q < 2; q++)
    for (int g = 16; g <= 32; g *= 2)
      if (n < max) {
        alto_qcase *c = &out[n++];
        memset(c, 0, sizeof *c);
        c->kind = ALTO_QCASE_MX69;
        c->quant_bit = q ? 5 : 8;
        c->group_size = g;
        snprintf(c->label, sizeof c->label, "%s group %d", q ? "mx6" : "mx9", g);
      }
  return n;
}

static void alto_kadd_(alto_qkern *out, int max, int *n, const alto_qkern *k) {
  char key[256], other[256];
  alto_qkern_key(k, key, sizeof key);
  for (int i = 0; i < *n; i++) {
    alto_qkern_key(&out[i], other, sizeof other);
    if (strcmp(key, other) == 0)
      return;
  }
  if (*n < max)
    out[(*n)++] = *k;
}

int alto_quant_matrix_kernels(alto_target target, const char *arch, alto_qkern *out, int max) {
  alto_qcase cases[128];
  int nc = alto_quant_matrix(cases, 128), n = 0;
  const alto_elem dts[2] = {ALTO_ELEM_BF16, ALTO_ELEM_F32};
  for (int c = 0; c < nc; c++)
    for (int d = 0; d < 2; d++) {
      if (cases[c].kind == ALTO_QCASE_DUAL) {
        alto_qkern k = alto_dual_kernel(&cases[c].spec, dts[d], cases[c].rht, target, arch);
        alto_kadd_(out, max, &n, &k);
        continue;
      }
      if (cases[c].kind == ALTO_QCASE_MX69) {
        alto_qkern k = alto_mx69_kernel(cases[c].quant_bit, cases[c].group_size, dts[d], target, arch);
        alto_kadd_(out, max, &n, &k);
        continue;
      }
      alto_gpu_rht rht = {cases[c].rht, 0, 0, 0};
      alto_qkern ks[ALTO_QUANT_MAX_KERNELS];
      int nk = alto_quant_kernels(&cases[c].spec, dts[d], &rht, target, arch, ks);
      for (int i = 0; i < nk; i++)
        alto_kadd_(out, max, &n, &ks[i]);
      alto_qkern dq = alto_dequant_kernel(&cases[c].spec, dts[d], target, arch);
      alto_kadd_(out, max, &n, &dq);
    }
  /* fp8_block's layouts chosen by the GPU executor (runtime/exec_gpu.c), both element formats:
   * 1x128 with MN-major scales (quantize, dequantize); 128x1 with transposed codes, alone,
   * re-quantized from 1x128 codes (row-major or MN-major scales), and with the 1x128 row copy
   * (the dual kernel of dY; and of the forward's X, the 128x1 re-quantized from the copy); 128x128 with a transposed copy (the weights) */
  for (int e = 0; e < 2; e++)
    for (int d = 0; d < 2; d++) {
      alto_quant_spec s = alto_quant_spec_default(ALTO_SCHEME_FP8_BLOCK);
      s.elem = e ? ALTO_ELEM_E5M2 : ALTO_ELEM_E4M3;
      alto_qkern ks[ALTO_QUANT_MAX_KERNELS];
      alto_quant_kernels(&s, dts[d], NULL, target, arch, ks);
      ks[0].scales_t = true;
      alto_kadd_(out, max, &n, &ks[0]);
      alto_qkern dq = alto_dequant_kernel(&s, dts[d], target, arch);
      dq.scales_t = true;
      alto_kadd_(out, max, &n, &dq);
      s.axis = -2;
      alto_quant_kernels(&s, dts[d], NULL, target, arch, ks);
      ks[0].codes_t = true;
      alto_kadd_(out, max, &n, &ks[0]);
      if (dts[d] == ALTO_ELEM_BF16) {
        for (int r = 1; r <= 2; r++) { /* the dual dY kernel, alone and of SwiGLU's backward */
          alto_qkern k = ks[0];
          k.rows_copy = r;
          alto_kadd_(out, max, &n, &k);
          k.swiglu_bwd = true;
          alto_kadd_(out, max, &n, &k);
          k.swiglu_bwd = false; /* the forward's X: the row copy and its re-quantization */
          k.rows_rq = true;
          alto_kadd_(out, max, &n, &k);
        }
        for (int f = 0; f < 2; f++)
          for (int t = 0; t < 2; t++) {
            alto_qkern k = ks[0];
            k.dq_elem = f ? ALTO_ELEM_E5M2 : ALTO_ELEM_E4M3;
            k.dq_scales_t = t;
            alto_kadd_(out, max, &n, &k);
          }
      }
      s.block2d = true;
      alto_quant_kernels(&s, dts[d], NULL, target, arch, ks);
      ks[0].t_copy = true;
      alto_kadd_(out, max, &n, &ks[0]);
      if (dts[d] == ALTO_ELEM_F32) { /* the weights quantized by the optimizer step */
        ks[0].adamw = true;
        alto_kadd_(out, max, &n, &ks[0]);
      }
    }
  /* the MX and one-level NVFP4 weights (2-D blocks of fp32) quantized by the optimizer step */
  const alto_scheme wq[] = {ALTO_SCHEME_MXFP4, ALTO_SCHEME_MXFP8_E4M3, ALTO_SCHEME_MXFP8_E5M2,
                            ALTO_SCHEME_NVFP4};
  for (size_t i = 0; i < sizeof wq / sizeof wq[0]; i++) {
    alto_quant_spec s = alto_quant_spec_default(wq[i]);
    s.block2d = true;
    s.two_level = false;
    alto_qkern ks[ALTO_QUANT_MAX_KERNELS];
    if (alto_quant_kernels(&s, ALTO_ELEM_F32, NULL, target, arch, ks) == 1) {
      ks[0].adamw = true;
      alto_kadd_(out, max, &n, &ks[0]);
    }
  }
  /* fp8_rowwise along axis -2 with transposed codes (the executor's wgrad and dgrad operands),
   * both element formats */
  for (int e = 0; e < 2; e++)
    for (int d = 0; d < 2; d++) {
      alto_quant_spec s = alto_quant_spec_default(ALTO_SCHEME_FP8_ROWWISE);
      s.elem = e ? ALTO_ELEM_E5M2 : ALTO_ELEM_E4M3;
      s.axis = -2;
      alto_qkern ks[ALTO_QUANT_MAX_KERNELS];
      int nk = alto_quant_kernels(&s, dts[d], NULL, target, arch, ks);
      ks[nk - 1].codes_t = true;
      alto_kadd_(out, max, &n, &ks[nk - 1]);
    }
  /* the rows kernels of SwiGLU's output from its inputs (bf16): fp8_block (both scale layouts),
   * MXFP4 (RNE and SR), MXFP8 */
  const struct {
    alto_scheme s;
    bool sr, scales_t;
  } sw[] = {{ALTO_SCHEME_FP8_BLOCK, false, false}, {ALTO_SCHEME_FP8_BLOCK, false, true},
            {ALTO_SCHEME_MXFP4, false, false},     {ALTO_SCHEME_MXFP4, true, false},
            {ALTO_SCHEME_MXFP8_E4M3, false, false}};
  for (size_t i = 0; i < sizeof sw / sizeof sw[0]; i++) {
    alto_quant_spec s = alto_quant_spec_default(sw[i].s);
    s.sr = sw[i].sr;
    alto_qkern ks[ALTO_QUANT_MAX_KERNELS];
    alto_quant_kernels(&s, ALTO_ELEM_BF16, NULL, target, arch, ks);
    ks[0].swiglu = true;
    ks[0].scales_t = sw[i].scales_t;
    alto_kadd_(out, max, &n, &ks[0]);
  }
  /* MXFP4 1x32 straight into the FP8 GEMM's E4M3 form (CUDA): RNE and SR, bf16 and fp32 input,
   * and of SwiGLU's inputs */
  if (target == ALTO_TARGET_CUDA)
    for (int sr = 0; sr < 2; sr++)
      for (int d = 0; d < 3; d++) {
        alto_quant_spec s = alto_quant_spec_default(ALTO_SCHEME_MXFP4);
        s.sr = sr;
        alto_qkern ks[ALTO_QUANT_MAX_KERNELS];
        alto_quant_kernels(&s, d == 1 ? ALTO_ELEM_F32 : ALTO_ELEM_BF16, NULL, target, arch, ks);
        ks[0].mx_tile = true;
        ks[0].swiglu = d == 2;
        alto_kadd_(out, max, &n, &ks[0]);
      }
  return n;
}
