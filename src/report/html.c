/* html.c - see html.h. One page per report kind, drawn from the JSON report alone: tables
 * whose numbers are the JSON's, and charts as inline SVG whose every axis and series carries a
 * class (`axis`, `series`) and a <title> for hover values (no script: the page reads the same
 * without JavaScript). Series of any length are drawn as one polyline each; hover points are
 * at most HOVER_POINTS per series, so a 1-hour load report stays small. */
#define _GNU_SOURCE /* open_memstream */
#include "report/html.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "report/xmlw.h"
#include "util/buf.h"
#include "util/files.h"
#include "util/hist.h"

#define HOVER_POINTS 120
#define CHART_W 760.0
#define CHART_H 260.0
#define ML 64.0 /* margins: left, right, top, bottom */
#define MR 16.0
#define MT 16.0
#define MB 40.0

static const char css[] =
    ":root{--bg:#fff;--fg:#1b1f24;--mute:#57606a;--line:#d0d7de;--ok:#1a7f37;--bad:#cf222e;"
    "--warn:#9a6700;--c0:#0969da;--c1:#cf222e;--c2:#8250df;--c3:#1a7f37;--c4:#bc4c00;"
    "--cell:#f6f8fa}"
    "@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--mute:#8d96a0;"
    "--line:#30363d;--ok:#3fb950;--bad:#f85149;--warn:#d29922;--c0:#58a6ff;--c1:#ff7b72;"
    "--c2:#d2a8ff;--c3:#56d364;--c4:#ffa657;--cell:#161b22}}"
    "body{background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,sans-serif;"
    "margin:24px auto;max-width:980px;padding:0 16px}"
    "h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;"
    "border-bottom:1px solid var(--line);padding-bottom:4px}"
    ".sub{color:var(--mute);margin:0 0 12px;word-break:break-all}"
    ".badge{display:inline-block;padding:2px 10px;border-radius:12px;font-weight:600;"
    "color:#fff}.b-ok{background:var(--ok)}.b-bad{background:var(--bad)}"
    ".b-warn{background:var(--warn)}"
    "table{border-collapse:collapse;margin:8px 0;width:100%}"
    "th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}"
    "th{background:var(--cell)}td.num{text-align:right;font-variant-numeric:tabular-nums}"
    ".v-pass,.v-same,.v-true{color:var(--ok);font-weight:600}"
    ".v-fail,.v-drift,.v-false{color:var(--bad);font-weight:600}"
    ".v-warn,.v-inconclusive,.v-unproven{color:var(--warn);font-weight:600}"
    ".v-skip,.v-not_applicable{color:var(--mute)}"
    "td.drift{background:rgba(207,34,46,.12)}td.changed{outline:2px dashed var(--warn)}"
    "pre{white-space:pre-wrap;word-break:break-all;background:var(--cell);padding:8px;"
    "margin:4px 0;font-size:12px}details summary{cursor:pointer;color:var(--mute)}"
    "svg{display:block;max-width:100%;height:auto}"
    "svg text{fill:var(--fg);font:11px system-ui,sans-serif}"
    ".axis line,.axis path{stroke:var(--mute)}.grid line{stroke:var(--line)}"
    ".series{fill:none;stroke-width:1.6}.s0{stroke:var(--c0);fill:var(--c0)}"
    ".s1{stroke:var(--c1);fill:var(--c1)}.s2{stroke:var(--c2);fill:var(--c2)}"
    ".s3{stroke:var(--c3);fill:var(--c3)}.s4{stroke:var(--c4);fill:var(--c4)}"
    "polyline.series{fill:none}.floor{stroke:var(--bad);stroke-dasharray:4 3}"
    ".legend{color:var(--mute);font-size:12px}.sw{display:inline-block;width:10px;"
    "height:10px;margin:0 4px 0 10px;vertical-align:middle}"
    ".sw.s0{background:var(--c0)}.sw.s1{background:var(--c1)}.sw.s2{background:var(--c2)}"
    ".sw.s3{background:var(--c3)}.sw.s4{background:var(--c4)}"
    "@media print{body{max-width:none;margin:0}details{display:block}"
    "details>*{display:block}h2{break-after:avoid}svg,table{break-inside:avoid}}";

/* ---- small writers ---- */

static void el(wsp_xmlw *w, const char *name, const char *cls, const char *text)
{
    wsp_xmlw_start(w, name);
    if (cls)
        wsp_xmlw_attr(w, "class", cls);
    wsp_xmlw_text(w, text ? text : "");
    wsp_xmlw_end(w);
}

static void elf(wsp_xmlw *w, const char *name, const char *cls, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void elf(wsp_xmlw *w, const char *name, const char *cls, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    el(w, name, cls, buf);
}

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static double num(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : 0.0;
}

/* A JSON value as a table cell's text: strings as they are, numbers at most 6 significant. */
static void value_text(const json_t *v, char *out, size_t cap)
{
    if (json_is_string(v)) {
        snprintf(out, cap, "%s", json_string_value(v));
    } else if (json_is_integer(v)) {
        snprintf(out, cap, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        snprintf(out, cap, "%.10g", json_real_value(v)); /* the JSON's own precision */
    } else if (json_is_true(v) || json_is_false(v)) {
        snprintf(out, cap, "%s", json_is_true(v) ? "true" : "false");
    } else if (json_is_null(v) || !v) {
        snprintf(out, cap, "-");
    } else {
        char *d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        snprintf(out, cap, "%s", d ? d : "");
        free(d);
    }
}

static void td_value(wsp_xmlw *w, const json_t *v)
{
    char buf[1024];
    value_text(v, buf, sizeof buf);
    el(w, "td", json_is_number(v) ? "num" : NULL, buf);
}

/* A verdict-like word in a cell with its class (v-pass, v-fail ...). */
static void td_verdict(wsp_xmlw *w, const char *v)
{
    char cls[48];
    snprintf(cls, sizeof cls, "v-%.40s", v);
    el(w, "td", cls, v);
}

static void th_row(wsp_xmlw *w, const char *const *names)
{
    wsp_xmlw_start(w, "tr");
    for (size_t i = 0; names[i]; i++)
        el(w, "th", NULL, names[i]);
    wsp_xmlw_end(w);
}

/* A table with its id and its head row (left open for the rows). */
/* (with its <tbody>: written, so an HTML parser and an XML one build the same tree) */
static void table_open(wsp_xmlw *w, const char *id, const char *const *head)
{
    wsp_xmlw_start(w, "table");
    wsp_xmlw_attr(w, "id", id);
    wsp_xmlw_start(w, "tbody");
    th_row(w, head);
}

static void table_close(wsp_xmlw *w)
{
    wsp_xmlw_end(w); /* tbody */
    wsp_xmlw_end(w);
}

/* An object's members as a two-column table (nested values compact). */
static void kv_table(wsp_xmlw *w, const json_t *o, const char *id)
{
    wsp_xmlw_start(w, "table");
    if (id)
        wsp_xmlw_attr(w, "id", id);
    wsp_xmlw_start(w, "tbody");
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)(uintptr_t)o, k, v)
    {
        wsp_xmlw_start(w, "tr");
        wsp_xmlw_attr(w, "data-key", k);
        el(w, "th", NULL, k);
        td_value(w, v);
        wsp_xmlw_end(w);
    }
    table_close(w);
}

/* JSON, indented, for evidence behind <details>. */
static void json_details(wsp_xmlw *w, const char *summary, const json_t *v)
{
    char *d = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    wsp_xmlw_start(w, "details");
    el(w, "summary", NULL, summary);
    el(w, "pre", NULL, d ? d : "");
    wsp_xmlw_end(w);
    free(d);
}

/* ---- charts ---- */

typedef struct series {
    const char *name;
    const double *x, *y;
    size_t n;
} series;

typedef struct axis {
    double lo, hi;
    bool log;
    const char *label;
} axis;

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static double map(const axis *a, double v, double p0, double p1)
{
    double lo = a->lo, hi = a->hi;
    if (a->log) {
        v = log10(v > 0 ? v : lo);
        lo = log10(lo);
        hi = log10(hi);
    }
    double f = hi > lo ? (v - lo) / (hi - lo) : 0.5;
    return p0 + clampd(f, 0, 1) * (p1 - p0);
}

/* A step of 1, 2 or 5 times a power of ten giving about `want` ticks. */
static double nice_step(double span, int want)
{
    if (!(span > 0))
        return 1;
    double raw = span / want, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

static void fmt_tick(double v, char *out, size_t cap)
{
    if (fabs(v) >= 1e6 || (fabs(v) < 1e-3 && v != 0))
        snprintf(out, cap, "%.0e", v);
    else
        snprintf(out, cap, "%g", v);
}

/* The range of the values (positive ones on a log axis), widened when empty or flat. */
static void fit(axis *a, const series *s, size_t ns, bool use_x, double floor_at)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < ns; i++)
        for (size_t k = 0; k < s[i].n; k++) {
            double v = use_x ? s[i].x[k] : s[i].y[k];
            if (!isfinite(v) || (a->log && v <= 0))
                continue;
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
    if (floor_at > 0 && (!a->log || floor_at > 0)) {
        lo = floor_at < lo ? floor_at : lo;
        hi = floor_at > hi ? floor_at : hi;
    }
    if (!isfinite(lo)) {
        lo = a->log ? 1 : 0;
        hi = a->log ? 10 : 1;
    }
    lo = clampd(lo, a->log ? 1e-300 : -1e300, 1e300); /* no inf or nan coordinates */
    hi = clampd(hi, a->log ? 1e-300 : -1e300, 1e300);
    if (a->log) {
        lo = pow(10, floor(log10(lo)));
        hi = pow(10, ceil(log10(hi)));
        if (hi <= lo)
            hi = lo * 10;
    } else {
        if (lo > 0) /* from zero: seconds since the start, counts, milliseconds */
            lo = 0;
        if (hi <= lo)
            hi = lo + 1;
        double st = nice_step(hi - lo, 5);
        hi = ceil(hi / st) * st;
    }
    a->lo = lo;
    a->hi = hi;
}

static void svg_line(wsp_xmlw *w, double x1, double y1, double x2, double y2, const char *cls)
{
    wsp_xmlw_start(w, "line");
    if (cls)
        wsp_xmlw_attr(w, "class", cls);
    wsp_xmlw_attrf(w, "x1", "%.1f", x1);
    wsp_xmlw_attrf(w, "y1", "%.1f", y1);
    wsp_xmlw_attrf(w, "x2", "%.1f", x2);
    wsp_xmlw_attrf(w, "y2", "%.1f", y2);
    wsp_xmlw_end(w);
}

static void svg_text(wsp_xmlw *w, double x, double y, const char *anchor, const char *text)
{
    wsp_xmlw_start(w, "text");
    wsp_xmlw_attrf(w, "x", "%.1f", x);
    wsp_xmlw_attrf(w, "y", "%.1f", y);
    if (anchor)
        wsp_xmlw_attr(w, "text-anchor", anchor);
    wsp_xmlw_text(w, text);
    wsp_xmlw_end(w);
}

/* One axis with its ticks, grid lines and label. */
static void draw_axis(wsp_xmlw *w, const axis *a, bool horizontal)
{
    double x0 = ML, x1 = CHART_W - MR, y0 = CHART_H - MB, y1 = MT;
    wsp_xmlw_start(w, "g");
    wsp_xmlw_attr(w, "class", horizontal ? "axis x" : "axis y");
    wsp_xmlw_attr(w, "data-label", a->label);
    if (horizontal)
        svg_line(w, x0, y0, x1, y0, NULL);
    else
        svg_line(w, x0, y0, x0, y1, NULL);
    double ticks[16];
    size_t nt = 0;
    if (a->log) {
        for (double t = a->lo; t <= a->hi * 1.0001 && nt < 16; t *= 10)
            ticks[nt++] = t;
    } else {
        double st = nice_step(a->hi - a->lo, 5);
        for (double t = ceil(a->lo / st) * st; t <= a->hi + st * 1e-9 && nt < 16; t += st)
            ticks[nt++] = t;
    }
    for (size_t i = 0; i < nt; i++) {
        char tl[32];
        fmt_tick(ticks[i], tl, sizeof tl);
        if (horizontal) {
            double x = map(a, ticks[i], x0, x1);
            svg_line(w, x, y0, x, y0 + 4, NULL);
            svg_text(w, x, y0 + 16, "middle", tl);
        } else {
            double y = map(a, ticks[i], y0, y1);
            svg_line(w, x0 - 4, y, x0, y, NULL);
            svg_text(w, x0 - 6, y + 4, "end", tl);
        }
    }
    if (horizontal)
        svg_text(w, (x0 + x1) / 2, CHART_H - 6, "middle", a->label);
    else {
        wsp_xmlw_start(w, "text");
        wsp_xmlw_attr(w, "transform", "rotate(-90)");
        wsp_xmlw_attrf(w, "x", "%.1f", -(y0 + y1) / 2);
        wsp_xmlw_attr(w, "y", "14");
        wsp_xmlw_attr(w, "text-anchor", "middle");
        wsp_xmlw_text(w, a->label);
        wsp_xmlw_end(w);
    }
    wsp_xmlw_end(w);
}

/* An <svg> chart CHART_W wide and `height` high, with its title (what a reader hovers). */
static void svg_open_h(wsp_xmlw *w, const char *id, const char *cls, double height,
                       const char *title)
{
    wsp_xmlw_start(w, "svg");
    wsp_xmlw_attr(w, "xmlns", "http://www.w3.org/2000/svg");
    wsp_xmlw_attr(w, "id", id);
    wsp_xmlw_attr(w, "class", cls);
    wsp_xmlw_attrf(w, "viewBox", "0 0 %.0f %.0f", CHART_W, height);
    wsp_xmlw_attr(w, "role", "img");
    el(w, "title", NULL, title);
}

static void svg_open(wsp_xmlw *w, const char *id, const char *title)
{
    svg_open_h(w, id, "chart", CHART_H, title);
}

static void legend(wsp_xmlw *w, const series *s, size_t ns)
{
    wsp_xmlw_start(w, "p");
    wsp_xmlw_attr(w, "class", "legend");
    for (size_t i = 0; i < ns; i++) {
        char cls[16];
        snprintf(cls, sizeof cls, "sw s%zu", i % 5);
        el(w, "span", cls, "");
        wsp_xmlw_start(w, "span");
        wsp_xmlw_text(w, s[i].name);
        wsp_xmlw_end(w);
    }
    wsp_xmlw_end(w);
}

/* A line chart: each series a polyline (class "series sN", data-name, data-points), at most
 * HOVER_POINTS circles with the values in their <title>; dashed lines (class "floor") at
 * `mark_x` and `mark_y` when they are positive (a floor, a duration). */
static void line_chart(wsp_xmlw *w, const char *id, const char *title, axis ax, axis ay,
                       const series *s, size_t ns, double mark_x, double mark_y, const char *unit)
{
    fit(&ax, s, ns, true, mark_x);
    fit(&ay, s, ns, false, mark_y);
    el(w, "h3", NULL, title);
    svg_open(w, id, title);
    draw_axis(w, &ax, true);
    draw_axis(w, &ay, false);
    double x0 = ML, x1 = CHART_W - MR, y0 = CHART_H - MB, y1 = MT;
    if (mark_y > 0) {
        double y = map(&ay, mark_y, y0, y1);
        svg_line(w, x0, y, x1, y, "floor");
    }
    if (mark_x > 0) {
        double x = map(&ax, mark_x, x0, x1);
        svg_line(w, x, y0, x, y1, "floor");
    }
    for (size_t i = 0; i < ns; i++) {
        wsp_buf pts = WSP_BUF_INIT;
        for (size_t k = 0; k < s[i].n; k++)
            if (isfinite(s[i].y[k]) && (!ay.log || s[i].y[k] > 0))
                wsp_buf_printf(&pts, "%s%.1f,%.1f", pts.len ? " " : "", map(&ax, s[i].x[k], x0, x1),
                               map(&ay, s[i].y[k], y0, y1));
        char cls[24];
        snprintf(cls, sizeof cls, "series s%zu", i % 5);
        wsp_xmlw_start(w, "g");
        wsp_xmlw_attr(w, "class", cls);
        wsp_xmlw_attr(w, "data-name", s[i].name);
        wsp_xmlw_attrf(w, "data-points", "%zu", s[i].n);
        el(w, "title", NULL, s[i].name);
        wsp_xmlw_start(w, "polyline");
        wsp_xmlw_attr(w, "class", "series");
        wsp_xmlw_attr(w, "points", pts.p ? pts.p : "");
        wsp_xmlw_end(w);
        wsp_buf_free(&pts);
        size_t step = s[i].n > HOVER_POINTS ? (s[i].n + HOVER_POINTS - 1) / HOVER_POINTS : 1;
        for (size_t k = 0; k < s[i].n; k += step) {
            if (!isfinite(s[i].y[k]) || (ay.log && s[i].y[k] <= 0))
                continue;
            wsp_xmlw_start(w, "circle");
            wsp_xmlw_attrf(w, "cx", "%.1f", map(&ax, s[i].x[k], x0, x1));
            wsp_xmlw_attrf(w, "cy", "%.1f", map(&ay, s[i].y[k], y0, y1));
            wsp_xmlw_attr(w, "r", "2");
            elf(w, "title", NULL, "%s: %.10g %s at %.10g %s", s[i].name, s[i].y[k], unit, s[i].x[k],
                ax.label);
            wsp_xmlw_end(w);
        }
        wsp_xmlw_end(w);
    }
    wsp_xmlw_end(w); /* svg */
    legend(w, s, ns);
}

/* Horizontal bars: one per (label, value), the value in the bar's <title> and beside it. */
static void bar_chart(wsp_xmlw *w, const char *id, const char *title, const char *const *labels,
                      const double *values, size_t n)
{
    el(w, "h3", NULL, title);
    if (n == 0) {
        el(w, "p", "sub", "none");
        return;
    }
    double max = 0;
    for (size_t i = 0; i < n; i++)
        max = values[i] > max ? values[i] : max;
    double bh = 20, h = MT + n * (bh + 6) + MB;
    svg_open_h(w, id, "chart bars", h, title);
    double x0 = 220, x1 = CHART_W - 80;
    wsp_xmlw_start(w, "g");
    wsp_xmlw_attr(w, "class", "axis x");
    wsp_xmlw_attr(w, "data-label", "count");
    svg_line(w, x0, h - MB + 4, x1, h - MB + 4, NULL);
    svg_text(w, x0, h - MB + 18, "middle", "0");
    char tl[32];
    fmt_tick(max, tl, sizeof tl);
    svg_text(w, x1, h - MB + 18, "middle", tl);
    wsp_xmlw_end(w);
    wsp_xmlw_start(w, "g");
    wsp_xmlw_attr(w, "class", "axis y");
    wsp_xmlw_attr(w, "data-label", "");
    svg_line(w, x0, MT, x0, h - MB + 4, NULL);
    wsp_xmlw_end(w);
    for (size_t i = 0; i < n; i++) {
        double y = MT + i * (bh + 6), len = max > 0 ? (x1 - x0) * values[i] / max : 0;
        wsp_xmlw_start(w, "g");
        wsp_xmlw_attr(w, "class", "series s0 bar");
        wsp_xmlw_attr(w, "data-name", labels[i]);
        wsp_xmlw_attrf(w, "data-value", "%.10g", values[i]);
        elf(w, "title", NULL, "%s: %.10g", labels[i], values[i]);
        svg_text(w, x0 - 6, y + 14, "end", labels[i]);
        wsp_xmlw_start(w, "rect");
        wsp_xmlw_attrf(w, "x", "%.1f", x0);
        wsp_xmlw_attrf(w, "y", "%.1f", y);
        wsp_xmlw_attrf(w, "width", "%.1f", len > 0.5 ? len : 0.5);
        wsp_xmlw_attrf(w, "height", "%.1f", bh);
        wsp_xmlw_end(w);
        char v[32];
        snprintf(v, sizeof v, "%.10g", values[i]);
        svg_text(w, x0 + len + 6, y + 14, NULL, v);
        wsp_xmlw_end(w);
    }
    wsp_xmlw_end(w);
}

/* An object's members as bars, largest first: each member's value, or with `member` the
 * number at that key of it (audit's {"floor": {"findings": 3, ...}}); zeros left out. */
static void counts_chart(wsp_xmlw *w, const char *id, const char *title, const json_t *o,
                         const char *member)
{
    size_t n = json_object_size(o), k = 0;
    const char **labels = calloc(n ? n : 1, sizeof *labels);
    double *values = calloc(n ? n : 1, sizeof *values);
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)(uintptr_t)o, key, v)
    {
        double x = member ? num(v, member) : json_number_value(v);
        if (!labels || !values || !(x > 0))
            continue;
        size_t i = k++;
        while (i > 0 && values[i - 1] < x) { /* insertion: largest first */
            labels[i] = labels[i - 1];
            values[i] = values[i - 1];
            i--;
        }
        labels[i] = key;
        values[i] = x;
    }
    bar_chart(w, id, title, labels, values, k);
    free(labels);
    free(values);
}

/* ---- the page ---- */

static void page_open(wsp_xmlw *w, FILE *f, const char *title)
{
    wsp_xmlw_begin_html(w, f);
    wsp_xmlw_start(w, "html");
    wsp_xmlw_attr(w, "xmlns", "http://www.w3.org/1999/xhtml");
    wsp_xmlw_attr(w, "lang", "en");
    wsp_xmlw_start(w, "head");
    wsp_xmlw_start(w, "meta");
    wsp_xmlw_attr(w, "charset", "UTF-8");
    wsp_xmlw_end(w);
    wsp_xmlw_start(w, "meta");
    wsp_xmlw_attr(w, "http-equiv", "Content-Security-Policy");
    wsp_xmlw_attr(w, "content", "default-src 'none'; style-src 'unsafe-inline'; img-src data:");
    wsp_xmlw_end(w);
    wsp_xmlw_start(w, "meta");
    wsp_xmlw_attr(w, "name", "viewport");
    wsp_xmlw_attr(w, "content", "width=device-width, initial-scale=1");
    wsp_xmlw_end(w);
    wsp_xmlw_start(w, "meta");
    wsp_xmlw_attr(w, "name", "color-scheme");
    wsp_xmlw_attr(w, "content", "light dark");
    wsp_xmlw_end(w);
    el(w, "title", NULL, title);
    wsp_xmlw_start(w, "style");
    wsp_xmlw_raw(w, css);
    wsp_xmlw_end(w);
    wsp_xmlw_end(w); /* head */
    wsp_xmlw_start(w, "body");
}

/* The heading: the command, the target, the verdict badge (ok, exit code). */
static void header(wsp_xmlw *w, const json_t *r, const char *what, const char *target)
{
    wsp_xmlw_start(w, "header");
    elf(w, "h1", NULL, "wsprobe %s", what);
    if (target && *target)
        el(w, "p", "sub", target);
    const json_t *ok = json_object_get(r, "ok");
    wsp_xmlw_start(w, "p");
    wsp_xmlw_start(w, "span");
    wsp_xmlw_attr(w, "id", "verdict");
    wsp_xmlw_attr(w, "class", json_is_true(ok) ? "badge b-ok" : "badge b-bad");
    wsp_xmlw_text(w, json_is_true(ok) ? "OK" : "FAILED");
    wsp_xmlw_end(w);
    const json_t *ec = json_object_get(r, "exit_code");
    if (json_is_integer(ec)) {
        wsp_xmlw_start(w, "span");
        wsp_xmlw_attr(w, "id", "exit-code");
        wsp_xmlw_attr(w, "class", "sub");
        wsp_xmlw_textf(w, " exit %lld", (long long)json_integer_value(ec));
        wsp_xmlw_end(w);
    }
    wsp_xmlw_end(w);
    wsp_xmlw_end(w);
}

/* ---- load ---- */

static void load_series(wsp_xmlw *w, const json_t *se, bool merged)
{
    size_t n = json_array_size(se);
    double *v = calloc(n ? n * 9 : 1, sizeof *v);
    if (!v)
        return;
    double *t = v, *sent = v + n, *matched = v + 2 * n, *errors = v + 3 * n, *p50 = v + 4 * n,
           *p99 = v + 5 * n, *mx = v + 6 * n, *u50 = v + 7 * n, *u99 = v + 8 * n;
    bool unc = false;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(se, i);
        t[i] = num(e, "t");
        sent[i] = num(e, "sent");
        matched[i] = num(e, "matched");
        errors[i] = num(e, "errors");
        p50[i] = num(e, "p50_ms");
        p99[i] = num(e, "p99_ms");
        mx[i] = num(e, "max_ms");
        u50[i] = num(e, "u_p50_ms");
        u99[i] = num(e, "u_p99_ms");
        unc |= json_object_get(e, "u_p50_ms") != NULL;
    }
    axis ax = {0, 0, false, "seconds"}, ay = {0, 0, false, "per second"};
    series th[] = {{"sent", t, sent, n}, {"matched", t, matched, n}, {"errors", t, errors, n}};
    line_chart(w, "chart-throughput", "Throughput and errors per second", ax, ay, th, 3, 0, 0,
               "/s");
    axis ly = {0, 0, true, "latency ms"};
    series lat[] = {{"p50 corrected", t, p50, n},
                    {"p99 corrected", t, p99, n},
                    {"max corrected", t, mx, n},
                    {"p50 uncorrected", t, u50, n},
                    {"p99 uncorrected", t, u99, n}};
    line_chart(w, "chart-latency-time",
               merged ? "Latency over time (each second: the highest of the agents' percentiles)"
                      : "Latency over time (corrected for coordinated omission)",
               ax, ly, lat, unc ? 5 : 3, 0, 0, "ms");
    free(v);
}

/* The HdrHistogram plot: latency at each percentile, on 1/(1-p). */
static void load_percentiles(wsp_xmlw *w, const json_t *hists)
{
    static const double ps[] = {0,    25,   50,    75,    90,     95,     99,
                                99.5, 99.9, 99.95, 99.99, 99.995, 99.999, 100};
    const size_t np = sizeof ps / sizeof ps[0];
    double x[sizeof ps / sizeof ps[0]], yc[sizeof ps / sizeof ps[0]], yu[sizeof ps / sizeof ps[0]];
    wsp_hist *h = malloc(sizeof *h);
    if (!h)
        return;
    series s[2];
    size_t ns = 0;
    const char *names[] = {"latency", "latency_uncorrected"};
    double *ys[] = {yc, yu};
    for (size_t k = 0; k < 2; k++) {
        if (wsp_hist_from_json(h, json_object_get(hists, names[k])) != 0 || h->total == 0)
            continue;
        for (size_t i = 0; i < np; i++) {
            x[i] = 1.0 / (1.0 - (ps[i] < 100 ? ps[i] : 99.9999) / 100.0);
            ys[k][i] = (double)wsp_hist_percentile(h, ps[i]) / 1e6;
        }
        s[ns++] = (series){k ? "uncorrected" : "corrected", x, ys[k], np};
    }
    free(h);
    axis ax = {0, 0, true, "1/(1-percentile): 10 = p90, 100 = p99, 1000 = p99.9"},
         ay = {0, 0, true, "latency ms"};
    line_chart(w, "chart-percentiles", "Latency by percentile (HdrHistogram)", ax, ay, s, ns, 0, 0,
               "ms");
}

/* Each handshake phase's distribution: a bar from min to max, p50 to p99 drawn thicker. */
static void load_phases(wsp_xmlw *w, const json_t *ph)
{
    static const char *const phases[] = {"resolve", "connect", "tls", "upgrade", "handshake"};
    el(w, "h3", NULL, "Handshake phases (ms, log scale): min, p50-p99, max");
    axis ax = {INFINITY, 0, true, "ms"};
    for (size_t i = 0; i < 5; i++) {
        const json_t *p = json_object_get(ph, phases[i]);
        if (num(p, "count") <= 0)
            continue;
        double lo = num(p, "min") > 0 ? num(p, "min") : 1e-4, hi = num(p, "max");
        ax.lo = lo < ax.lo ? lo : ax.lo;
        ax.hi = hi > ax.hi ? hi : ax.hi;
    }
    if (!isfinite(ax.lo)) {
        el(w, "p", "sub", "no connection was timed");
        return;
    }
    ax.lo = pow(10, floor(log10(ax.lo)));
    ax.hi = pow(10, ceil(log10(ax.hi > ax.lo ? ax.hi : ax.lo * 10)));
    svg_open(w, "chart-phases", "Handshake phases");
    draw_axis(w, &ax, true);
    axis ay = {0, 5, false, "phase"};
    draw_axis(w, &ay, false);
    double x0 = ML, x1 = CHART_W - MR, row = (CHART_H - MB - MT) / 5;
    for (size_t i = 0; i < 5; i++) {
        const json_t *p = json_object_get(ph, phases[i]);
        double y = MT + row * i + row / 2;
        svg_text(w, x0 + 4, y - 8, NULL, phases[i]);
        if (num(p, "count") <= 0)
            continue;
        char cls[32];
        snprintf(cls, sizeof cls, "series s%zu", i % 5);
        wsp_xmlw_start(w, "g");
        wsp_xmlw_attr(w, "class", cls);
        wsp_xmlw_attr(w, "data-name", phases[i]);
        elf(w, "title", NULL, "%s: n=%.10g min %.10g, p50 %.10g, p99 %.10g, max %.10g ms",
            phases[i], num(p, "count"), num(p, "min"), num(p, "p50"), num(p, "p99"), num(p, "max"));
        svg_line(w, map(&ax, num(p, "min"), x0, x1), y, map(&ax, num(p, "max"), x0, x1), y,
                 "series");
        wsp_xmlw_start(w, "rect");
        double a = map(&ax, num(p, "p50"), x0, x1), b = map(&ax, num(p, "p99"), x0, x1);
        wsp_xmlw_attrf(w, "x", "%.1f", a);
        wsp_xmlw_attrf(w, "y", "%.1f", y - 5);
        wsp_xmlw_attrf(w, "width", "%.1f", b - a > 1 ? b - a : 1);
        wsp_xmlw_attr(w, "height", "10");
        wsp_xmlw_end(w);
        wsp_xmlw_end(w);
    }
    wsp_xmlw_end(w);
}

/* Gates and thresholds: name, held, measured. */
static void gates_table(wsp_xmlw *w, const json_t *gates, const char *id)
{
    static const char *const head[] = {"gate", "held", "measured", NULL};
    table_open(w, id, head);
    size_t i;
    const json_t *g;
    json_array_foreach(gates, i, g)
    {
        wsp_xmlw_start(w, "tr");
        const char *name = *str(g, "name") ? str(g, "name") : str(g, "expr");
        el(w, "td", NULL, name);
        const json_t *ok = json_object_get(g, "ok");
        td_verdict(w, json_is_true(ok) ? "true" : "false");
        char m[512];
        if (json_object_get(g, "measured"))
            value_text(json_object_get(g, "measured"), m, sizeof m);
        else
            value_text(json_object_get(g, "value"), m, sizeof m);
        el(w, "td", NULL, m);
        wsp_xmlw_end(w);
    }
    table_close(w);
}

static void load_page(wsp_xmlw *w, const json_t *r, const char *cmd)
{
    header(w, r, cmd, str(r, "url"));
    el(w, "h2", NULL, "Gates");
    gates_table(w, json_object_get(r, "gates"), "gates");
    if (json_array_size(json_object_get(r, "thresholds"))) {
        el(w, "h2", NULL, "Thresholds");
        gates_table(w, json_object_get(r, "thresholds"), "thresholds");
    }
    if (json_is_true(json_object_get(r, "interrupted")))
        el(w, "p", "badge b-warn", "interrupted (SIGINT): the figures cover the run until then");
    el(w, "h2", NULL, "Over time");
    load_series(w, json_object_get(r, "series"),
                strcmp(str(r, "series_percentiles"), "max over agents") == 0);
    el(w, "h3", NULL, "Throughput");
    kv_table(w, json_object_get(r, "throughput"), "throughput");
    el(w, "h2", NULL, "Latency");
    const json_t *lat = json_object_get(r, "latency_ms");
    el(w, "h3", NULL, "Corrected (from the intended send time)");
    kv_table(w, json_object_get(lat, "corrected"), "latency-corrected");
    el(w, "h3", NULL, "Uncorrected (from the actual send time)");
    kv_table(w, json_object_get(lat, "uncorrected"), "latency-uncorrected");
    if (json_object_get(r, "send_lateness_ms")) {
        el(w, "h3", NULL, "Send lateness (how late the sends left: the client's own delay)");
        if (json_is_true(json_object_get(r, "client_adds_latency")))
            el(w, "p", "badge b-warn",
               "p99 send lateness is over 10% of the median corrected latency: the client, not "
               "the server, is adding latency (lower --rate or add --threads or --processes)");
        kv_table(w, json_object_get(r, "send_lateness_ms"), "send-lateness");
    }
    load_percentiles(w, json_object_get(r, "histograms"));
    el(w, "h2", NULL, "Connections");
    kv_table(w, json_object_get(r, "connections"), "connections");
    load_phases(w, json_object_get(r, "phases_ms"));
    el(w, "h2", NULL, "Messages");
    kv_table(w, json_object_get(r, "messages"), "messages");
    el(w, "h2", NULL, "Failures");
    const json_t *er = json_object_get(r, "errors");
    counts_chart(w, "chart-classes", "By class", json_object_get(er, "by_class"), NULL);
    counts_chart(w, "chart-close-codes", "By close code (the server's)",
                 json_object_get(er, "close_codes"), NULL);
    counts_chart(w, "chart-http-status", "By HTTP status (refused upgrades)",
                 json_object_get(er, "http_status"), NULL);
    if (json_object_size(json_object_get(er, "examples")))
        kv_table(w, json_object_get(er, "examples"), "error-examples");
    el(w, "h2", NULL, "Configuration");
    kv_table(w, json_object_get(r, "config"), "config");
    if (json_object_get(r, "client"))
        kv_table(w, json_object_get(r, "client"), "client");
}

/* ---- hold ---- */

static void hold_page(wsp_xmlw *w, const json_t *r)
{
    header(w, r, "hold", str(r, "url"));
    el(w, "p", "summary", str(r, "summary"));
    const json_t *fi = json_object_get(r, "findings");
    if (json_array_size(fi)) {
        wsp_xmlw_start(w, "ul");
        wsp_xmlw_attr(w, "id", "findings");
        size_t i;
        const json_t *f;
        json_array_foreach(fi, i, f) el(w, "li", NULL, json_string_value(f));
        wsp_xmlw_end(w);
    }
    /* the timeline: one lane per strategy, each end a point at the age it ended */
    const json_t *tl = json_object_get(r, "timeline"), *st = json_object_get(r, "strategies");
    size_t ns = json_array_size(st), n = json_array_size(tl);
    series *s = calloc(ns ? ns : 1, sizeof *s);
    double *v = calloc(n ? 2 * n : 1, sizeof *v);
    bool *taken = calloc(n ? n : 1, sizeof *taken); /* each end drawn once, in its first lane */
    if (s && v && taken) {
        size_t used = 0;
        for (size_t k = 0; k < ns; k++) {
            const char *name = str(json_array_get(st, k), "name");
            s[k].name = name;
            s[k].x = v + used;
            s[k].y = v + n + used;
            for (size_t i = 0; i < n && used < n; i++) {
                const json_t *e = json_array_get(tl, i);
                if (taken[i] || strcmp(str(e, "strategy"), name) != 0)
                    continue;
                taken[i] = true;
                v[used] = num(e, "opened_at_s") + num(e, "lifetime_s");
                v[n + used] = num(e, "lifetime_s");
                used++;
                s[k].n++;
            }
        }
        axis ax = {0, 0, false, "seconds since the start"}, ay = {0, 0, false, "lifetime s"};
        line_chart(w, "chart-timeline",
                   "Connection ends per strategy (when, and how long each lived)", ax, ay, s, ns,
                   num(json_object_get(r, "config"), "duration_s"), 0, "s");
    }
    free(s);
    free(v);
    free(taken);
    el(w, "h2", NULL, "Strategies");
    static const char *const head[] = {"strategy", "connections", "opened", "held",
                                       "ended",    "ends",        NULL};
    table_open(w, "strategies", head);
    size_t i;
    const json_t *e;
    json_array_foreach(st, i, e)
    {
        wsp_xmlw_start(w, "tr");
        el(w, "td", NULL, str(e, "name"));
        td_value(w, json_object_get(e, "connections"));
        td_value(w, json_object_get(e, "opened"));
        td_value(w, json_object_get(e, "held"));
        td_value(w, json_object_get(e, "ended"));
        td_value(w, json_object_get(e, "ends"));
        wsp_xmlw_end(w);
    }
    table_close(w);
    el(w, "h2", NULL, "Gates");
    static const char *const gh[] = {"gate", "applies", "ok", "failed", "of", NULL};
    table_open(w, "gates", gh);
    json_array_foreach(json_object_get(r, "gates"), i, e)
    {
        wsp_xmlw_start(w, "tr");
        el(w, "td", NULL, str(e, "name"));
        td_value(w, json_object_get(e, "applies"));
        td_verdict(w, json_is_true(json_object_get(e, "ok")) ? "true" : "false");
        td_value(w, json_object_get(e, "failed"));
        td_value(w, json_object_get(e, "of"));
        wsp_xmlw_end(w);
    }
    table_close(w);
    el(w, "h2", NULL, "Every end");
    static const char *const eh[] = {"strategy",   "index", "how",     "opened at s", "lifetime s",
                                     "close code", "class", "message", NULL};
    table_open(w, "timeline", eh);
    json_array_foreach(tl, i, e)
    {
        wsp_xmlw_start(w, "tr");
        el(w, "td", NULL, str(e, "strategy"));
        td_value(w, json_object_get(e, "index"));
        el(w, "td", NULL, str(e, "how"));
        td_value(w, json_object_get(e, "opened_at_s"));
        td_value(w, json_object_get(e, "lifetime_s"));
        td_value(w, json_object_get(e, "close_code"));
        el(w, "td", NULL, str(e, "class"));
        el(w, "td", NULL, str(e, "message"));
        wsp_xmlw_end(w);
    }
    table_close(w);
    el(w, "h2", NULL, "Configuration");
    kv_table(w, json_object_get(r, "config"), "config");
}

/* ---- run and security ---- */

static void checks_page(wsp_xmlw *w, const json_t *r, const char *cmd)
{
    char target[1200];
    snprintf(target, sizeof target, "%s%s%s%s%s", str(r, "plan"),
             *str(r, "environment") ? ", " : "", str(r, "environment"), *str(r, "url") ? ": " : "",
             str(r, "url"));
    header(w, r, cmd, target);
    el(w, "h2", NULL, "Summary");
    kv_table(w, json_object_get(r, "summary"), "summary");
    el(w, "h2", NULL, "Checks");
    static const char *const head[] = {"check", "verdict", "class", "message", "ms", NULL};
    table_open(w, "checks", head);
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(r, "checks"), i, c)
    {
        wsp_xmlw_start(w, "tr");
        wsp_xmlw_attr(w, "data-id", str(c, "id"));
        el(w, "td", NULL, str(c, "id"));
        td_verdict(w, str(c, "verdict"));
        el(w, "td", NULL, str(c, "class"));
        wsp_xmlw_start(w, "td");
        wsp_xmlw_text(w, str(c, "message"));
        if (*str(c, "hint"))
            elf(w, "p", "sub", "hint: %.480s", str(c, "hint"));
        if (json_object_size(json_object_get(c, "evidence")))
            json_details(w, "evidence", json_object_get(c, "evidence"));
        wsp_xmlw_end(w);
        td_value(w, json_object_get(c, "duration_ms"));
        wsp_xmlw_end(w);
    }
    table_close(w);
}

/* ---- parity ---- */

static void parity_page(wsp_xmlw *w, const json_t *r)
{
    header(w, r, "parity", str(r, "plan"));
    const json_t *envs = json_object_get(r, "environments");
    char dr[64], un[64];
    value_text(json_object_get(r, "drift"), dr, sizeof dr);
    value_text(json_object_get(r, "unproven"), un, sizeof un);
    elf(w, "p", NULL, "%s drifting, %s unproven", dr, un);
    /* the checks whose verdict changed from the baseline, per environment */
    const json_t *regs = json_object_get(json_object_get(r, "baseline"), "regressions");
    el(w, "h2", NULL, "Check by environment");
    wsp_xmlw_start(w, "table");
    wsp_xmlw_attr(w, "id", "matrix");
    wsp_xmlw_start(w, "tbody");
    wsp_xmlw_start(w, "tr");
    el(w, "th", NULL, "check");
    size_t i, k;
    const json_t *e, *row;
    json_array_foreach(envs, i, e) el(w, "th", NULL, json_string_value(e));
    el(w, "th", NULL, "status");
    table_close(w);
    json_array_foreach(json_object_get(r, "matrix"), i, row)
    {
        const char *status = str(row, "status");
        wsp_xmlw_start(w, "tr");
        wsp_xmlw_attr(w, "data-id", str(row, "id"));
        wsp_xmlw_attr(w, "data-status", status);
        el(w, "td", NULL, str(row, "id"));
        json_array_foreach(envs, k, e)
        {
            const char *env = json_string_value(e);
            const char *v = str(json_object_get(row, "verdicts"), env ? env : "");
            bool changed = false;
            size_t g;
            const json_t *reg;
            json_array_foreach(regs, g, reg) changed |=
                strcmp(str(reg, "id"), str(row, "id")) == 0 &&
                strcmp(str(reg, "environment"), env ? env : "") == 0;
            char cls[96];
            snprintf(cls, sizeof cls, "v-%.40s%s%s", v,
                     strcmp(status, "drift") == 0 ? " drift" : "", changed ? " changed" : "");
            wsp_xmlw_start(w, "td");
            wsp_xmlw_attr(w, "class", cls);
            wsp_xmlw_attr(w, "data-env", env ? env : "");
            if (changed)
                wsp_xmlw_attr(w, "title", "changed from the baseline");
            wsp_xmlw_text(w, v);
            wsp_xmlw_end(w);
        }
        td_verdict(w, status);
        wsp_xmlw_end(w);
    }
    wsp_xmlw_end(w);
    if (regs) {
        el(w, "h2", NULL, "Against the baseline");
        el(w, "p", "sub", str(json_object_get(r, "baseline"), "file"));
        static const char *const head[] = {"environment", "check", "was", "now", NULL};
        table_open(w, "regressions", head);
        json_array_foreach(regs, i, e)
        {
            wsp_xmlw_start(w, "tr");
            el(w, "td", NULL, str(e, "environment"));
            el(w, "td", NULL, str(e, "id"));
            td_verdict(w, str(e, "was"));
            td_verdict(w, str(e, "now"));
            wsp_xmlw_end(w);
        }
        table_close(w);
    }
    el(w, "h2", NULL, "Environments");
    json_details(w, "settings", json_object_get(r, "environment_settings"));
    json_details(w, "results", json_object_get(r, "results"));
}

/* ---- audit ---- */

static void audit_page(wsp_xmlw *w, const json_t *r)
{
    header(w, r, "audit", "");
    el(w, "h2", NULL, "Summary");
    kv_table(w, json_object_get(r, "summary"), "summary");
    const json_t *rules = json_object_get(r, "rules");
    el(w, "h2", NULL, "Findings by rule");
    counts_chart(w, "chart-rules", "Findings by rule", rules, "findings");
    const json_t *d = json_object_get(r, "network_durations");
    if (d) { /* the network tests' durations against the floor */
        const json_t *edges = json_object_get(d, "upper_ms"),
                     *counts = json_object_get(d, "counts");
        size_t nb = json_array_size(edges);
        double *x = calloc(nb ? 2 * nb : 1, sizeof *x);
        if (x) {
            for (size_t i = 0; i < nb; i++) {
                x[i] = json_number_value(json_array_get(edges, i));
                x[nb + i] = json_number_value(json_array_get(counts, i));
            }
            series s = {"network tests", x, x + nb, nb};
            axis ax = {0, 0, true, "duration ms (bucket upper bound)"}, ay = {0, 0, false, "tests"};
            bool floor = json_is_number(json_object_get(d, "floor_ms"));
            line_chart(w, "chart-durations",
                       floor ? "Durations of the network tests, the strictest floor dashed"
                             : "Durations of the network tests (no floor applies to them)",
                       ax, ay, &s, 1, floor ? num(d, "floor_ms") : 0, 0, "tests");
            if (floor)
                elf(w, "p", "sub", "floor: %.10g ms (the last bucket: any longer)",
                    num(d, "floor_ms"));
        }
        free(x);
    }
    el(w, "h2", NULL, "Findings");
    static const char *const head[] = {"rule", "test", "file", "why", NULL};
    table_open(w, "findings", head);
    size_t i;
    const json_t *f;
    json_array_foreach(json_object_get(r, "findings"), i, f)
    {
        wsp_xmlw_start(w, "tr");
        el(w, "td", NULL, str(f, "rule"));
        el(w, "td", NULL, str(f, "test"));
        el(w, "td", NULL, str(f, "file"));
        el(w, "td", NULL, str(f, "message"));
        wsp_xmlw_end(w);
    }
    table_close(w);
    el(w, "h2", NULL, "Rules");
    json_details(w, "every rule", rules);
}

/* ---- entry points ---- */

static const char *const kinds[] = {"load",     "load-merge", "hold",  "run",
                                    "security", "parity",     "audit", NULL};

int wsp_html_check(const json_t *report, wsp_err *err)
{
    if (!json_is_object(report))
        return wsp_err_set(err, WSP_CLASS_USAGE, "not a wsprobe report: not a JSON object");
    const char *cmd = json_string_value(json_object_get(report, "command"));
    const json_t *sv = json_object_get(report, "schema_version");
    if (!cmd)
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "not a wsprobe report: it has no \"command\" (written by wsprobe's "
                           "--json since 0.2.0)");
    if (!json_is_integer(sv))
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "not a wsprobe report: it has no \"schema_version\"");
    if (json_integer_value(sv) != 1)
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "schema_version %lld: this wsprobe reads version 1",
                           (long long)json_integer_value(sv));
    for (size_t i = 0; kinds[i]; i++)
        if (strcmp(cmd, kinds[i]) == 0)
            return 0;
    return wsp_err_set(err, WSP_CLASS_USAGE,
                       "a report of '%.40s': HTML is drawn for load, load-merge, hold, run, "
                       "security, parity and audit",
                       cmd);
}

int wsp_html_write(FILE *f, const json_t *r, wsp_err *err)
{
    if (wsp_html_check(r, err) != 0)
        return -1;
    const char *cmd = json_string_value(json_object_get(r, "command"));
    char title[160];
    snprintf(title, sizeof title, "wsprobe %s report", cmd);
    wsp_xmlw w;
    page_open(&w, f, title);
    if (strcmp(cmd, "load") == 0 || strcmp(cmd, "load-merge") == 0)
        load_page(&w, r, cmd);
    else if (strcmp(cmd, "hold") == 0)
        hold_page(&w, r);
    else if (strcmp(cmd, "parity") == 0)
        parity_page(&w, r);
    else if (strcmp(cmd, "audit") == 0)
        audit_page(&w, r);
    else
        checks_page(&w, r, cmd);
    wsp_xmlw_start(&w, "footer");
    elf(&w, "p", "sub",
        "wsprobe %s report, schema version 1: every figure here is the JSON "
        "report's",
        cmd);
    wsp_xmlw_end(&w);
    if (wsp_xmlw_finish(&w) != 0)
        return wsp_err_set(err, WSP_CLASS_OUTPUT_FAILED, "could not write the HTML report");
    return 0;
}

int wsp_html_write_file(const char *path, const json_t *report, wsp_err *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
    int rc = wsp_html_write(m, report, err);
    if (fclose(m) != 0 && rc == 0)
        rc = wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
    if (rc == 0)
        rc = wsp_file_write("--html", path, buf, len, err);
    free(buf);
    return rc;
}
