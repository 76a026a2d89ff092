/* opt.c - see opt.h. */
#include "util/opt.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/duration.h"

#define HELP_COLUMN 31

static int bad(wsp_err *err, const wsp_opt *o, const char *label, const char *arg,
               const char *expected)
{
    /* shown only when it is printable on one line, and never for a variable's name (a secret
     * given by mistake where the name goes) */
    bool show = o->type != WSP_OPT_ENV;
    for (const unsigned char *c = (const unsigned char *)arg; show && *c; c++)
        show = *c >= 0x20 && *c != 0x7f;
    if (label)
        return wsp_err_set(err, WSP_CLASS_USAGE, "%s%s%.120s%s: expected %s", label,
                           show ? " '" : "", show ? arg : "", show ? "'" : "", expected);
    return wsp_err_set(err, WSP_CLASS_USAGE, "--%s%s%.120s%s: expected %s", o->name,
                       show ? " '" : "", show ? arg : "", show ? "'" : "", expected);
}

static int parse_count(const char *arg, uint64_t *out)
{
    if (!arg[0] || arg[0] == '-' || arg[0] == '+')
        return -1;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(arg, &end, 10);
    if (errno || *end)
        return -1;
    *out = n;
    return 0;
}

int wsp_opt_parse(const wsp_opt *o, const char *label, const char *arg, wsp_opt_value *v,
                  wsp_err *err)
{
    memset(v, 0, sizeof *v);
    v->text = arg;
    if (o->type == WSP_OPT_FLAG || o->type == WSP_OPT_HEADING)
        return arg && !(o->flags & WSP_OPT_OPTIONAL)
                   ? wsp_err_set(err, WSP_CLASS_USAGE, "%s%s takes no value", label ? "" : "--",
                                 label ? label : o->name)
                   : 0;
    if (!arg)
        return (o->flags & WSP_OPT_OPTIONAL)
                   ? 0
                   : wsp_err_set(err, WSP_CLASS_USAGE, "%s%s needs a value", label ? "" : "--",
                                 label ? label : o->name);
    char what[160];
    switch (o->type) {
    case WSP_OPT_TEXT:
        if (strpbrk(arg, "\r\n"))
            return bad(err, o, label, arg, "one line of text");
        return 0;
    case WSP_OPT_PATH:
        if (!arg[0])
            return bad(err, o, label, arg, "a file's path");
        return 0;
    case WSP_OPT_ENV:
        for (size_t i = 0; arg[i]; i++)
            if (!(arg[i] == '_' || (arg[i] >= 'A' && arg[i] <= 'Z') ||
                  (arg[i] >= 'a' && arg[i] <= 'z') || (i > 0 && arg[i] >= '0' && arg[i] <= '9')))
                return bad(err, o, label, arg,
                           "the name of an environment variable (like API_TOKEN), not its value");
        if (!arg[0] || strlen(arg) > 128)
            return bad(err, o, label, arg, "the name of an environment variable (like API_TOKEN)");
        return 0;
    case WSP_OPT_DURATION:
        if (wsp_duration_parse(arg, &v->u) != 0 || v->u == 0)
            return bad(err, o, label, arg, "a duration like 250ms, 2s, 1m");
        return 0;
    case WSP_OPT_SIZE:
        if (wsp_size_parse(arg, o->max ? o->max : UINT64_MAX, &v->u) != 0 || v->u < o->min)
            return bad(err, o, label, arg,
                       "a size like 64K, 16M (bytes; K, M, G are powers of 1024)");
        return 0;
    case WSP_OPT_COUNT:
        if (parse_count(arg, &v->u) != 0 || v->u < o->min || (o->max && v->u > o->max)) {
            snprintf(what, sizeof what, "a whole number from %llu to %llu",
                     (unsigned long long)o->min, (unsigned long long)o->max);
            return bad(err, o, label, arg, what);
        }
        return 0;
    case WSP_OPT_NUMBER: {
        char *end;
        errno = 0;
        v->d = strtod(arg, &end);
        if (errno || *end || end == arg || !isfinite(v->d) || v->d <= 0)
            return bad(err, o, label, arg, "a number above 0, like 10 or 2.5");
        return 0;
    }
    case WSP_OPT_ENUM: {
        size_t used = 0;
        what[0] = '\0';
        for (size_t i = 0; o->values && o->values[i]; i++) {
            if (strcmp(arg, o->values[i]) == 0) {
                v->u = i;
                return 0;
            }
            int n = snprintf(what + used, sizeof what - used, "%s%s", i ? ", " : "one of ",
                             o->values[i]);
            if (n > 0 && (size_t)n < sizeof what - used)
                used += (size_t)n;
        }
        return bad(err, o, label, arg, what);
    }
    case WSP_OPT_HEADING:
    case WSP_OPT_FLAG:
        break;
    }
    return 0;
}

typedef bool (*match_fn)(const wsp_opt *o, const void *key);

static const wsp_opt *find(const wsp_opt *const *tables, match_fn m, const void *key)
{
    for (size_t t = 0; tables && tables[t]; t++)
        for (const wsp_opt *o = tables[t]; o->name; o++)
            if (o->type != WSP_OPT_HEADING && m(o, key))
                return o;
    return NULL;
}

static bool by_name(const wsp_opt *o, const void *k)
{
    return strcmp(o->name, k) == 0;
}

static bool by_short(const wsp_opt *o, const void *k)
{
    return o->short_name && o->short_name == *(const int *)k;
}

static bool by_id(const wsp_opt *o, const void *k)
{
    return o->id == *(const int *)k;
}

static bool by_plan_key(const wsp_opt *o, const void *k)
{
    return o->plan_key && strcmp(o->plan_key, k) == 0;
}

const wsp_opt *wsp_opt_by_name(const wsp_opt *const *tables, const char *name)
{
    return find(tables, by_name, name);
}

const wsp_opt *wsp_opt_by_short(const wsp_opt *const *tables, int c)
{
    return find(tables, by_short, &c);
}

const wsp_opt *wsp_opt_by_id(const wsp_opt *const *tables, int id)
{
    return find(tables, by_id, &id);
}

const wsp_opt *wsp_opt_by_plan_key(const wsp_opt *const *tables, const char *key)
{
    return find(tables, by_plan_key, key);
}

static bool omitted(const wsp_opt *o, const char *const *omit)
{
    for (size_t i = 0; omit && omit[i]; i++)
        if (strcmp(omit[i], o->name) == 0)
            return true;
    return false;
}

bool wsp_opt_shadowed(const wsp_opt *const *tables, const wsp_opt *o)
{
    return o->type != WSP_OPT_HEADING && wsp_opt_by_name(tables, o->name) != o;
}

void wsp_opt_help(FILE *f, const wsp_opt *const *tables, const char *const *omit)
{
    const char *heading = NULL; /* printed before the first option under it that is */
    for (size_t t = 0; tables && tables[t]; t++) {
        for (const wsp_opt *o = tables[t]; o->name; o++) {
            if (o->type == WSP_OPT_HEADING) {
                heading = o->name;
                continue;
            }
            if (!o->help || omitted(o, omit) || wsp_opt_shadowed(tables, o))
                continue;
            if (heading)
                fprintf(f, "%s\n", heading);
            heading = NULL;
            char left[96];
            int n;
            if (o->short_name)
                n = snprintf(left, sizeof left, "  -%c, --%s", o->short_name, o->name);
            else
                n = snprintf(left, sizeof left, "      --%s", o->name);
            if (o->metavar && n > 0 && (size_t)n < sizeof left)
                n += snprintf(left + n, sizeof left - (size_t)n,
                              (o->flags & WSP_OPT_OPTIONAL) ? "[=%s]" : " %s", o->metavar);
            fputs(left, f);
            const char *h = o->help;
            if (n < 0 || n >= HELP_COLUMN - 1)
                fprintf(f, "\n%*s", HELP_COLUMN, "");
            else
                fprintf(f, "%*s", HELP_COLUMN - n, "");
            while (*h) {
                size_t len = strcspn(h, "\n");
                fprintf(f, "%.*s\n", (int)len, h);
                h += len;
                if (*h == '\n' && *++h)
                    fprintf(f, "%*s", HELP_COLUMN, "");
            }
        }
    }
}
