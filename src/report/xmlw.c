/* xmlw.c - see xmlw.h. */
#include "report/xmlw.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/redact.h"

/* XML 1.0 allows tab, LF, CR, and code points from U+0020 except surrogates, U+FFFE, U+FFFF.
 * Anything else (and invalid UTF-8) becomes '?'. Heap; NULL on OOM. */
char *wsp_xmlw_clean(const char *s)
{
    char *sc = wsp_redact(s ? s : "", s ? strlen(s) : 0, NULL);
    if (!sc)
        return NULL;
    const unsigned char *p = (const unsigned char *)sc;
    size_t len = strlen(sc), o = 0;
    char *out = malloc(len + 1);
    if (!out) {
        free(sc);
        return NULL;
    }
    for (size_t i = 0; i < len;) {
        unsigned c = p[i];
        size_t n = 0;
        unsigned cp = 0;
        if (c < 0x80) {
            n = 1;
            cp = c;
        } else if ((c & 0xE0) == 0xC0) {
            n = 2;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 3;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 4;
            cp = c & 0x07;
        }
        bool ok = n > 0 && i + n <= len;
        for (size_t k = 1; ok && k < n; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                ok = false;
            else
                cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if (ok) {
            static const unsigned min[5] = {0, 0, 0x80, 0x800, 0x10000};
            if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE ||
                cp == 0xFFFF || (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r'))
                ok = false;
        }
        if (ok) {
            memcpy(out + o, p + i, n);
            o += n;
            i += n;
        } else {
            out[o++] = '?';
            i++;
        }
    }
    out[o] = '\0';
    free(sc);
    return out;
}

static void put(wsp_xmlw *w, const char *s)
{
    if (!w->failed && fputs(s, w->f) == EOF)
        w->failed = true;
}

static void indent(wsp_xmlw *w)
{
    put(w, "\n");
    for (int i = 0; i < w->depth; i++)
        put(w, "  ");
}

/* s, already clean, with markup escaped (for attributes and text alike). */
static void put_escaped(wsp_xmlw *w, const char *s)
{
    for (const char *p = s; *p && !w->failed; p++) {
        switch (*p) {
        case '&':
            put(w, "&amp;");
            break;
        case '<':
            put(w, "&lt;");
            break;
        case '>':
            put(w, "&gt;");
            break;
        case '"':
            put(w, "&quot;");
            break;
        default:
            if (fputc(*p, w->f) == EOF)
                w->failed = true;
        }
    }
}

static void close_start(wsp_xmlw *w)
{
    if (w->in_start) {
        put(w, ">");
        w->in_start = false;
    }
}

void wsp_xmlw_begin(wsp_xmlw *w, FILE *f)
{
    memset(w, 0, sizeof *w);
    w->f = f;
    put(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
}

void wsp_xmlw_begin_html(wsp_xmlw *w, FILE *f)
{
    memset(w, 0, sizeof *w);
    w->f = f;
    w->html = true;
    put(w, "<!DOCTYPE html>");
}

int wsp_xmlw_raw(wsp_xmlw *w, const char *text)
{
    if (strpbrk(text, "<&")) {
        w->failed = true;
        return -1;
    }
    close_start(w);
    put(w, text);
    w->has_text = true;
    return 0;
}

/* HTML's void elements (written <x/>), and SVG's, which may be empty as in XML. */
static bool may_self_close(const wsp_xmlw *w, const char *el)
{
    static const char *const voids[] = {"area",  "base", "br",   "col",    "embed", "hr", "img",
                                        "input", "link", "meta", "source", "wbr",   NULL};
    if (!w->html)
        return true;
    for (size_t i = 0; voids[i]; i++)
        if (strcmp(el, voids[i]) == 0)
            return true;
    for (int d = 0; d <= w->depth; d++) /* inside <svg> (the element itself is on the stack) */
        if (w->stack[d] && strcmp(w->stack[d], "svg") == 0 && strcmp(el, "svg") != 0)
            return true;
    return false;
}

void wsp_xmlw_start(wsp_xmlw *w, const char *element)
{
    close_start(w);
    if (w->depth >= WSP_XMLW_DEPTH) {
        w->failed = true;
        return;
    }
    indent(w);
    put(w, "<");
    put(w, element);
    w->stack[w->depth++] = element;
    w->in_start = true;
    w->has_text = false;
}

void wsp_xmlw_attr(wsp_xmlw *w, const char *name, const char *value)
{
    if (!w->in_start) {
        w->failed = true; /* an attribute after content: a bug of the caller */
        return;
    }
    char *c = wsp_xmlw_clean(value);
    if (!c) {
        w->failed = true;
        return;
    }
    put(w, " ");
    put(w, name);
    put(w, "=\"");
    put_escaped(w, c);
    put(w, "\"");
    free(c);
}

void wsp_xmlw_attrf(wsp_xmlw *w, const char *name, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    wsp_xmlw_attr(w, name, buf);
}

void wsp_xmlw_text(wsp_xmlw *w, const char *text)
{
    char *c = wsp_xmlw_clean(text);
    if (!c) {
        w->failed = true;
        return;
    }
    close_start(w);
    put_escaped(w, c);
    w->has_text = true;
    free(c);
}

void wsp_xmlw_textf(wsp_xmlw *w, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    wsp_xmlw_text(w, buf);
}

void wsp_xmlw_suite(wsp_xmlw *w, const char *element, const char *name, size_t tests,
                    size_t failures, size_t errors)
{
    wsp_xmlw_start(w, element);
    wsp_xmlw_attr(w, "name", name);
    wsp_xmlw_attrf(w, "tests", "%zu", tests);
    wsp_xmlw_attrf(w, "failures", "%zu", failures);
    wsp_xmlw_attrf(w, "errors", "%zu", errors);
}

void wsp_xmlw_end(wsp_xmlw *w)
{
    if (w->depth == 0) {
        w->failed = true;
        return;
    }
    const char *el = w->stack[--w->depth];
    if (w->in_start && !may_self_close(w, el)) {
        put(w, "></");
        put(w, el);
        put(w, ">");
        w->in_start = false;
    } else if (w->in_start) {
        put(w, "/>");
        w->in_start = false;
    } else {
        if (!w->has_text)
            indent(w);
        put(w, "</");
        put(w, el);
        put(w, ">");
    }
    w->has_text = false;
}

int wsp_xmlw_finish(wsp_xmlw *w)
{
    while (w->depth > 0)
        wsp_xmlw_end(w);
    put(w, "\n");
    if (fflush(w->f) != 0 || ferror(w->f))
        w->failed = true;
    return w->failed ? -1 : 0;
}

void wsp_xmlw_property(wsp_xmlw *w, const char *name, const char *value)
{
    wsp_xmlw_start(w, "property");
    wsp_xmlw_attr(w, "name", name);
    wsp_xmlw_attr(w, "value", value);
    wsp_xmlw_end(w);
}

void wsp_xmlw_testcase(wsp_xmlw *w, const char *classname, const char *name, double time_s,
                       const char *type, const char *failure, const char *out)
{
    wsp_xmlw_start(w, "testcase");
    wsp_xmlw_attr(w, "classname", classname);
    wsp_xmlw_attr(w, "name", name);
    wsp_xmlw_attrf(w, "time", "%.3f", time_s);
    if (failure) {
        wsp_xmlw_start(w, "failure");
        wsp_xmlw_attr(w, "message", failure);
        wsp_xmlw_attr(w, "type", type);
        wsp_xmlw_end(w);
    }
    if (out) {
        wsp_xmlw_start(w, "system-out");
        wsp_xmlw_text(w, out);
        wsp_xmlw_end(w);
    }
    wsp_xmlw_end(w);
}

void wsp_xmlw_junit_open(wsp_xmlw *w, FILE *f, const char *name, size_t tests, size_t failures,
                         double time_s)
{
    wsp_xmlw_begin(w, f);
    wsp_xmlw_start(w, "testsuites");
    wsp_xmlw_attr(w, "name", name);
    wsp_xmlw_attrf(w, "tests", "%zu", tests);
    wsp_xmlw_attrf(w, "failures", "%zu", failures);
    wsp_xmlw_suite(w, "testsuite", name, tests, failures, 0);
    wsp_xmlw_attr(w, "skipped", "0");
    wsp_xmlw_attrf(w, "time", "%.3f", time_s);
}
