/* Line charts in a bitmap font, and the loss plots of runs (see plot.h). */
#include "runtime/plot.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/png.h"

/* ---- 5x7 font: 7 rows of 5 bits, MSB leftmost ------------------------------------------- */
static const char font_chars_[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ .,-_/:()+=%?";
static const uint8_t font_rows_[][7] = {
    {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E},
    {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E},
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F},
    {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E},
    {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02},
    {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E},
    {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E},
    {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08},
    {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E},
    {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C},
    {0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11},
    {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E},
    {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E},
    {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C},
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F},
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10},
    {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F},
    {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11},
    {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E},
    {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C},
    {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11},
    {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F},
    {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11},
    {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11},
    {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E},
    {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10},
    {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D},
    {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11},
    {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E},
    {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04},
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E},
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04},
    {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A},
    {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11},
    {0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04},
    {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F},
    {0, 0, 0, 0, 0, 0, 0},
    {0, 0, 0, 0, 0, 0x0C, 0x0C},
    {0, 0, 0, 0, 0x0C, 0x04, 0x08},
    {0, 0, 0, 0x1F, 0, 0, 0},
    {0, 0, 0, 0, 0, 0, 0x1F},
    {0, 0x01, 0x02, 0x04, 0x08, 0x10, 0},
    {0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0},
    {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02},
    {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08},
    {0, 0x04, 0x04, 0x1F, 0x04, 0x04, 0},
    {0, 0, 0x1F, 0, 0x1F, 0, 0},
    {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03},
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0, 0x04},
};
_Static_assert(sizeof(font_rows_) / sizeof(font_rows_[0]) == sizeof(font_chars_) - 1,
               "one glyph per character");

enum { FONT_SCALE = 2, GLYPH_W = 6 * FONT_SCALE, GLYPH_H = 7 * FONT_SCALE };

typedef struct {
  uint8_t *px;
  int w, h;
} canvas_;

static const uint8_t palette_[8][3] = {{31, 119, 180},  {214, 39, 40},   {44, 160, 44},
                                       {255, 127, 14},  {148, 103, 189}, {140, 86, 75},
                                       {227, 119, 194}, {23, 190, 207}};

static void color_of_(int idx, bool tint, uint8_t out[3]) {
  const uint8_t *c = palette_[((idx % 8) + 8) % 8];
  for (int k = 0; k < 3; k++)
    out[k] = tint ? (uint8_t)(c[k] + (255 - c[k]) * 3 / 4) : c[k];
}

static void pset_(canvas_ *c, int x, int y, const uint8_t rgb[3]) {
  if (x < 0 || y < 0 || x >= c->w || y >= c->h)
    return;
  memcpy(c->px + ((size_t)y * c->w + x) * 3, rgb, 3);
}

static void rect_(canvas_ *c, int x0, int y0, int x1, int y1, const uint8_t rgb[3]) {
  for (int y = y0; y <= y1; y++)
    for (int x = x0; x <= x1; x++)
      pset_(c, x, y, rgb);
}

static void line_(canvas_ *c, int x0, int y0, int x1, int y1, const uint8_t rgb[3], int thick) {
  int dx = abs(x1 - x0), sx = x0 < x1 ? 1 : -1, dy = -abs(y1 - y0), sy = y0 < y1 ? 1 : -1;
  int err = dx + dy;
  for (;;) {
    rect_(c, x0, y0, x0 + thick - 1, y0 + thick - 1, rgb);
    if (x0 == x1 && y0 == y1)
      break;
    int e2 = 2 * err;
    if (e2 >= dy) {
      err += dy;
      x0 += sx;
    }
    if (e2 <= dx) {
      err += dx;
      y0 += sy;
    }
  }
}

static void text_(canvas_ *c, int x, int y, const char *s, const uint8_t rgb[3]) {
  for (; *s; s++, x += GLYPH_W) {
    char ch = (*s >= 'a' && *s <= 'z') ? (char)(*s - 'a' + 'A') : *s;
    const char *at = strchr(font_chars_, ch);
    const uint8_t *g = font_rows_[at && ch ? at - font_chars_ : (int)sizeof(font_chars_) - 2];
    for (int r = 0; r < 7; r++)
      for (int col = 0; col < 5; col++)
        if (g[r] & (0x10 >> col))
          rect_(c, x + col * FONT_SCALE, y + r * FONT_SCALE, x + col * FONT_SCALE + FONT_SCALE - 1,
                y + r * FONT_SCALE + FONT_SCALE - 1, rgb);
  }
}

static int text_w_(const char *s) {
  return (int)strlen(s) * GLYPH_W;
}

/* A "nice" tick step (1, 2 or 5 times a power of ten) for about `n` ticks over `range`. */
static double nice_step_(double range, int n) {
  double raw = range / n, p = pow(10, floor(log10(raw))), f = raw / p;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

static void tick_label_(double v, double step, char *buf, size_t n) {
  int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
  snprintf(buf, n, "%.*f", dec > 6 ? 6 : dec, fabs(v) < step * 1e-6 ? 0.0 : v);
}

uint8_t *alto_plot_render(int w, int h, const char *title, const char *xlabel, const char *ylabel,
                          const alto_plot_series *s, int n_series) {
  canvas_ c = {alto_xmalloc((size_t)w * h * 3), w, h};
  memset(c.px, 255, (size_t)w * h * 3);
  const uint8_t black[3] = {0, 0, 0}, grid[3] = {225, 225, 225}, gray[3] = {90, 90, 90};
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  for (int i = 0; i < n_series; i++)
    for (int k = 0; k < s[i].n; k++)
      if (isfinite(s[i].x[k]) && isfinite(s[i].y[k])) {
        xmin = fmin(xmin, s[i].x[k]);
        xmax = fmax(xmax, s[i].x[k]);
        ymin = fmin(ymin, s[i].y[k]);
        ymax = fmax(ymax, s[i].y[k]);
      }
  if (!(xmin <= xmax)) { /* no data: an empty frame */
    xmin = 0, xmax = 1, ymin = 0, ymax = 1;
  }
  if (xmax - xmin < 1e-12)
    xmax = xmin + 1;
  if (ymax - ymin < 1e-12)
    ymax = ymin + 1, ymin -= 1;
  double ystep = nice_step_(ymax - ymin, 6), xstep = nice_step_(xmax - xmin, 8);
  ymin = floor(ymin / ystep) * ystep;
  ymax = ceil(ymax / ystep) * ystep;
  int L = 100, R = w - 24, T = 48, B = h - 64; /* the plot area */
#define PX_(v) (L + (int)lround(((v)-xmin) / (xmax - xmin) * (R - L)))
#define PY_(v) (B - (int)lround(((v)-ymin) / (ymax - ymin) * (B - T)))
  char buf[64];
  for (double v = ymin; v <= ymax + ystep * 1e-6; v += ystep) {
    int y = PY_(v);
    line_(&c, L, y, R, y, grid, 1);
    tick_label_(v, ystep, buf, sizeof buf);
    text_(&c, L - 8 - text_w_(buf), y - GLYPH_H / 2, buf, gray);
  }
  for (double v = ceil(xmin / xstep) * xstep; v <= xmax + xstep * 1e-6; v += xstep) {
    int x = PX_(v);
    line_(&c, x, T, x, B, grid, 1);
    tick_label_(v, xstep, buf, sizeof buf);
    text_(&c, x - text_w_(buf) / 2, B + 8, buf, gray);
  }
  line_(&c, L, B, R, B, black, 2);
  line_(&c, L, T, L, B, black, 2);
  text_(&c, (L + R - text_w_(title)) / 2, 14, title, black);
  text_(&c, (L + R - text_w_(xlabel)) / 2, h - 26, xlabel, black);
  text_(&c, 8, 14, ylabel, black);
  for (int pass = 0; pass < 2; pass++) /* tints first, so every full-color curve is on top */
    for (int i = 0; i < n_series; i++) {
      uint8_t col[3], tint[3];
      color_of_(s[i].color, false, col);
      color_of_(s[i].color, true, tint);
      if (s[i].markers) {
        for (int k = 0; pass == 1 && k < s[i].n; k++)
          if (isfinite(s[i].x[k]) && isfinite(s[i].y[k]))
            rect_(&c, PX_(s[i].x[k]) - 3, PY_(s[i].y[k]) - 3, PX_(s[i].x[k]) + 3,
                  PY_(s[i].y[k]) + 3, col);
        continue;
      }
      int win = s[i].n / 50 > 1 ? s[i].n / 50 : 1; /* running mean over ~2% of the points */
      double sum = 0;
      int cnt = 0, px = 0, py = 0, have = 0, rpx = 0, rpy = 0, rhave = 0;
      for (int k = 0; k < s[i].n; k++) {
        if (!isfinite(s[i].x[k]) || !isfinite(s[i].y[k]))
          continue;
        int x = PX_(s[i].x[k]), y = PY_(s[i].y[k]);
        if (pass == 0 && win > 1) {
          if (rhave)
            line_(&c, rpx, rpy, x, y, tint, 1);
          rpx = x, rpy = y, rhave = 1;
        }
        sum += s[i].y[k];
        cnt++;
        if (k >= win && isfinite(s[i].y[k - win])) {
          sum -= s[i].y[k - win];
          cnt--;
        }
        if (pass == 1) {
          int my = PY_(sum / cnt);
          if (have)
            line_(&c, px, py, x, my, col, 2);
          px = x, py = my, have = 1;
        }
      }
    }
  /* The legend, top right inside the plot area (series with an empty label have none). */
  int lw = 0, nleg = 0;
  for (int i = 0; i < n_series; i++)
    if (s[i].label && s[i].label[0]) {
      lw = text_w_(s[i].label) > lw ? text_w_(s[i].label) : lw;
      nleg++;
    }
  int lx = R - lw - 44, ly = T + 8, ly1 = ly + nleg * (GLYPH_H + 8) - 2;
  if (nleg > 0) {
    const uint8_t frame[3] = {180, 180, 180}, fill[3] = {250, 250, 250};
    rect_(&c, lx - 6, ly - 6, R - 6, ly1, fill);
    line_(&c, lx - 6, ly - 6, R - 6, ly - 6, frame, 1);
    line_(&c, lx - 6, ly1, R - 6, ly1, frame, 1);
    line_(&c, lx - 6, ly - 6, lx - 6, ly1, frame, 1);
    line_(&c, R - 6, ly - 6, R - 6, ly1, frame, 1);
  }
  for (int i = 0, row = 0; i < n_series; i++) {
    if (!s[i].label || !s[i].label[0])
      continue;
    uint8_t col[3];
    color_of_(s[i].color, false, col);
    int y = ly + row++ * (GLYPH_H + 8);
    if (s[i].markers)
      rect_(&c, lx + 8, y + GLYPH_H / 2 - 3, lx + 14, y + GLYPH_H / 2 + 3, col);
    else
      rect_(&c, lx, y + GLYPH_H / 2 - 1, lx + 24, y + GLYPH_H / 2 + 1, col);
    text_(&c, lx + 32, y, s[i].label, black);
  }
#undef PX_
#undef PY_
  return c.px;
}

alto_status alto_plot_write(const char *path, const char *title, const char *xlabel,
                            const char *ylabel, const alto_plot_series *s, int n_series) {
  const int w = 960, h = 600;
  uint8_t *px = alto_plot_render(w, h, title, xlabel, ylabel, s, n_series);
  alto_status st = alto_png_write(path, w, h, px);
  free(px);
  return st;
}

/* ---- metrics.csv ------------------------------------------------------------------------ */
typedef struct {
  double *step, *loss, *vstep, *vloss;
  int n, nv;
} curve_;

static void curve_free_(curve_ *c) {
  free(c->step);
  free(c->loss);
  free(c->vstep);
  free(c->vloss);
  memset(c, 0, sizeof *c);
}

/* Reads the step, loss and val_loss columns (found by header name) of a metrics CSV. */
static alto_status read_metrics_(const char *path, curve_ *c) {
  memset(c, 0, sizeof *c);
  FILE *f = fopen(path, "r");
  if (!f)
    return alto_error(errno == ENOENT ? ALTO_ERR_NOT_FOUND : ALTO_ERR_IO, "cannot read %s: %s",
                      path, strerror(errno));
  char line[1024];
  int col_step = -1, col_loss = -1, col_val = -1, cap = 0, vcap = 0;
  if (fgets(line, sizeof line, f)) {
    int k = 0;
    for (char *tok = strtok(line, ",\r\n"); tok; tok = strtok(NULL, ",\r\n"), k++) {
      if (!strcmp(tok, "step"))
        col_step = k;
      else if (!strcmp(tok, "loss"))
        col_loss = k;
      else if (!strcmp(tok, "val_loss"))
        col_val = k;
    }
  }
  if (col_step < 0 || col_loss < 0) {
    fclose(f);
    return alto_error(ALTO_ERR_PARSE, "%s: no 'step' and 'loss' columns in the header", path);
  }
  while (fgets(line, sizeof line, f)) {
    double v[16];
    bool have[16] = {0};
    int k = 0;
    for (char *p = line; k < 16; k++) { /* empty fields are meaningful: no strtok here */
      char *end;
      v[k] = strtod(p, &end);
      have[k] = end != p;
      p = strchr(p, ',');
      if (!p)
        break;
      p++;
    }
    if (col_step <= k && col_loss <= k && have[col_step] && have[col_loss]) {
      if (c->n == cap) {
        cap = cap ? 2 * cap : 256;
        c->step = alto_xrealloc(c->step, cap * sizeof(double));
        c->loss = alto_xrealloc(c->loss, cap * sizeof(double));
      }
      c->step[c->n] = v[col_step];
      c->loss[c->n++] = v[col_loss];
    }
    if (col_val >= 0 && col_val <= k && have[col_val] && have[col_step]) {
      if (c->nv == vcap) {
        vcap = vcap ? 2 * vcap : 64;
        c->vstep = alto_xrealloc(c->vstep, vcap * sizeof(double));
        c->vloss = alto_xrealloc(c->vloss, vcap * sizeof(double));
      }
      c->vstep[c->nv] = v[col_step];
      c->vloss[c->nv++] = v[col_val];
    }
  }
  fclose(f);
  return ALTO_OK;
}

alto_status alto_plot_run(const char *run_dir, const char *run_name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/metrics.csv", run_dir);
  curve_ c;
  ALTO_TRY(read_metrics_(path, &c));
  char l1[160], l2[160], title[200];
  snprintf(l1, sizeof l1, "%s train", run_name);
  snprintf(l2, sizeof l2, "%s val", run_name);
  snprintf(title, sizeof title, "loss: %s", run_name);
  alto_plot_series s[2] = {{l1, c.step, c.loss, c.n, 0, false},
                           {l2, c.vstep, c.vloss, c.nv, 1, true}};
  snprintf(path, sizeof path, "%s/loss.png", run_dir);
  alto_status st = alto_plot_write(path, title, "step", "loss", s, c.nv ? 2 : 1);
  curve_free_(&c);
  return st;
}

static int cmp_str_(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

alto_status alto_plot_runs(const char *parent, int *n_runs) {
  *n_runs = 0;
  DIR *d = opendir(parent);
  if (!d)
    return alto_error(ALTO_ERR_IO, "cannot list %s: %s", parent, strerror(errno));
  char **names = NULL;
  int n = 0, cap = 0;
  char path[4096];
  for (struct dirent *e; (e = readdir(d));) {
    struct stat st;
    if (e->d_name[0] == '.')
      continue;
    snprintf(path, sizeof path, "%s/%s/metrics.csv", parent, e->d_name);
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
      continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 8;
      names = alto_xrealloc(names, cap * sizeof *names);
    }
    names[n++] = alto_xstrdup(e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof *names, cmp_str_); /* stable colors: runs in name order */
  curve_ *cv = alto_xcalloc(n ? n : 1, sizeof *cv);
  alto_plot_series *s = alto_xcalloc(n ? 2 * n : 1, sizeof *s);
  char(*labels)[160] = alto_xcalloc(n ? n : 1, sizeof *labels);
  int ns = 0, used = 0;
  for (int i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/%s/metrics.csv", parent, names[i]);
    if (read_metrics_(path, &cv[i]) != ALTO_OK || cv[i].n == 0)
      continue; /* a run that has not logged a step yet is not an error */
    snprintf(labels[i], sizeof labels[i], "%s", names[i]);
    s[ns++] = (alto_plot_series){labels[i], cv[i].step, cv[i].loss, cv[i].n, used, false};
    if (cv[i].nv)
      s[ns++] = (alto_plot_series){"", cv[i].vstep, cv[i].vloss, cv[i].nv, used, true};
    used++;
  }
  snprintf(path, sizeof path, "%s/loss.png", parent);
  alto_status st = alto_plot_write(path, "train loss (squares: validation)", "step", "loss", s, ns);
  *n_runs = used;
  for (int i = 0; i < n; i++) {
    curve_free_(&cv[i]);
    free(names[i]);
  }
  free(labels);
  free(cv);
  free(s);
  free(names);
  return st;
}
