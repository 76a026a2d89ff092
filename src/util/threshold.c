/* threshold.c - see threshold.h. */
#include "util/threshold.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int wsp_threshold_split(const char *flag, const char *text, wsp_threshold_expr *x, wsp_err *err)
{
    memset(x, 0, sizeof *x);
    const char *s = text;
    while (*s == ' ')
        s++;
    const char *m = s;
    while (*s && (isalnum((unsigned char)*s) || *s == '_' || *s == '.'))
        s++;
    size_t mlen = (size_t)(s - m);
    while (*s == ' ')
        s++;
    if (s[0] == '<')
        x->op = s[1] == '=' ? WSP_TH_LE : WSP_TH_LT;
    else if (s[0] == '>')
        x->op = s[1] == '=' ? WSP_TH_GE : WSP_TH_GT;
    else
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "%s '%s': expected METRIC<VALUE, like p99<50ms, errors<0.1%% or "
                           "connect_p95<20ms",
                           flag, text);
    s += s[1] == '=' ? 2 : 1;
    while (*s == ' ')
        s++;
    if (mlen == 0)
        return wsp_err_set(err, WSP_CLASS_USAGE, "%s '%s': no metric before the operator", flag,
                           text);
    if (mlen >= sizeof x->metric)
        return wsp_err_set(err, WSP_CLASS_USAGE, "%s '%s': unknown metric", flag, text);
    memcpy(x->metric, m, mlen);
    char *end;
    double v = strtod(s, &end);
    if (end == s || !isfinite(v) || v < 0)
        return wsp_err_set(err, WSP_CLASS_USAGE, "%s '%s': expected a number after the operator",
                           flag, text);
    x->number = v;
    size_t ulen = strlen(end);
    while (ulen && end[ulen - 1] == ' ')
        ulen--;
    if (ulen >= sizeof x->unit)
        return wsp_err_set(err, WSP_CLASS_USAGE, "%s '%s': unknown unit", flag, text);
    memcpy(x->unit, end, ulen);
    return 0;
}

bool wsp_threshold_holds(wsp_threshold_op op, double value, double limit)
{
    switch (op) {
    case WSP_TH_LT:
        return value < limit;
    case WSP_TH_LE:
        return value <= limit;
    case WSP_TH_GT:
        return value > limit;
    case WSP_TH_GE:
        return value >= limit;
    }
    return false;
}
