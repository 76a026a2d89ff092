/* xmlw.h - the one JUnit (XML) writer of wsprobe: run, parity and security (runreport), load
 * and audit all write their JUnit reports through it. A small streaming element writer on a
 * FILE: every attribute and text passes the redactor (util/redact.h), then becomes well-formed
 * XML 1.0 (markup escaped; invalid UTF-8, surrogates, U+FFFE/FFFF and C0 controls but tab, CR
 * and LF replaced by '?'). Every write is checked: the first failure sticks, and
 * wsp_xmlw_finish reports it. Output is indented two spaces per level. */
#ifndef WSP_XMLW_H
#define WSP_XMLW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define WSP_XMLW_DEPTH 24

typedef struct wsp_xmlw {
    FILE *f;
    const char *stack[WSP_XMLW_DEPTH]; /* element names, borrowed (string literals) */
    int depth;
    bool in_start; /* the start tag is open: attributes may follow */
    bool has_text; /* the current element got text (its end tag follows on the same line) */
    bool failed;
    bool html; /* polyglot XHTML: an empty element that is not void gets its end tag */
} wsp_xmlw;

/* Begin a document on f (the XML declaration). */
void wsp_xmlw_begin(wsp_xmlw *w, FILE *f);
/* Begin a polyglot XHTML document on f (<!DOCTYPE html>, no XML declaration): read the same by
 * an HTML parser and an XML one, so an empty non-void element is written <x></x> (the void
 * ones, and SVG's, <x/>). The caller writes <html xmlns=...>. */
void wsp_xmlw_begin_html(wsp_xmlw *w, FILE *f);
/* Text written as it is, for <style>: -1 (and nothing written) when it holds '<' or '&', which
 * would read differently as HTML and as XML. */
int wsp_xmlw_raw(wsp_xmlw *w, const char *text);
void wsp_xmlw_start(wsp_xmlw *w, const char *element);
void wsp_xmlw_attr(wsp_xmlw *w, const char *name, const char *value);
void wsp_xmlw_attrf(wsp_xmlw *w, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void wsp_xmlw_text(wsp_xmlw *w, const char *text);
void wsp_xmlw_textf(wsp_xmlw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Start a <testsuites> or <testsuite> with its name and counts (the JUnit head every report
 * shares); more attributes may follow. */
void wsp_xmlw_suite(wsp_xmlw *w, const char *element, const char *name, size_t tests,
                    size_t failures, size_t errors);
/* Close the innermost element (<x/> when it has nothing inside). */
void wsp_xmlw_end(wsp_xmlw *w);
/* Begin a one-suite JUnit document on f: <testsuites name tests failures> and its
 * <testsuite name tests failures errors=0 skipped=0 time>, left open for the cases. */
void wsp_xmlw_junit_open(wsp_xmlw *w, FILE *f, const char *name, size_t tests, size_t failures,
                         double time_s);
/* <property name= value=/> */
void wsp_xmlw_property(wsp_xmlw *w, const char *name, const char *value);
/* One JUnit <testcase>: classname, name, time; a <failure message= type=> when `failure` is
 * not NULL; `out` (may be NULL) as <system-out>. */
void wsp_xmlw_testcase(wsp_xmlw *w, const char *classname, const char *name, double time_s,
                       const char *type, const char *failure, const char *out);
/* Close what is open and flush. 0, or -1 when any write failed (errno from the stream). */
int wsp_xmlw_finish(wsp_xmlw *w);

/* The same text as wsp_xmlw_text would write, for a test: a heap string (NULL on OOM). */
char *wsp_xmlw_clean(const char *s);

#endif
