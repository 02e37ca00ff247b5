/* The memory plan: greedy placement by size over lifetime intervals, and its verifier. */
#include "compiler/memplan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static size_t align_(size_t x) {
  return (x + ALTO_MEMPLAN_ALIGN - 1) / ALTO_MEMPLAN_ALIGN * ALTO_MEMPLAN_ALIGN;
}

static const alto_plan *sort_plan_; /* qsort has no context argument in C11 */

static int by_size_desc_(const void *a, const void *b) {
  const alto_buffer *x = &sort_plan_->bufs[*(const int *)a];
  const alto_buffer *y = &sort_plan_->bufs[*(const int *)b];
  if (x->bytes != y->bytes)
    return x->bytes > y->bytes ? -1 : 1;
  if (x->first != y->first)
    return x->first < y->first ? -1 : 1;
  return *(const int *)a - *(const int *)b;
}

typedef struct {
  size_t lo, hi;
} range_;

static int by_lo_(const void *a, const void *b) {
  const range_ *x = a, *y = b;
  return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static bool overlap_life_(const alto_buffer *a, const alto_buffer *b) {
  return a->first <= b->last && b->first <= a->last;
}

alto_status alto_memplan_assign(alto_plan *p) {
  int n = p->n_bufs;
  int *order = alto_xmalloc((size_t)(n ? n : 1) * sizeof *order);
  range_ *busy = alto_xmalloc((size_t)(n ? n : 1) * sizeof *busy);
  for (int i = 0; i < n; i++)
    order[i] = i;
  sort_plan_ = p;
  qsort(order, (size_t)n, sizeof *order, by_size_desc_);
  size_t peak = 0;
  for (int oi = 0; oi < n; oi++) {
    alto_buffer *b = &p->bufs[order[oi]];
    ALTO_ASSERT(b->first >= 0 && b->last >= b->first);
    size_t size = align_(b->bytes);
    int nb = 0;
    for (int pj = 0; pj < oi; pj++) {
      const alto_buffer *o = &p->bufs[order[pj]];
      if (overlap_life_(b, o))
        busy[nb++] = (range_){o->offset, o->offset + align_(o->bytes)};
    }
    qsort(busy, (size_t)nb, sizeof *busy, by_lo_);
    /* best fit: the smallest gap that holds it, else the end */
    size_t cur = 0, best = SIZE_MAX, best_gap = SIZE_MAX;
    for (int k = 0; k < nb; k++) {
      if (busy[k].lo > cur && busy[k].lo - cur >= size && busy[k].lo - cur < best_gap) {
        best_gap = busy[k].lo - cur;
        best = cur;
      }
      if (busy[k].hi > cur)
        cur = busy[k].hi;
    }
    b->offset = best != SIZE_MAX ? best : cur;
    if (b->offset + size > peak)
      peak = b->offset + size;
  }
  p->arena_bytes = peak;
  free(order);
  free(busy);
  return ALTO_OK;
}

static int by_offset_(const void *a, const void *b) {
  const alto_buffer *x = &sort_plan_->bufs[*(const int *)a];
  const alto_buffer *y = &sort_plan_->bufs[*(const int *)b];
  if (x->offset != y->offset)
    return x->offset < y->offset ? -1 : 1;
  return *(const int *)a - *(const int *)b;
}

alto_status alto_memplan_verify(const alto_plan *p) {
  int n = p->n_bufs;
  for (int i = 0; i < n; i++) {
    const alto_buffer *b = &p->bufs[i];
    if (b->offset % ALTO_MEMPLAN_ALIGN != 0)
      return alto_error(ALTO_ERR_INVALID_ARG,
                        "memory plan: buffer '%s' at offset %zu is not "
                        "aligned to %d bytes",
                        b->name, b->offset, ALTO_MEMPLAN_ALIGN);
    if (b->offset + b->bytes > p->arena_bytes)
      return alto_error(ALTO_ERR_INVALID_ARG,
                        "memory plan: buffer '%s' [%zu, %zu) ends past the arena (%zu bytes)",
                        b->name, b->offset, b->offset + b->bytes, p->arena_bytes);
  }
  /* Sweep by offset: each buffer is checked against those that start before it ends. */
  int *order = alto_xmalloc((size_t)(n ? n : 1) * sizeof *order);
  for (int i = 0; i < n; i++)
    order[i] = i;
  sort_plan_ = p;
  qsort(order, (size_t)n, sizeof *order, by_offset_);
  alto_status s = ALTO_OK;
  for (int i = 0; i < n && s == ALTO_OK; i++) {
    const alto_buffer *a = &p->bufs[order[i]];
    if (a->bytes == 0)
      continue;
    for (int j = i + 1; j < n; j++) {
      const alto_buffer *b = &p->bufs[order[j]];
      if (b->offset >= a->offset + a->bytes)
        break;
      if (b->bytes > 0 && overlap_life_(a, b)) {
        s = alto_error(ALTO_ERR_INVALID_ARG,
                       "memory plan: buffers '%s' [%zu, %zu) live ops %d..%d and '%s' [%zu, "
                       "%zu) live ops %d..%d overlap",
                       a->name, a->offset, a->offset + a->bytes, a->first, a->last, b->name,
                       b->offset, b->offset + b->bytes, b->first, b->last);
        break;
      }
    }
  }
  free(order);
  return s;
}

size_t alto_memplan_max_live(const alto_plan *p) {
  int steps = p->n_nodes > 0 ? p->n_nodes : 1;
  /* difference array over op indices */
  int64_t *delta = alto_xcalloc((size_t)steps + 1, sizeof *delta);
  for (int i = 0; i < p->n_bufs; i++) {
    const alto_buffer *b = &p->bufs[i];
    delta[b->first] += (int64_t)align_(b->bytes);
    delta[b->last + 1] -= (int64_t)align_(b->bytes);
  }
  int64_t cur = 0, best = 0;
  for (int i = 0; i < steps; i++) {
    cur += delta[i];
    if (cur > best)
      best = cur;
  }
  free(delta);
  return (size_t)best;
}

void alto_memplan_human(size_t bytes, char *buf, size_t n) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = (double)bytes;
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    u++;
  }
  if (u == 0)
    snprintf(buf, n, "%zu B", bytes);
  else
    snprintf(buf, n, "%.2f %s", v, units[u]);
}
