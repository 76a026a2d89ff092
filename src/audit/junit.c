/* junit.c - see junit.h.
 *
 * One xmlTextReader per document, fed by our own read callback (byte cap, gzip). Nodes are
 * looked at through the reader's current xmlNode (names are interned in the parser's dictionary,
 * so element names compare by pointer) and dropped by the reader as it moves on: nothing of the
 * document outlives the node being read except the small state of the open suites and the
 * current case. */
#include "audit/junit.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "util/buf.h"
#include "util/files.h"
#include "audit/xmlshim.h"

const char *wsp_junit_outcome_name(wsp_junit_outcome o)
{
    switch (o) {
    case WSP_JUNIT_PASSED:
        return "passed";
    case WSP_JUNIT_FAILED:
        return "failed";
    case WSP_JUNIT_ERRORED:
        return "error";
    case WSP_JUNIT_SKIPPED:
        return "skipped";
    case WSP_JUNIT_FLAKY:
        return "flaky";
    }
    return "?";
}

const char *wsp_junit_rc_name(wsp_junit_rc rc)
{
    switch (rc) {
    case WSP_JUNIT_OK:
        return "ok";
    case WSP_JUNIT_EIO:
        return "io";
    case WSP_JUNIT_EMALFORMED:
        return "malformed";
    case WSP_JUNIT_EROOT:
        return "root";
    case WSP_JUNIT_EDTD:
        return "dtd";
    case WSP_JUNIT_ELIMIT:
        return "limit";
    case WSP_JUNIT_EABORTED:
        return "aborted";
    case WSP_JUNIT_ENOMEM:
        return "nomem";
    }
    return "?";
}

/* ---- times ---------------------------------------------------------------------------- */

int wsp_junit_parse_time(const char *s, int64_t *us_out)
{
    if (!s)
        return -1;
    {
        /* fast path: digits, optionally '.' and up to six digits, nothing else ("0.123") */
        const char *p = s;
        uint64_t whole = 0;
        int nd = 0;
        while (*p >= '0' && *p <= '9' && nd < 12)
            whole = whole * 10 + (uint64_t)(*p++ - '0'), nd++;
        if (nd && nd < 12) {
            uint64_t frac = 0, scale = 1000000;
            if (*p == '.') {
                p++;
                while (*p >= '0' && *p <= '9' && scale > 1) {
                    scale /= 10;
                    frac += (uint64_t)(*p++ - '0') * scale;
                }
            }
            if (*p == '\0') {
                *us_out = (int64_t)(whole * 1000000ull + frac);
                return 0;
            }
        }
    }
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    if (n == 0 || n > 64)
        return -1;
    if (s[0] == '+')
        s++, n--;
    if (n == 0 || s[0] == '-')
        return -1;
    /* Normalise separators into buf: "1,234.5" (grouping), "1.234,5" (grouping, decimal
     * comma), "0,25" (decimal comma), "1,234" (grouping: every group after a comma has three
     * digits and the first does not start with 0). */
    char buf[80];
    const char *lastdot = NULL, *lastcomma = NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.')
            lastdot = s + i;
        if (s[i] == ',')
            lastcomma = s + i;
    }
    char dec = '.';
    if (lastcomma && lastdot)
        dec = lastcomma > lastdot ? ',' : '.';
    else if (lastcomma) {
        /* only commas: grouping if it looks like 1,234 or 12,345,678 */
        bool grouping = true;
        size_t first = 0;
        while (first < n && s[first] != ',')
            first++;
        if (first == 0 || first > 3 || (s[0] == '0'))
            grouping = false;
        size_t i = first;
        while (grouping && i < n) {
            /* s[i] == ',' */
            size_t j = i + 1, d = 0;
            while (j < n && s[j] >= '0' && s[j] <= '9')
                j++, d++;
            if (d != 3 || (j < n && s[j] != ','))
                grouping = false;
            i = j;
        }
        dec = grouping ? '.' : ',';
    }
    size_t o = 0;
    int seen_dec = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == dec) {
            if (seen_dec++)
                return -1;
            buf[o++] = '.';
        } else if (c == ',' || c == '.') {
            continue; /* grouping separator */
        } else if ((c >= '0' && c <= '9') || c == 'e' || c == 'E' || c == '+' || c == '-') {
            buf[o++] = c;
        } else {
            return -1;
        }
    }
    buf[o] = '\0';
    /* fast path: plain fixed point, no float rounding; microsecond precision, the seventh
     * fractional digit rounds */
    uint64_t whole = 0, frac = 0, scale = 1;
    size_t i = 0;
    int digits = 0;
    while (buf[i] >= '0' && buf[i] <= '9') {
        if (whole > 100000000000ull)
            return -1;
        whole = whole * 10 + (uint64_t)(buf[i++] - '0');
        digits++;
    }
    if (buf[i] == '.') {
        i++;
        bool rounded = false;
        while (buf[i] >= '0' && buf[i] <= '9') {
            if (scale < 1000000) {
                frac = frac * 10 + (uint64_t)(buf[i] - '0');
                scale *= 10;
            } else if (!rounded) {
                if (buf[i] >= '5')
                    frac++;
                rounded = true;
            }
            i++;
            digits++;
        }
    }
    if (digits == 0)
        return -1;
    if (buf[i] == '\0') {
        uint64_t us = whole * 1000000ull + frac * (1000000ull / scale);
        if (us > (uint64_t)INT64_MAX)
            return -1;
        *us_out = (int64_t)us;
        return 0;
    }
    if (buf[i] != 'e' && buf[i] != 'E')
        return -1;
    char *end = NULL;
    errno = 0;
    double v = strtod(buf, &end);
    if (errno || !end || *end != '\0' || !(v >= 0) || v > 1e11)
        return -1;
    *us_out = (int64_t)(v * 1e6 + 0.5);
    return 0;
}

/* The longest prefix of s[0..n) of at most max bytes that does not split a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

/* ---- small growable buffers ---------------------------------------------------------- */

typedef wsp_buf sbuf;

/* Set to s[0..n) (truncated to max bytes at a UTF-8 boundary). */
static int sbuf_setn(sbuf *b, const char *s, size_t n, size_t max)
{
    wsp_buf_clear(b);
    return wsp_buf_put(b, s, utf8_cut(s, n, max));
}

/* ---- output pattern scanning -------------------------------------------------------- */

#define MAX_PATTERNS 64

/* Set-Horspool over the first m bytes of each pattern (m: the shortest), case-insensitive: a
 * window of m bytes jumps by the skip of its last byte, and is verified only when that byte
 * ends the m-byte prefix of some pattern. Output is mostly jumped over, not read byte by byte. */
typedef struct scanner {
    size_t n;
    char *pat[MAX_PATTERNS]; /* lower case */
    size_t plen[MAX_PATTERNS];
    size_t m;
    uint8_t skip[256];
    uint64_t endmask[256];   /* m == 1: by the window's (only) byte */
    uint64_t endmask2[4096]; /* m >= 2: by its last two bytes, folded (see pair_index) */
} scanner;

/* ASCII lower case by table: branch-free in the scan loop. */
static const unsigned char fold_table[256] = {
#define R8(b) b, b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7
    R8(0),   R8(8),   R8(16),  R8(24),  R8(32),  R8(40),  R8(48),  R8(56),  64,      R8(97),
    R8(105), R8(113), 121,     122,     91,      92,      93,      94,      95,      R8(96),
    R8(104), R8(112), R8(120), R8(128), R8(136), R8(144), R8(152), R8(160), R8(168), R8(176),
    R8(184), R8(192), R8(200), R8(208), R8(216), R8(224), R8(232), R8(240), R8(248),
#undef R8
};

static unsigned char fold(unsigned char c)
{
    return fold_table[c];
}

static size_t pair_index(unsigned char a, unsigned char b)
{
    return ((size_t)fold(a) * 61u + fold(b)) & 4095u;
}

static int scanner_init(scanner *sc, const char *const *pats, size_t n)
{
    memset(sc, 0, sizeof *sc);
    for (size_t i = 0; i < n && sc->n < MAX_PATTERNS; i++) {
        size_t len = pats[i] ? strlen(pats[i]) : 0;
        char *p = malloc(len + 1);
        if (!p)
            return -1;
        for (size_t k = 0; k < len; k++)
            p[k] = (char)fold((unsigned char)pats[i][k]);
        p[len] = '\0';
        sc->pat[sc->n] = p;
        sc->plen[sc->n] = len;
        sc->n++;
    }
    sc->m = 255;
    for (size_t k = 0; k < sc->n; k++)
        if (sc->plen[k] && sc->plen[k] < sc->m)
            sc->m = sc->plen[k];
    memset(sc->skip, (int)sc->m, sizeof sc->skip);
    for (size_t k = 0; k < sc->n; k++) {
        if (!sc->plen[k])
            continue; /* an empty pattern never matches */
        unsigned char e = (unsigned char)sc->pat[k][sc->m - 1];
        sc->endmask[e] |= 1ull << k;
        if (e >= 'a' && e <= 'z')
            sc->endmask[e - 32] |= 1ull << k;
        if (sc->m >= 2)
            sc->endmask2[pair_index((unsigned char)sc->pat[k][sc->m - 2], e)] |= 1ull << k;
        for (size_t j = 0; j + 1 < sc->m; j++) {
            uint8_t d = (uint8_t)(sc->m - 1 - j);
            unsigned char c = (unsigned char)sc->pat[k][j];
            if (d < sc->skip[c])
                sc->skip[c] = d;
            if (c >= 'a' && c <= 'z' && d < sc->skip[c - 32])
                sc->skip[c - 32] = d;
        }
    }
    return 0;
}

static void scanner_cleanup(scanner *sc)
{
    for (size_t i = 0; i < sc->n; i++)
        free(sc->pat[i]);
    sc->n = 0;
}

/* The first pattern found in s[0..n) (leftmost start; the first pattern listed on a tie): its
 * index and offset, or -1. */
static int scanner_find(const scanner *sc, const char *s, size_t n, size_t *at)
{
    if (sc->n == 0 || n < sc->m)
        return -1;
    const unsigned char *u = (const unsigned char *)s;
    size_t m = sc->m;
    for (size_t pos = 0; pos + m <= n;) {
        unsigned char last = u[pos + m - 1];
        uint64_t mask = m >= 2 ? sc->endmask2[pair_index(u[pos + m - 2], last)] : sc->endmask[last];
        for (; mask; mask &= mask - 1) {
            int k = __builtin_ctzll(mask);
            size_t L = sc->plen[k];
            if (L > n - pos)
                continue;
            const unsigned char *p = (const unsigned char *)sc->pat[k];
            size_t j = 0;
            while (j < L && fold(u[pos + j]) == p[j])
                j++;
            if (j == L) {
                *at = pos;
                return k;
            }
        }
        pos += sc->skip[last];
    }
    return -1;
}

/* The line around s[at], at most WSP_JUNIT_EXCERPT_MAX bytes, control bytes made spaces, cut
 * at UTF-8 boundaries. */
static int make_excerpt(sbuf *out, const char *s, size_t n, size_t at)
{
    size_t start = at, end = at;
    while (start > 0 && s[start - 1] != '\n' && at - start < 80)
        start--;
    while (start < at && ((unsigned char)s[start] & 0xC0) == 0x80)
        start++;
    while (end < n && s[end] != '\n' && end - start < WSP_JUNIT_EXCERPT_MAX)
        end++;
    if (end - start > WSP_JUNIT_EXCERPT_MAX)
        end = start + WSP_JUNIT_EXCERPT_MAX;
    /* do not end inside a multi-byte sequence */
    if (end < n)
        while (end > start && ((unsigned char)s[end] & 0xC0) == 0x80)
            end--;
    if (sbuf_setn(out, s + start, end - start, WSP_JUNIT_EXCERPT_MAX) < 0)
        return -1;
    for (size_t i = 0; i < out->len; i++)
        if ((unsigned char)out->p[i] < 0x20)
            out->p[i] = ' ';
    /* trim */
    size_t b = 0;
    while (b < out->len && out->p[b] == ' ')
        b++;
    if (b) {
        memmove(out->p, out->p + b, out->len - b + 1);
        out->len -= b;
    }
    while (out->len && out->p[out->len - 1] == ' ')
        out->p[--out->len] = '\0';
    return 0;
}

/* ---- reader state -------------------------------------------------------------------- */

/* What an open element is to us. */
typedef enum ekind {
    K_SUITES,
    K_SUITE,
    K_CASE,
    K_CASE_OUT,   /* system-out / system-err of the case */
    K_CASE_PROPS, /* <properties> of the case */
    K_CASE_PROP,  /* <property> without value= : text is the value */
    K_CASE_MSG,   /* failure/error/skipped without message= : first text is the message */
    K_OTHER,
} ekind;

typedef struct suite_frame {
    wsp_junit_suite_kind kind;
    unsigned long line;
    size_t name_off, name_len; /* in r->path */
    size_t path_len_before;    /* r->path length before this suite's name was added */
    long tests_attr;
    long cases, direct_cases, child_suites, unknown_time_cases;
    int64_t time_us, case_time_us;
} suite_frame;

#define MAX_ELEM_DEPTH 300
#define NAME_MAX_BYTES 4096
#define PROP_NAME_MAX 256
#define PROP_VALUE_MAX 1024

typedef struct names {
    const xmlChar *testsuites, *testsuite, *testcase, *failure, *error, *skipped, *system_out,
        *system_err, *properties, *property, *flaky_failure, *flaky_error, *rerun_failure,
        *rerun_error, *name, *classname, *time, *tests, *status, *result, *assertions, *message,
        *value;
} names;

typedef struct reader {
    xmlTextReaderPtr xr;
    const wsp_junit_options *opt;
    const char *file;
    scanner sc;
    names n;
    wsp_junit_error *err;
    wsp_junit_rc rc; /* first error */
    bool root_seen;

    ekind stack[MAX_ELEM_DEPTH];
    int depth;

    suite_frame suites[WSP_JUNIT_MAX_SUITE_DEPTH];
    int nsuites;
    sbuf path;      /* " / "-joined suite names */
    sbuf root_name; /* name of a root <testsuites> */

    /* current case */
    bool in_case;
    wsp_junit_case c;
    sbuf classname, name, id, status, result, message, excerpt, props_arena;
    bool message_set;
    wsp_junit_property props[WSP_JUNIT_MAX_PROPS];
    size_t prop_name_off[WSP_JUNIT_MAX_PROPS], prop_value_off[WSP_JUNIT_MAX_PROPS];
    int open_prop; /* index of the property whose text is its value, -1 none */

    /* input: read in big chunks (libxml2 asks for ~4 KB at a time) */
    int fd;
    gzFile gz;
    char *ibuf;
    size_t ilen, ipos;
    uint64_t bytes;
    bool over_cap;
    int io_errno;
    wsp_junit_stats *stats;
} reader;

static void set_err(reader *r, wsp_junit_rc rc, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void set_err(reader *r, wsp_junit_rc rc, unsigned long line, const char *fmt, ...)
{
    if (r->rc != WSP_JUNIT_OK)
        return; /* keep the first */
    r->rc = rc;
    if (!r->err)
        return;
    r->err->rc = rc;
    r->err->line = line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err->msg, sizeof r->err->msg, fmt, ap);
    va_end(ap);
}

static void on_xml_error(void *arg, xmlErrorPtr e)
{
    reader *r = arg;
    if (!e || e->level < XML_ERR_ERROR)
        return;
    char msg[400];
    snprintf(msg, sizeof msg, "%s", e->message ? e->message : "XML error");
    size_t l = strlen(msg);
    while (l && (msg[l - 1] == '\n' || msg[l - 1] == ' '))
        msg[--l] = '\0';
    unsigned long line = e->line > 0 ? (unsigned long)e->line : 0;
    if (r->over_cap) {
        set_err(r, WSP_JUNIT_ELIMIT, line, "larger than the cap of %llu bytes",
                (unsigned long long)r->opt->max_bytes);
    } else if (r->io_errno) {
        char eb[128];
        strerror_r(r->io_errno, eb, sizeof eb);
        set_err(r, WSP_JUNIT_EIO, line, "read error: %s", eb);
    } else if (strstr(msg, "huge text node") || strstr(msg, "too long") ||
               strstr(msg, "Huge input lookup") || strstr(msg, "Excessive depth") ||
               strstr(msg, "depth") || e->code == XML_ERR_NAME_TOO_LONG) {
        set_err(r, WSP_JUNIT_ELIMIT, line,
                "%s (libxml2 limit: 10 MB per text node or attribute, "
                "256 levels of nesting)",
                msg);
    } else if (e->code == XML_ERR_ENTITY_LOOP || e->code == XML_ERR_UNDECLARED_ENTITY ||
               e->code == XML_WAR_UNDECLARED_ENTITY) {
        set_err(r, WSP_JUNIT_EDTD, line, "%s", msg);
    } else if (e->code == XML_ERR_NO_MEMORY) {
        set_err(r, WSP_JUNIT_ENOMEM, line, "%s", msg);
    } else if (e->code == XML_ERR_DOCUMENT_END && !r->root_seen) {
        set_err(r, WSP_JUNIT_EMALFORMED, line, "empty document: no root element (libxml2: %s)",
                msg);
    } else if (e->code == XML_ERR_DOCUMENT_END && (r->depth > 0 || r->nsuites > 0)) {
        set_err(r, WSP_JUNIT_EMALFORMED, line,
                "the document ends inside <%s>: truncated? (libxml2: %s)",
                r->in_case   ? "testcase"
                : r->nsuites ? "testsuite"
                             : "an element",
                msg);
    } else {
        set_err(r, WSP_JUNIT_EMALFORMED, line, "%s", msg);
    }
}

static void silent_generic(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

#define IO_CHUNK (256 * 1024)

/* Fill r->ibuf from the file; 0 at the end, -1 on error (r->io_errno set). */
static ssize_t io_fill(reader *r)
{
    if (!r->ibuf) {
        r->ibuf = malloc(IO_CHUNK);
        if (!r->ibuf) {
            r->io_errno = ENOMEM;
            return -1;
        }
    }
    ssize_t k;
    if (r->gz) {
        int n = gzread(r->gz, r->ibuf, IO_CHUNK);
        if (n < 0) {
            int zerr = 0;
            gzerror(r->gz, &zerr);
            r->io_errno = zerr == Z_ERRNO && errno ? errno : EIO;
            return -1;
        }
        k = n;
    } else {
        do
            k = read(r->fd, r->ibuf, IO_CHUNK);
        while (k < 0 && errno == EINTR);
        if (k < 0) {
            r->io_errno = errno;
            return -1;
        }
    }
    r->ilen = (size_t)k;
    r->ipos = 0;
    return k;
}

static int io_read(void *ctx, char *buf, int len)
{
    reader *r = ctx;
    if (len <= 0)
        return 0;
    if (r->ipos == r->ilen) {
        ssize_t k = io_fill(r);
        if (k <= 0)
            return (int)k;
    }
    size_t n = r->ilen - r->ipos;
    if (n > (size_t)len)
        n = (size_t)len;
    memcpy(buf, r->ibuf + r->ipos, n);
    r->ipos += n;
    r->bytes += n;
    if (r->opt->max_bytes && r->bytes > r->opt->max_bytes) {
        r->over_cap = true;
        return -1;
    }
    return (int)n;
}

static int io_close(void *ctx)
{
    (void)ctx;
    return 0;
}

/* The value of an attribute node as one string without allocating when it is one text node;
 * else a heap copy in *tmp (caller frees). */
static const char *attr_value(xmlAttrPtr a, xmlChar **tmp)
{
    xmlNodePtr ch = a->children;
    if (!ch)
        return "";
    if (!ch->next && (ch->type == XML_TEXT_NODE || ch->type == XML_CDATA_SECTION_NODE))
        return ch->content ? (const char *)ch->content : "";
    *tmp = xmlNodeListGetString(a->doc, ch, 1);
    return *tmp ? (const char *)*tmp : "";
}

static long parse_long(const char *s)
{
    while (*s == ' ')
        s++;
    if (*s < '0' || *s > '9')
        return -1;
    long v = 0;
    while (*s >= '0' && *s <= '9') {
        if (v > (LONG_MAX - 9) / 10)
            return -1;
        v = v * 10 + (*s++ - '0');
    }
    while (*s == ' ')
        s++;
    /* tolerate "3.0" */
    if (*s == '.') {
        s++;
        while (*s == '0')
            s++;
    }
    return *s ? -1 : v;
}

static unsigned long node_line(xmlNodePtr node)
{
    long l = xmlGetLineNo(node);
    return l > 0 ? (unsigned long)l : 0;
}

/* ---- suites -------------------------------------------------------------------------- */

static int suite_open(reader *r, xmlNodePtr node, wsp_junit_suite_kind kind)
{
    if (r->nsuites >= WSP_JUNIT_MAX_SUITE_DEPTH) {
        set_err(r, WSP_JUNIT_ELIMIT, node_line(node), "suites nested deeper than %d levels",
                WSP_JUNIT_MAX_SUITE_DEPTH);
        return -1;
    }
    suite_frame *f = &r->suites[r->nsuites];
    memset(f, 0, sizeof *f);
    f->kind = kind;
    f->line = node_line(node);
    f->tests_attr = -1;
    f->time_us = -1;
    const char *name = "";
    xmlChar *name_tmp = NULL;
    for (xmlAttrPtr a = node->properties; a; a = a->next) {
        xmlChar *tmp = NULL;
        if (a->name == r->n.name) {
            xmlFree(name_tmp);
            name_tmp = NULL;
            name = attr_value(a, &name_tmp);
        } else if (a->name == r->n.tests) {
            f->tests_attr = parse_long(attr_value(a, &tmp));
        } else if (a->name == r->n.time) {
            int64_t us;
            if (wsp_junit_parse_time(attr_value(a, &tmp), &us) == 0)
                f->time_us = us;
        }
        xmlFree(tmp);
    }
    size_t name_len = utf8_cut(name, strlen(name), NAME_MAX_BYTES);
    f->path_len_before = r->path.len;
    int rc = 0;
    if (kind == WSP_JUNIT_SUITE) {
        if (r->path.len)
            rc |= wsp_buf_put(&r->path, " / ", 3);
        f->name_off = r->path.len;
        rc |= wsp_buf_put(&r->path, name, name_len);
        f->name_len = name_len;
    } else {
        /* the root <testsuites> is not part of the path */
        rc |= sbuf_setn(&r->root_name, name, name_len, NAME_MAX_BYTES);
    }
    xmlFree(name_tmp);
    if (rc) {
        set_err(r, WSP_JUNIT_ENOMEM, f->line, "out of memory");
        return -1;
    }
    if (r->nsuites > 0)
        r->suites[r->nsuites - 1].child_suites++;
    r->nsuites++;
    if (r->stats)
        r->stats->suites++;
    return 0;
}

static int suite_close(reader *r)
{
    suite_frame *f = &r->suites[r->nsuites - 1];
    wsp_junit_suite s;
    memset(&s, 0, sizeof s);
    s.file = r->file;
    s.line = f->line;
    s.kind = f->kind;
    s.depth = r->nsuites - 1;
    s.tests_attr = f->tests_attr;
    s.cases = f->cases;
    s.direct_cases = f->direct_cases;
    s.child_suites = f->child_suites;
    s.time_us = f->time_us;
    s.case_time_us = f->case_time_us;
    s.unknown_time_cases = f->unknown_time_cases;
    if (f->kind == WSP_JUNIT_SUITE) {
        /* this suite's name is the path's tail */
        s.name = r->path.p + f->name_off;
        s.path = r->path.p;
    } else {
        s.name = r->root_name.p ? r->root_name.p : "";
        s.path = "";
    }
    int rc = 0;
    if (r->opt->on_suite)
        rc = r->opt->on_suite(r->opt->ctx, &s);
    /* fold into the parent */
    if (r->nsuites > 1) {
        suite_frame *p = &r->suites[r->nsuites - 2];
        p->cases += f->cases;
        p->case_time_us += f->case_time_us;
        p->unknown_time_cases += f->unknown_time_cases;
    }
    r->path.len = f->path_len_before;
    if (r->path.p)
        r->path.p[r->path.len] = '\0';
    r->nsuites--;
    if (rc) {
        set_err(r, WSP_JUNIT_EABORTED, s.line, "stopped by the caller");
        return -1;
    }
    return 0;
}

/* ---- cases --------------------------------------------------------------------------- */

static int case_open(reader *r, xmlNodePtr node)
{
    r->in_case = true;
    memset(&r->c, 0, sizeof r->c);
    r->c.file = r->file;
    r->c.line = node_line(node);
    r->c.time_us = -1;
    r->c.assertions = -1;
    r->c.pattern = -1;
    wsp_buf_clear(&r->classname);
    wsp_buf_clear(&r->name);
    wsp_buf_clear(&r->status);
    wsp_buf_clear(&r->result);
    wsp_buf_clear(&r->message);
    wsp_buf_clear(&r->excerpt);
    wsp_buf_clear(&r->props_arena);
    r->message_set = false;
    r->open_prop = -1;
    int rc = 0;
    for (xmlAttrPtr a = node->properties; a; a = a->next) {
        xmlChar *tmp = NULL;
        const xmlChar *an = a->name;
        if (an == r->n.name) {
            const char *v = attr_value(a, &tmp);
            rc |= sbuf_setn(&r->name, v, strlen(v), NAME_MAX_BYTES);
        } else if (an == r->n.classname) {
            const char *v = attr_value(a, &tmp);
            rc |= sbuf_setn(&r->classname, v, strlen(v), NAME_MAX_BYTES);
        } else if (an == r->n.time) {
            int64_t us;
            if (wsp_junit_parse_time(attr_value(a, &tmp), &us) == 0)
                r->c.time_us = us;
        } else if (an == r->n.status) {
            const char *v = attr_value(a, &tmp);
            rc |= sbuf_setn(&r->status, v, strlen(v), 64);
        } else if (an == r->n.result) {
            const char *v = attr_value(a, &tmp);
            rc |= sbuf_setn(&r->result, v, strlen(v), 64);
        } else if (an == r->n.assertions) {
            r->c.assertions = parse_long(attr_value(a, &tmp));
        }
        xmlFree(tmp);
    }
    if (rc) {
        set_err(r, WSP_JUNIT_ENOMEM, r->c.line, "out of memory");
        return -1;
    }
    return 0;
}

static bool status_means_not_run(const char *s)
{
    return strcasecmp(s, "notrun") == 0 || strcasecmp(s, "disabled") == 0 ||
           strcasecmp(s, "suppressed") == 0 || strcasecmp(s, "skipped") == 0 ||
           strcasecmp(s, "ignored") == 0;
}

static int case_close(reader *r)
{
    wsp_junit_case *c = &r->c;
    r->in_case = false;
    const char *cls = r->classname.p ? r->classname.p : "";
    const char *nm = r->name.p ? r->name.p : "";
    c->classname = cls;
    c->name = nm;
    wsp_buf_clear(&r->id);
    int rc = 0;
    if (!nm[0]) {
        /* no name: the classname stands for it, or a placeholder */
        if (cls[0])
            rc |= wsp_buf_put(&r->id, cls, r->classname.len);
        else
            rc |= wsp_buf_put(&r->id, "(unnamed)", 9);
    } else {
        if (cls[0] && strcmp(cls, nm) != 0) {
            rc |= wsp_buf_put(&r->id, cls, r->classname.len);
            rc |= wsp_buf_put(&r->id, ".", 1);
        }
        rc |= wsp_buf_put(&r->id, nm, r->name.len);
    }
    if (rc) {
        set_err(r, WSP_JUNIT_ENOMEM, c->line, "out of memory");
        return -1;
    }
    c->id = r->id.p;
    c->status = r->status.p ? r->status.p : "";
    c->result = r->result.p ? r->result.p : "";
    c->message = r->message.p ? r->message.p : "";
    c->excerpt = r->excerpt.p ? r->excerpt.p : "";
    c->suite = "";
    c->suite_path = "";
    if (r->nsuites > 0) {
        suite_frame *f = &r->suites[r->nsuites - 1];
        if (f->kind == WSP_JUNIT_SUITE) {
            /* the innermost suite's name is the tail of the path */
            c->suite = r->path.p + f->name_off;
        }
        c->suite_path = r->path.p ? r->path.p : "";
    }
    /* properties: arena offsets to pointers (the arena may have moved while growing) */
    for (size_t i = 0; i < c->nprops; i++) {
        r->props[i].name = r->props_arena.p + r->prop_name_off[i];
        r->props[i].value = r->props_arena.p + r->prop_value_off[i];
    }
    c->props = r->props;

    if (c->has_error)
        c->outcome = WSP_JUNIT_ERRORED;
    else if (c->has_failure)
        c->outcome = WSP_JUNIT_FAILED;
    else if (c->has_skipped || (c->status[0] && status_means_not_run(c->status)) ||
             (c->result[0] && status_means_not_run(c->result)))
        c->outcome = WSP_JUNIT_SKIPPED;
    else if (c->flaky || c->reruns)
        c->outcome = WSP_JUNIT_FLAKY;
    else
        c->outcome = WSP_JUNIT_PASSED;

    if (r->nsuites > 0) {
        suite_frame *f = &r->suites[r->nsuites - 1];
        f->cases++;
        f->direct_cases++;
        if (c->time_us >= 0)
            f->case_time_us += c->time_us;
        else
            f->unknown_time_cases++;
    }
    if (r->stats)
        r->stats->cases++;
    if (r->opt->on_case && r->opt->on_case(r->opt->ctx, c) != 0) {
        set_err(r, WSP_JUNIT_EABORTED, c->line, "stopped by the caller");
        return -1;
    }
    return 0;
}

/* A property of the case: name and value attributes, or the text as value. */
static int case_property(reader *r, xmlNodePtr node, bool *text_value)
{
    *text_value = false;
    if (r->c.nprops >= WSP_JUNIT_MAX_PROPS)
        return 0;
    const char *name = NULL, *value = NULL;
    xmlChar *t1 = NULL, *t2 = NULL;
    for (xmlAttrPtr a = node->properties; a; a = a->next) {
        if (a->name == r->n.name)
            name = attr_value(a, &t1);
        else if (a->name == r->n.value)
            value = attr_value(a, &t2);
    }
    int rc = 0;
    if (name) {
        size_t i = r->c.nprops;
        size_t nl = utf8_cut(name, strlen(name), PROP_NAME_MAX);
        size_t vl = value ? utf8_cut(value, strlen(value), PROP_VALUE_MAX) : 0;
        r->prop_name_off[i] = r->props_arena.len;
        rc |= wsp_buf_put(&r->props_arena, name, nl);
        rc |= wsp_buf_put(&r->props_arena, "", 1); /* keep the NUL */
        r->prop_value_off[i] = r->props_arena.len;
        if (value)
            rc |= wsp_buf_put(&r->props_arena, value, vl);
        rc |= wsp_buf_put(&r->props_arena, "", 1);
        r->c.nprops++;
        if (!value) {
            *text_value = true;
            r->open_prop = (int)i;
        }
    }
    xmlFree(t1);
    xmlFree(t2);
    if (rc) {
        set_err(r, WSP_JUNIT_ENOMEM, node_line(node), "out of memory");
        return -1;
    }
    return 0;
}

/* Text inside a <property> that has no value=: append to its value (it is the arena's tail). */
static int case_property_text(reader *r, const char *s, size_t n)
{
    if (r->open_prop < 0)
        return 0;
    size_t i = (size_t)r->open_prop;
    size_t have = r->props_arena.len - 1 - r->prop_value_off[i];
    if (have >= PROP_VALUE_MAX)
        return 0;
    n = utf8_cut(s, n, PROP_VALUE_MAX - have);
    /* drop the trailing NUL, append, restore */
    r->props_arena.len--;
    int rc = wsp_buf_put(&r->props_arena, s, n);
    rc |= wsp_buf_put(&r->props_arena, "", 1);
    return rc;
}

static int case_output_text(reader *r, const char *s, size_t n)
{
    r->c.out_bytes += n;
    if (r->c.pattern >= 0)
        return 0; /* the first match is enough */
    size_t at = 0;
    int k = scanner_find(&r->sc, s, n, &at);
    if (k >= 0) {
        r->c.pattern = k;
        if (make_excerpt(&r->excerpt, s, n, at) < 0)
            return -1;
    }
    return 0;
}

static int case_message(reader *r, xmlNodePtr node, bool *need_text)
{
    *need_text = false;
    if (r->message_set)
        return 0;
    for (xmlAttrPtr a = node->properties; a; a = a->next) {
        if (a->name == r->n.message) {
            xmlChar *tmp = NULL;
            const char *v = attr_value(a, &tmp);
            int rc = sbuf_setn(&r->message, v, strlen(v), WSP_JUNIT_MSG_MAX);
            xmlFree(tmp);
            if (rc)
                return -1;
            if (r->message.len) {
                r->message_set = true;
                return 0;
            }
        }
    }
    *need_text = true;
    return 0;
}

static int case_message_text(reader *r, const char *s, size_t n)
{
    if (r->message_set)
        return 0;
    /* skip leading blanks; keep the first line only */
    while (n && (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t'))
        s++, n--;
    if (!n)
        return 0;
    const char *nl = memchr(s, '\n', n);
    if (nl)
        n = (size_t)(nl - s);
    if (sbuf_setn(&r->message, s, n, WSP_JUNIT_MSG_MAX) < 0)
        return -1;
    while (r->message.len &&
           (r->message.p[r->message.len - 1] == '\r' || r->message.p[r->message.len - 1] == ' '))
        r->message.p[--r->message.len] = '\0';
    r->message_set = true;
    return 0;
}

/* ---- the loop ------------------------------------------------------------------------ */

static void names_init(reader *r)
{
    xmlTextReaderPtr x = r->xr;
#define N(field, text) r->n.field = xmlTextReaderConstString(x, (const xmlChar *)(text))
    N(testsuites, "testsuites");
    N(testsuite, "testsuite");
    N(testcase, "testcase");
    N(failure, "failure");
    N(error, "error");
    N(skipped, "skipped");
    N(system_out, "system-out");
    N(system_err, "system-err");
    N(properties, "properties");
    N(property, "property");
    N(flaky_failure, "flakyFailure");
    N(flaky_error, "flakyError");
    N(rerun_failure, "rerunFailure");
    N(rerun_error, "rerunError");
    N(name, "name");
    N(classname, "classname");
    N(time, "time");
    N(tests, "tests");
    N(status, "status");
    N(result, "result");
    N(assertions, "assertions");
    N(message, "message");
    N(value, "value");
#undef N
}

/* An element starts. *skip: move past its subtree. Returns -1 on error. */
static int on_element(reader *r, xmlNodePtr node, bool empty, bool *skip)
{
    const xmlChar *nm = node->name;
    ekind parent = r->depth > 0 ? r->stack[r->depth - 1] : K_OTHER;
    ekind kind = K_OTHER;
    *skip = false;

    if (!r->root_seen) {
        r->root_seen = true;
        if (nm == r->n.testsuites)
            kind = K_SUITES;
        else if (nm == r->n.testsuite)
            kind = K_SUITE;
        else {
            set_err(r, WSP_JUNIT_EROOT, node_line(node),
                    "the root element is <%.100s>, expected <testsuites> or <testsuite>",
                    (const char *)nm);
            return -1;
        }
        if (suite_open(r, node, kind == K_SUITES ? WSP_JUNIT_SUITES : WSP_JUNIT_SUITE) < 0)
            return -1;
    } else if (parent == K_SUITES || parent == K_SUITE) {
        if (nm == r->n.testsuite) {
            kind = K_SUITE;
            if (suite_open(r, node, WSP_JUNIT_SUITE) < 0)
                return -1;
        } else if (nm == r->n.testcase) {
            kind = K_CASE;
            if (case_open(r, node) < 0)
                return -1;
        } else if (nm == r->n.testsuites) {
            /* a <testsuites> nested in a suite: read through it like a suite */
            kind = K_SUITE;
            if (suite_open(r, node, WSP_JUNIT_SUITE) < 0)
                return -1;
        } else {
            /* properties, system-out, system-err of a suite: not about any one test */
            *skip = !empty;
            return 0;
        }
    } else if (parent == K_CASE) {
        if (nm == r->n.system_out || nm == r->n.system_err) {
            kind = K_CASE_OUT;
        } else if (nm == r->n.properties) {
            kind = K_CASE_PROPS;
        } else if (nm == r->n.failure || nm == r->n.error || nm == r->n.skipped) {
            if (nm == r->n.failure)
                r->c.has_failure = true;
            else if (nm == r->n.error)
                r->c.has_error = true;
            else
                r->c.has_skipped = true;
            bool need_text = false;
            if (case_message(r, node, &need_text) < 0) {
                set_err(r, WSP_JUNIT_ENOMEM, node_line(node), "out of memory");
                return -1;
            }
            if (!need_text) {
                *skip = !empty;
                return 0;
            }
            kind = K_CASE_MSG;
        } else if (nm == r->n.flaky_failure || nm == r->n.flaky_error) {
            r->c.flaky++;
            *skip = !empty; /* their system-out belongs to the failed attempt */
            return 0;
        } else if (nm == r->n.rerun_failure || nm == r->n.rerun_error) {
            r->c.reruns++;
            *skip = !empty;
            return 0;
        } else {
            *skip = !empty;
            return 0;
        }
    } else if (parent == K_CASE_PROPS) {
        if (nm == r->n.property) {
            bool text_value = false;
            if (case_property(r, node, &text_value) < 0)
                return -1;
            if (!text_value) {
                *skip = !empty;
                return 0;
            }
            kind = K_CASE_PROP;
        } else {
            *skip = !empty;
            return 0;
        }
    } else {
        /* markup inside output or a message (e.g. HTML in system-out): read through it */
        kind = K_OTHER;
    }

    if (empty) {
        /* start and end at once */
        switch (kind) {
        case K_SUITES:
        case K_SUITE:
            return suite_close(r);
        case K_CASE:
            return case_close(r);
        case K_CASE_PROP:
            r->open_prop = -1;
            return 0;
        case K_CASE_OUT:
        case K_CASE_PROPS:
        case K_CASE_MSG:
        case K_OTHER:
            return 0;
        }
        return 0;
    }
    if (r->depth >= MAX_ELEM_DEPTH) {
        set_err(r, WSP_JUNIT_ELIMIT, node_line(node), "elements nested deeper than %d levels",
                MAX_ELEM_DEPTH);
        return -1;
    }
    /* markup under output/message keeps its parent's kind so its text still counts */
    if (kind == K_OTHER && (parent == K_CASE_OUT || parent == K_CASE_MSG || parent == K_CASE_PROP))
        kind = parent;
    r->stack[r->depth++] = kind;
    return 0;
}

static int on_end(reader *r, xmlNodePtr node)
{
    if (r->depth <= 0)
        return 0;
    ekind kind = r->stack[--r->depth];
    switch (kind) {
    case K_SUITES:
    case K_SUITE:
        return suite_close(r);
    case K_CASE:
        return case_close(r);
    case K_CASE_PROP:
        if (r->depth > 0 && r->stack[r->depth - 1] != K_CASE_PROP)
            r->open_prop = -1;
        return 0;
    case K_CASE_MSG:
        if (r->depth > 0 && r->stack[r->depth - 1] != K_CASE_MSG)
            r->message_set = true; /* only the first element's text */
        return 0;
    case K_CASE_OUT:
    case K_CASE_PROPS:
    case K_OTHER:
        return 0;
    }
    return 0;
}

static int on_text(reader *r, xmlNodePtr node)
{
    if (r->depth <= 0)
        return 0;
    ekind kind = r->stack[r->depth - 1];
    const char *s = node->content ? (const char *)node->content : "";
    switch (kind) {
    case K_CASE_OUT:
        return case_output_text(r, s, strlen(s));
    case K_CASE_PROP:
        return case_property_text(r, s, strlen(s));
    case K_CASE_MSG:
        return case_message_text(r, s, strlen(s));
    case K_SUITES:
    case K_SUITE:
    case K_CASE:
    case K_CASE_PROPS:
    case K_OTHER:
        return 0;
    }
    return 0;
}

static int on_doctype(reader *r, xmlNodePtr node)
{
    xmlDtdPtr dtd = (xmlDtdPtr)node;
    if (node->type != XML_DTD_NODE)
        return 0;
    if (dtd->children || dtd->entities || dtd->pentities || dtd->elements || dtd->attributes) {
        set_err(r, WSP_JUNIT_EDTD, node_line(node),
                "the DOCTYPE declares entities or other markup; JUnit XML has none, and this "
                "reader refuses them (no entity expansion, no external entities)");
        return -1;
    }
    return 0;
}

static wsp_junit_rc run(reader *r, const char *display_name)
{
    r->file = display_name;
    if (r->err) {
        memset(r->err, 0, sizeof *r->err);
        snprintf(r->err->file, sizeof r->err->file, "%s", display_name);
    }
    xmlSetGenericErrorFunc(NULL, silent_generic);
    xmlTextReaderSetStructuredErrorHandler(r->xr, on_xml_error, r);
    names_init(r);
    if (scanner_init(&r->sc, r->opt->patterns, r->opt->npatterns) < 0) {
        set_err(r, WSP_JUNIT_ENOMEM, 0, "out of memory");
        return r->rc;
    }

    int ret = xmlTextReaderRead(r->xr);
    while (ret == 1 && r->rc == WSP_JUNIT_OK) {
        int type = xmlTextReaderNodeType(r->xr);
        xmlNodePtr node = xmlTextReaderCurrentNode(r->xr);
        bool skip = false;
        int rc = 0;
        if (!node)
            break;
        switch (type) {
        case XML_READER_TYPE_ELEMENT:
            rc = on_element(r, node, xmlTextReaderIsEmptyElement(r->xr) == 1, &skip);
            break;
        case XML_READER_TYPE_END_ELEMENT:
            rc = on_end(r, node);
            break;
        case XML_READER_TYPE_TEXT:
        case XML_READER_TYPE_CDATA:
            rc = on_text(r, node);
            break;
        case XML_READER_TYPE_DOCUMENT_TYPE:
            rc = on_doctype(r, node);
            break;
        case XML_READER_TYPE_ENTITY_REFERENCE:
            set_err(r, WSP_JUNIT_EDTD, node_line(node),
                    "entity reference &%.100s; (entities are not expanded)",
                    (const char *)node->name);
            rc = -1;
            break;
        default:
            break;
        }
        if (rc < 0 && r->rc == WSP_JUNIT_OK)
            set_err(r, WSP_JUNIT_ENOMEM, node_line(node), "out of memory");
        if (r->rc != WSP_JUNIT_OK)
            break;
        ret = skip ? xmlTextReaderNext(r->xr) : xmlTextReaderRead(r->xr);
    }
    if (r->rc == WSP_JUNIT_OK && ret < 0) {
        if (r->over_cap)
            set_err(r, WSP_JUNIT_ELIMIT, 0, "larger than the cap of %llu bytes",
                    (unsigned long long)r->opt->max_bytes);
        else if (r->io_errno) {
            char eb[128];
            strerror_r(r->io_errno, eb, sizeof eb);
            set_err(r, WSP_JUNIT_EIO, 0, "read error: %s", eb);
        } else
            set_err(r, WSP_JUNIT_EMALFORMED, 0, "not well-formed XML");
    }
    if (r->rc == WSP_JUNIT_OK && !r->root_seen)
        set_err(r, WSP_JUNIT_EMALFORMED, 0, "no root element (empty document)");
    if (r->rc == WSP_JUNIT_OK && (r->nsuites > 0 || r->depth > 0))
        set_err(r, WSP_JUNIT_EMALFORMED, 0, "document ends inside an element");
    if (r->stats)
        r->stats->bytes = r->bytes;
    return r->rc;
}

static void reader_cleanup(reader *r)
{
    if (r->xr)
        xmlFreeTextReader(r->xr);
    scanner_cleanup(&r->sc);
    free(r->path.p);
    free(r->root_name.p);
    free(r->classname.p);
    free(r->name.p);
    free(r->id.p);
    free(r->status.p);
    free(r->result.p);
    free(r->message.p);
    free(r->excerpt.p);
    free(r->props_arena.p);
    free(r->ibuf);
    if (r->gz)
        gzclose(r->gz);
    else if (r->fd > 2)
        close(r->fd);
}

/* Never: NOENT (entity substitution), DTDLOAD, DTDATTR, XINCLUDE, HUGE. */
#define READER_OPTIONS                                                                             \
    (XML_PARSE_NONET | XML_PARSE_NOWARNING | XML_PARSE_NOERROR | XML_PARSE_NOBLANKS |              \
     XML_PARSE_COMPACT | XML_PARSE_BIG_LINES)

static const wsp_junit_options no_options;

wsp_junit_rc wsp_junit_read_file(const char *path, const char *name, const wsp_junit_options *opt,
                                 wsp_junit_stats *stats, wsp_junit_error *err)
{
    reader r;
    memset(&r, 0, sizeof r);
    r.opt = opt ? opt : &no_options;
    r.err = err;
    r.stats = stats;
    r.fd = -1;
    if (stats)
        memset(stats, 0, sizeof *stats);
    const char *display = name ? name : path;
    if (err) {
        memset(err, 0, sizeof *err);
        snprintf(err->file, sizeof err->file, "%s", display);
    }
    if (strcmp(path, "-") == 0) {
        r.fd = STDIN_FILENO;
    } else {
        /* a regular file only (a FIFO must not hang the open, a device never ends) */
        wsp_err fe;
        r.fd = wsp_file_open(NULL, path, NULL, &fe);
        if (r.fd < 0) {
            size_t pl = strlen(path);
            const char *why = strncmp(fe.msg, path, pl) == 0 && strncmp(fe.msg + pl, ": ", 2) == 0
                                  ? fe.msg + pl + 2 /* the file is named by err->file */
                                  : fe.msg;
            set_err(&r, WSP_JUNIT_EIO, 0, "%s", why);
            return r.rc;
        }
        unsigned char magic[2];
        ssize_t k = pread(r.fd, magic, 2, 0);
        if (k == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
            r.gz = gzdopen(r.fd, "rb");
            if (!r.gz) {
                close(r.fd);
                set_err(&r, WSP_JUNIT_ENOMEM, 0, "cannot open gzip stream");
                return r.rc;
            }
            gzbuffer(r.gz, IO_CHUNK);
        }
    }
    const char *why = NULL;
    if (wsp_xml_load(&why) != 0) {
        set_err(&r, WSP_JUNIT_EIO, 0, "%s", why);
        reader_cleanup(&r);
        return r.rc;
    }
    r.xr = xmlReaderForIO(io_read, io_close, &r, NULL, NULL, READER_OPTIONS);
    if (!r.xr) {
        set_err(&r, WSP_JUNIT_ENOMEM, 0, "cannot create the XML reader");
        reader_cleanup(&r);
        return r.rc;
    }
    wsp_junit_rc rc = run(&r, display);
    reader_cleanup(&r);
    return rc;
}

wsp_junit_rc wsp_junit_read_memory(const char *buf, size_t len, const char *name,
                                   const wsp_junit_options *opt, wsp_junit_stats *stats,
                                   wsp_junit_error *err)
{
    reader r;
    memset(&r, 0, sizeof r);
    r.opt = opt ? opt : &no_options;
    r.err = err;
    r.stats = stats;
    r.fd = -1;
    if (stats)
        memset(stats, 0, sizeof *stats);
    const char *display = name ? name : "(memory)";
    if (err) {
        memset(err, 0, sizeof *err);
        snprintf(err->file, sizeof err->file, "%s", display);
    }
    if (len > INT_MAX || (r.opt->max_bytes && len > r.opt->max_bytes)) {
        set_err(&r, WSP_JUNIT_ELIMIT, 0, "larger than the cap of %llu bytes",
                (unsigned long long)(r.opt->max_bytes ? r.opt->max_bytes : INT_MAX));
        return r.rc;
    }
    if (len == 0) {
        set_err(&r, WSP_JUNIT_EMALFORMED, 0, "empty document: no root element");
        return r.rc;
    }
    r.bytes = len;
    const char *why = NULL;
    if (wsp_xml_load(&why) != 0) {
        set_err(&r, WSP_JUNIT_EIO, 0, "%s", why);
        return r.rc;
    }
    r.xr = xmlReaderForMemory(len ? buf : "", (int)len, NULL, NULL, READER_OPTIONS);
    if (!r.xr) {
        set_err(&r, WSP_JUNIT_ENOMEM, 0, "cannot create the XML reader");
        return r.rc;
    }
    wsp_junit_rc rc = run(&r, display);
    reader_cleanup(&r);
    return rc;
}
