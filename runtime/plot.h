/* Loss-curve plots as PNG files (PRODUCT.md: plots where people would rather look than read).
 *
 * A line chart with axes, "nice" tick labels, a title and a legend drawn in a 5x7 bitmap font
 * (lowercase is drawn as uppercase). Each series has a raw curve (a light tint of its color) and
 * a running mean over ~2% of its points (the full color) so two noisy runs compare at a glance;
 * series flagged `markers` (validation loss) are drawn as small squares instead.
 */
#ifndef ALTO_RUNTIME_PLOT_H
#define ALTO_RUNTIME_PLOT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"

typedef struct {
  const char *label; /* legend text */
  const double *x, *y;
  int n;
  int color;    /* palette index (runs get 0, 1, 2, ...) */
  bool markers; /* squares instead of a line (validation points) */
} alto_plot_series;

/* Renders the series into an RGB image of w x h (malloc'ed, 3 bytes per pixel). Non-finite
 * points are skipped. */
uint8_t *alto_plot_render(int w, int h, const char *title, const char *xlabel, const char *ylabel,
                          const alto_plot_series *s, int n_series);
/* Renders and writes a PNG (alto_png_write). */
alto_status alto_plot_write(const char *path, const char *title, const char *xlabel,
                            const char *ylabel, const alto_plot_series *s, int n_series);

/* The plot of one run: train loss and validation loss from `<run_dir>/metrics.csv`, written to
 * `<run_dir>/loss.png`. */
alto_status alto_plot_run(const char *run_dir, const char *run_name);
/* Every run under `parent` (each subdirectory holding a metrics.csv), one color per run,
 * labeled by the directory name, written to `<parent>/loss.png`. `*n_runs` gets the count. */
alto_status alto_plot_runs(const char *parent, int *n_runs);

#endif
