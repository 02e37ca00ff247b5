/* The memory plan: every buffer of a plan gets an offset in one arena, by liveness, so the
 * runtime allocates once. Buffers whose lifetimes [first, last] overlap never share bytes;
 * alto_memplan_verify proves it. Offsets and sizes are aligned to ALTO_MEMPLAN_ALIGN. */
#ifndef ALTO_COMPILER_MEMPLAN_H
#define ALTO_COMPILER_MEMPLAN_H

#include <stddef.h>

#include "base/status.h"
#include "compiler/ir.h"

#define ALTO_MEMPLAN_ALIGN 256

/* Greedy by size (largest first), each placed at the lowest aligned offset that fits between
 * the buffers already placed whose lifetimes overlap its own. Sets every buffer's offset and
 * p->arena_bytes (the peak). Needs lifetimes (alto_plan_finish). */
alto_status alto_memplan_assign(alto_plan *p);

/* ALTO_OK when no two simultaneously live buffers overlap and every offset is aligned; else
 * ALTO_ERR_INVALID_ARG naming the two buffers. */
alto_status alto_memplan_verify(const alto_plan *p);

/* The largest sum of (aligned) sizes live at one op: a lower bound of any plan's peak. */
size_t alto_memplan_max_live(const alto_plan *p);

/* "1.50 GiB" */
void alto_memplan_human(size_t bytes, char *buf, size_t n);

#endif
