/* The memory plan: placement by liveness, the peak bounds, and the overlap verifier. */
#include <string.h>

#include "compiler/lower.h"
#include "compiler/memplan.h"
#include "tests/harness.h"

/* A chain a -> b -> c -> d of temporaries plus one long-lived buffer. */
static void build_chain_(alto_plan *p) {
  alto_plan_init(p);
  int64_t s1[1] = {1000}, s2[1] = {300}, s3[1] = {5000};
  int a = alto_plan_buffer(p, "a", ALTO_DT_F32, ALTO_BUF_TEMP, 1, s1);
  int b = alto_plan_buffer(p, "b", ALTO_DT_F32, ALTO_BUF_TEMP, 1, s2);
  int c = alto_plan_buffer(p, "c", ALTO_DT_F32, ALTO_BUF_TEMP, 1, s3);
  int d = alto_plan_buffer(p, "d", ALTO_DT_BF16, ALTO_BUF_TEMP, 1, s1);
  int keep = alto_plan_buffer(p, "keep", ALTO_DT_F32, ALTO_BUF_SAVED, 1, s2);
  alto_node *n = alto_plan_node(p, ALTO_OP_ZERO, "make a");
  n->out[n->n_out++] = a;
  n->out[n->n_out++] = keep;
  n = alto_plan_node(p, ALTO_OP_ADD, "a -> b");
  n->in[n->n_in++] = a;
  n->out[n->n_out++] = b;
  n = alto_plan_node(p, ALTO_OP_ADD, "b -> c");
  n->in[n->n_in++] = b;
  n->out[n->n_out++] = c;
  n = alto_plan_node(p, ALTO_OP_ADD, "c -> d");
  n->in[n->n_in++] = c;
  n->out[n->n_out++] = d;
  n = alto_plan_node(p, ALTO_OP_ADD, "d, keep");
  n->in[n->n_in++] = d;
  n->in[n->n_in++] = keep;
  n->out[n->n_out++] = d;
  alto_plan_finish(p, "");
}

static size_t sum_sizes_(const alto_plan *p) {
  size_t s = 0;
  for (int i = 0; i < p->n_bufs; i++)
    s += (p->bufs[i].bytes + ALTO_MEMPLAN_ALIGN - 1) / ALTO_MEMPLAN_ALIGN * ALTO_MEMPLAN_ALIGN;
  return s;
}

static void test_chain(void) {
  alto_plan p;
  build_chain_(&p);
  CHECK(alto_memplan_assign(&p) == ALTO_OK);
  CHECKF(alto_memplan_verify(&p) == ALTO_OK, "%s", alto_last_error());
  size_t live = alto_memplan_max_live(&p);
  CHECK(p.arena_bytes <= sum_sizes_(&p));
  CHECK(p.arena_bytes >= live);
  CHECK(p.arena_bytes < sum_sizes_(&p)); /* a and c never live together: reuse happened */
  for (int i = 0; i < p.n_bufs; i++)
    CHECK(p.bufs[i].offset % ALTO_MEMPLAN_ALIGN == 0);
  alto_plan_free(&p);
}

static void test_verifier_rejects_overlap(void) {
  alto_plan p;
  build_chain_(&p);
  CHECK(alto_memplan_assign(&p) == ALTO_OK);
  /* b (ops 1..2) and c (ops 2..3) are live together at op 2: put them on top of each other */
  p.bufs[2].offset = p.bufs[1].offset;
  if (p.bufs[2].offset + p.bufs[2].bytes > p.arena_bytes)
    p.arena_bytes = p.bufs[2].offset + p.bufs[2].bytes;
  alto_status s = alto_memplan_verify(&p);
  CHECK(s == ALTO_ERR_INVALID_ARG);
  CHECKF(strstr(alto_last_error(), "'b'") && strstr(alto_last_error(), "'c'"), "%s",
         alto_last_error());
  /* misaligned */
  alto_plan_free(&p);
  build_chain_(&p);
  CHECK(alto_memplan_assign(&p) == ALTO_OK);
  p.bufs[0].offset += 8;
  p.arena_bytes += 256;
  CHECK(alto_memplan_verify(&p) == ALTO_ERR_INVALID_ARG);
  CHECK(strstr(alto_last_error(), "aligned") != NULL);
  alto_plan_free(&p);
}

/* On a real plan: verified, and the peak lies between the max live set and the sum. */
static void test_real_plan(void) {
  alto_model m;
  CHECK(alto_model_load("llama3/debugmodel", &m) == ALTO_OK);
  alto_lowered l;
  alto_lower_opts o = {2, 128, ""};
  CHECKF(alto_lower(&m, NULL, &o, &l) == ALTO_OK, "%s", alto_last_error());
  CHECK(alto_memplan_verify(&l.plan) == ALTO_OK);
  CHECK(l.plan.arena_bytes <= sum_sizes_(&l.plan));
  CHECK(l.plan.arena_bytes >= alto_memplan_max_live(&l.plan));
  CHECK(l.plan.arena_bytes < sum_sizes_(&l.plan));
  alto_lowered_free(&l);
}

static void test_human(void) {
  char b[32];
  alto_memplan_human(3u << 30, b, sizeof b);
  CHECK(strcmp(b, "3.00 GiB") == 0);
  alto_memplan_human(100, b, sizeof b);
  CHECK(strcmp(b, "100 B") == 0);
}

int main(void) {
  RUN(test_chain);
  RUN(test_verifier_rejects_overlap);
  RUN(test_real_plan);
  RUN(test_human);
  return alto_test_finish();
}
