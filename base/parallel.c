#include "base/parallel.h"

#include <pthread.h>
#include <unistd.h>

#include "base/env.h"
#include "base/status.h"

int alto_parallel_threads(void) {
  long t = alto_env_get_long(ALTO_ENV_NUM_THREADS, 0);
  if (t <= 0)
    t = sysconf(_SC_NPROCESSORS_ONLN);
  if (t < 1)
    t = 1;
  if (t > 256)
    t = 256;
  return (int)t;
}

typedef struct {
  alto_parallel_fn fn;
  void *ctx;
  int64_t begin, end;
} alto_parallel_job_;

static void *alto_parallel_run_(void *arg) {
  alto_parallel_job_ *job = arg;
  job->fn(job->ctx, job->begin, job->end);
  return NULL;
}

void alto_parallel_for(int64_t n, int64_t grain, alto_parallel_fn fn, void *ctx) {
  alto_parallel_for_threads(n, grain, alto_parallel_threads(), fn, ctx);
}

void alto_parallel_for_threads(int64_t n, int64_t grain, int threads, alto_parallel_fn fn,
                               void *ctx) {
  if (n <= 0)
    return;
  if (grain < 1)
    grain = 1;
  int64_t nt = threads < 1 ? 1 : (threads > 256 ? 256 : threads);
  if (nt > (n + grain - 1) / grain)
    nt = (n + grain - 1) / grain;
  if (nt <= 1) {
    fn(ctx, 0, n);
    return;
  }
  pthread_t th[256];
  alto_parallel_job_ jobs[256];
  int64_t chunk = (n + nt - 1) / nt;
  int started = 0;
  for (int64_t t = 0; t < nt; t++) {
    jobs[t] = (alto_parallel_job_){fn, ctx, t * chunk, (t + 1) * chunk < n ? (t + 1) * chunk : n};
    if (jobs[t].begin >= jobs[t].end)
      break;
    if (t == 0)
      continue; /* chunk 0 runs on the calling thread */
    if (pthread_create(&th[t], NULL, alto_parallel_run_, &jobs[t]) != 0) {
      alto_parallel_run_(&jobs[t]); /* no thread available: run it here */
      th[t] = 0;
    }
    started = (int)t + 1;
  }
  fn(ctx, jobs[0].begin, jobs[0].end);
  for (int t = 1; t < started; t++)
    if (th[t])
      pthread_join(th[t], NULL);
}
