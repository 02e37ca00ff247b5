/* Fork-join parallel loop over [0, n) on CPU threads (the CPU backend's row parallelism). */
#ifndef ALTO_BASE_PARALLEL_H
#define ALTO_BASE_PARALLEL_H

#include <stdint.h>

/* Called with a contiguous chunk [begin, end). */
typedef void (*alto_parallel_fn)(void *ctx, int64_t begin, int64_t end);

/* Threads to use: ALTO_NUM_THREADS, else the online cores. */
int alto_parallel_threads(void);

/* Runs fn over [0, n) split into contiguous chunks of at least `grain` items. Deterministic:
 * each item is processed exactly once, and results must not depend on the split. */
void alto_parallel_for(int64_t n, int64_t grain, alto_parallel_fn fn, void *ctx);
/* The same with an explicit thread count (1..256; `alto-compile -j N`). */
void alto_parallel_for_threads(int64_t n, int64_t grain, int threads, alto_parallel_fn fn,
                               void *ctx);

#endif
