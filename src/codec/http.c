/* http.c - see http.h. Message syntax from RFC 9112 (HTTP/1.1), field syntax from RFC 9110. */
#include "codec/http.h"
#include "util/ascii.h"

#include <string.h>

static int fail(const char **why, const char *sentence)
{
    if (why)
        *why = sentence;
    return WSP_HTTP_ERROR;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* RFC 9110 5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_"
 * / "`" / "|" / "~" / DIGIT / ALPHA */
static bool is_tchar(char c)
{
    if (is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Find the line that starts at `pos`: its content ends at *eol (before CR LF or LF) and the next
 * line starts at *next. Checks every byte as it goes, so a control byte or a cap is an error
 * even before the line is complete. Returns 0, WSP_HTTP_PARTIAL or WSP_HTTP_ERROR. */
static int next_line(const char *buf, size_t len, size_t pos, size_t *eol, size_t *next,
                     const char **why)
{
    for (size_t i = pos;; i++) {
        if (i >= WSP_HTTP_HEAD_MAX)
            return fail(why, "the head is longer than 65536 bytes (WSP_HTTP_HEAD_MAX)");
        if (i - pos > WSP_HTTP_LINE_MAX)
            return fail(why, "a line of the head is longer than 8192 bytes (WSP_HTTP_LINE_MAX)");
        if (i >= len)
            return WSP_HTTP_PARTIAL;
        unsigned char c = (unsigned char)buf[i];
        if (c == '\n') { /* RFC 9112 2.2: a bare LF may be taken as a line end */
            *eol = i;
            *next = i + 1;
            return 0;
        }
        if (c == '\r') {
            if (i + 1 >= WSP_HTTP_HEAD_MAX)
                return fail(why, "the head is longer than 65536 bytes (WSP_HTTP_HEAD_MAX)");
            if (i + 1 >= len)
                return WSP_HTTP_PARTIAL;
            if (buf[i + 1] != '\n') /* RFC 9112 2.2: a bare CR is invalid */
                return fail(why, "the head contains a bare CR (a CR not followed by LF)");
            *eol = i;
            *next = i + 2;
            return 0;
        }
        if (c == 0)
            return fail(why, "the head contains a NUL byte");
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return fail(why, "the head contains a control byte");
    }
}

/* Header lines from `pos` through the blank line. The array is written as lines are parsed;
 * *count only when the head is complete. Returns the bytes consumed from the start of buf. */
static int parse_headers(const char *buf, size_t len, size_t pos, wsp_http_header *h, size_t cap,
                         size_t *count, const char **why)
{
    size_t n = 0;
    for (;;) {
        size_t eol, next;
        int r = next_line(buf, len, pos, &eol, &next, why);
        if (r != 0)
            return r;
        if (eol == pos) {
            *count = n;
            return (int)next;
        }
        /* RFC 9112 5.2: obs-fold is refused, and so is whitespace before the first field
         * (RFC 9112 2.2) */
        if (is_ows(buf[pos]))
            return fail(why, "a header line starts with whitespace (obsolete line folding)");
        size_t i = pos;
        while (i < eol && is_tchar(buf[i]))
            i++;
        if (i < eol && is_ows(buf[i]))
            /* RFC 9112 5.1: no whitespace is allowed between the field name and colon */
            return fail(why, "a header has whitespace between its name and the colon");
        if (i == eol)
            return fail(why, "a header line has no colon");
        if (buf[i] != ':' || i == pos)
            return fail(why, "a header name is empty or has a character not allowed in a token");
        if (n >= cap)
            return fail(why, "the head has more headers than the parser was given room for");
        size_t v = i + 1, ve = eol;
        while (v < ve && is_ows(buf[v]))
            v++;
        while (ve > v && is_ows(buf[ve - 1]))
            ve--;
        h[n].name = buf + pos;
        h[n].name_len = i - pos;
        h[n].value = buf + v;
        h[n].value_len = ve - v;
        n++;
        pos = next;
    }
}

/* "HTTP/1.x" at buf[0..8): sets *minor. */
static bool parse_version(const char *p, int *minor)
{
    if (memcmp(p, "HTTP/1.", 7) != 0 || !is_digit(p[7]))
        return false;
    *minor = p[7] - '0';
    return true;
}

int wsp_http_parse_response(const char *buf, size_t len, wsp_http_response *res, const char **why)
{
    if (len == 0)
        return WSP_HTTP_PARTIAL;
    /* Fail early on a peer that does not speak HTTP (a TLS alert, a banner). */
    if (memcmp(buf, "HTTP/1.", len < 7 ? len : 7) != 0)
        return fail(why, "the response does not start with 'HTTP/1.'");
    size_t eol, next;
    int r = next_line(buf, len, 0, &eol, &next, why);
    if (r != 0)
        return r;
    /* RFC 9112 4: status-line = HTTP-version SP status-code SP [ reason-phrase ]; the SP before
     * an empty reason is often left out and is optional here. */
    int minor;
    if (eol < 8 || !parse_version(buf, &minor))
        return fail(why, "the status line does not start with an HTTP/1.x version");
    if (eol < 12 || buf[8] != ' ')
        return fail(why, "the status line is not 'HTTP/1.x NNN reason'");
    const char *st = buf + 9;
    if (!is_digit(st[0]) || st[0] == '0' || !is_digit(st[1]) || !is_digit(st[2]) ||
        (eol > 12 && buf[12] != ' '))
        return fail(why, "the status code is not three digits from 100 to 999");
    size_t rs = eol > 12 ? 13 : 12, re = eol;
    while (rs < re && is_ows(buf[rs]))
        rs++;
    while (re > rs && is_ows(buf[re - 1]))
        re--;
    size_t count;
    r = parse_headers(buf, len, next, res->headers, res->num_headers, &count, why);
    if (r < 0)
        return r;
    res->minor_version = minor;
    res->status = (st[0] - '0') * 100 + (st[1] - '0') * 10 + (st[2] - '0');
    res->reason = buf + rs;
    res->reason_len = re - rs;
    res->num_headers = count;
    return r;
}

int wsp_http_parse_request(const char *buf, size_t len, wsp_http_request *req, const char **why)
{
    if (len == 0)
        return WSP_HTTP_PARTIAL;
    size_t eol, next;
    int r = next_line(buf, len, 0, &eol, &next, why);
    if (r != 0)
        return r;
    /* RFC 9112 3: request-line = method SP request-target SP HTTP-version, single spaces */
    size_t m = 0;
    while (m < eol && is_tchar(buf[m]))
        m++;
    if (m == 0 || m == eol || buf[m] != ' ')
        return fail(why, "the request line does not start with a method token and a space");
    size_t ts = m + 1, te = ts;
    while (te < eol && buf[te] > ' ' && buf[te] < 0x7f)
        te++;
    if (te == ts || te == eol || buf[te] != ' ')
        return fail(why, "the request target is empty or has a byte that is not visible ASCII");
    int minor;
    if (eol - (te + 1) != 8 || !parse_version(buf + te + 1, &minor))
        return fail(why, "the request line does not end with an HTTP/1.x version");
    size_t count;
    r = parse_headers(buf, len, next, req->headers, req->num_headers, &count, why);
    if (r < 0)
        return r;
    req->method = buf;
    req->method_len = m;
    req->target = buf + ts;
    req->target_len = te - ts;
    req->minor_version = minor;
    req->num_headers = count;
    return r;
}

bool wsp_http_is_token(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!is_tchar(s[i]))
            return false;
    return len > 0;
}

const char *wsp_http_bad_value_byte(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return s;
    }
    return NULL;
}

size_t wsp_http_list_next(const char *s, size_t len, size_t i, char delim, size_t *es, size_t *ee)
{
    bool quoted = false;
    size_t end = i;
    for (; end < len; end++) {
        if (quoted && s[end] == '\\' && end + 1 < len)
            end++;
        else if (s[end] == '"')
            quoted = !quoted;
        else if (!quoted && s[end] == delim)
            break;
    }
    size_t a = i, b = end;
    while (a < b && (s[a] == ' ' || s[a] == '\t'))
        a++;
    while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t'))
        b--;
    *es = a;
    *ee = b;
    return end + 1;
}

bool wsp_http_token_list_ok(const char *list, const char **bad, size_t *bad_len)
{
    size_t len = strlen(list), i = 0, es, ee;
    do { /* every element, the empty one after a trailing comma too */
        i = wsp_http_list_next(list, len, i, ',', &es, &ee);
        if (!wsp_http_is_token(list + es, ee - es)) {
            *bad = list + es;
            *bad_len = ee - es;
            return false;
        }
    } while (i <= len);
    return true;
}

bool wsp_http_eq(const char *s, size_t len, const char *lit)
{
    for (size_t i = 0; i < len; i++)
        if (lit[i] == '\0' || wsp_ascii_lower(s[i]) != wsp_ascii_lower(lit[i]))
            return false;
    return lit[len] == '\0';
}

const wsp_http_header *wsp_http_find(const wsp_http_header *h, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (wsp_http_eq(h[i].name, h[i].name_len, name))
            return &h[i];
    return NULL;
}

size_t wsp_http_count(const wsp_http_header *h, size_t n, const char *name)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (wsp_http_eq(h[i].name, h[i].name_len, name))
            c++;
    return c;
}

bool wsp_http_has_token(const char *value, size_t len, const char *token)
{
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && value[end] != ',')
            end++;
        size_t s = i, e = end;
        while (s < e && is_ows(value[s]))
            s++;
        while (e > s && is_ows(value[e - 1]))
            e--;
        if (e > s && wsp_http_eq(value + s, e - s, token))
            return true;
        i = end + 1;
    }
    return false;
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

int wsp_http_basic_decode(const char *value, size_t len, char *user, size_t ucap, char *pass,
                          size_t pcap)
{
    if (len < 6 || !wsp_http_eq(value, 6, "Basic ") || ucap == 0 || pcap == 0)
        return -1;
    const char *b = value + 6;
    size_t bl = len - 6;
    while (bl && *b == ' ')
        b++, bl--;
    char dec[768];
    size_t o = 0, pad = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < bl; i++) {
        if (b[i] == '=') {
            pad++;
            continue;
        }
        int v = b64val(b[i]);
        if (v < 0 || pad || o + 1 >= sizeof dec)
            return -1; /* not base64, data after padding, or too long */
        acc = (acc << 6 | (unsigned)v) & 0xffffffu;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            dec[o++] = (char)(acc >> bits & 0xff);
        }
    }
    const char *colon = memchr(dec, ':', o);
    size_t ul = colon ? (size_t)(colon - dec) : 0, pl = colon ? o - ul - 1 : 0;
    bool ok = colon && ul < ucap && pl < pcap;
    for (size_t i = 0; ok && i < o; i++)
        ok = (unsigned char)dec[i] >= 0x20 && dec[i] != 0x7f;
    if (ok) {
        memcpy(user, dec, ul);
        user[ul] = '\0';
        memcpy(pass, colon + 1, pl);
        pass[pl] = '\0';
    }
    for (size_t i = 0; i < sizeof dec; i++) /* the password does not stay on the stack */
        ((volatile char *)dec)[i] = 0;
    return ok ? 0 : -1;
}
