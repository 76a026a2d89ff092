/* args.c - see args.h. */
#include "args.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "wsp_config.h"

enum { OPT_HELP = 990, OPT_VERSION, OPT_JSON, OPT_HTML };

static const wsp_opt json_opts[] = {
    {"json", 0, WSP_OPT_PATH, OPT_JSON, "FILE",
     "--json: the JSON report on stdout instead of this view;\n--json=FILE: the JSON report to "
     "FILE as well",
     0, 0, NULL, NULL, WSP_OPT_OPTIONAL},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
};

static const wsp_opt html_opts[] = {
    {"html", 0, WSP_OPT_PATH, OPT_HTML, "FILE",
     "the report as one self-contained HTML file (charts,\nno network: docs/reports.md)", 0, 0,
     NULL, NULL, 0},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
};

static const wsp_opt common_opts[] = {
    {"help", 'h', WSP_OPT_FLAG, OPT_HELP, NULL, "this help", 0, 0, NULL, NULL, 0},
    {"version", 0, WSP_OPT_FLAG, OPT_VERSION, NULL, "the version", 0, 0, NULL, NULL, 0},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
};

#define MAX_TABLES 16 /* a command's tables, then --json, --html and the common ones */

/* The command's tables, then the common options (--json only where the command takes it). */
static size_t all_tables(const wsp_cli_spec *s, const wsp_opt **t)
{
    size_t n = 0;
    for (; s->tables && s->tables[n] && n < MAX_TABLES - 4; n++)
        t[n] = s->tables[n];
    if (s->tables && s->tables[n]) { /* never a table dropped in silence */
        fprintf(stderr, "wsprobe: %s: internal error: more than %d option tables\n", s->cmd,
                MAX_TABLES - 4);
        abort();
    }
    if (s->flags & WSP_CLI_JSON)
        t[n++] = json_opts;
    if (s->flags & WSP_CLI_HTML)
        t[n++] = html_opts;
    t[n++] = common_opts;
    t[n] = NULL;
    return n;
}

static wsp_cli_spec_fn spec_hook;
static void *spec_hook_ud;

void wsp_cli_set_spec_hook(wsp_cli_spec_fn fn, void *ud)
{
    spec_hook = fn;
    spec_hook_ud = ud;
}

static bool omitted(const wsp_cli_spec *s, const char *name);

void wsp_cli_each_option(const wsp_cli_spec *s, void (*fn)(const wsp_opt *o, void *ud), void *ud)
{
    const wsp_opt *t[MAX_TABLES];
    all_tables(s, t);
    for (size_t k = 0; t[k]; k++)
        for (const wsp_opt *o = t[k]; o->name; o++)
            if (o->type == WSP_OPT_HEADING || (!omitted(s, o->name) && !wsp_opt_shadowed(t, o)))
                fn(o, ud);
}

static bool omitted(const wsp_cli_spec *s, const char *name)
{
    for (size_t i = 0; s->omit && s->omit[i]; i++)
        if (strcmp(s->omit[i], name) == 0)
            return true;
    return false;
}

static const wsp_opt *lookup(const wsp_cli_spec *s, const wsp_opt *const *t, const char *name)
{
    if (omitted(s, name))
        return NULL;
    return wsp_opt_by_name(t, name);
}

static const wsp_cli_alias *alias_of(const wsp_cli_spec *s, const char *name, size_t len)
{
    for (size_t i = 0; s->aliases && s->aliases[i].old_name; i++)
        if (strlen(s->aliases[i].old_name) == len &&
            strncmp(s->aliases[i].old_name, name, len) == 0)
            return &s->aliases[i];
    return NULL;
}

void wsp_cli_help(const wsp_cli_spec *s, FILE *f)
{
    const wsp_opt *t[MAX_TABLES];
    all_tables(s, t);
    if (s->usage)
        fputs(s->usage, f);
    wsp_opt_help(f, t, s->omit);
    if (s->after)
        fputs(s->after, f);
}

bool wsp_cli_human(const wsp_cli_out *out)
{
    return !out->json || out->json_file;
}

static bool spaced_json_value(const char *v)
{
    if (!v)
        return false;
    if (strcmp(v, "-") == 0)
        return true;
    if (v[0] == '-' || !v[0])
        return false;
    static const char *const operands[] = {".yaml", ".yml", ".xml", ".gz"};
    size_t n = strlen(v);
    for (size_t i = 0; i < sizeof operands / sizeof operands[0]; i++) {
        size_t m = strlen(operands[i]);
        if (n >= m && strcmp(v + n - m, operands[i]) == 0)
            return false;
    }
    return true;
}

/* The rewritten arguments: argv points at them until the process ends. */
static char *kept[32];
static size_t nkept;

static void free_kept(void)
{
    for (size_t i = 0; i < nkept; i++)
        free(kept[i]);
}

static void keep(char *s)
{
    if (nkept == 0)
        atexit(free_kept);
    if (nkept < sizeof kept / sizeof kept[0])
        kept[nkept++] = s; /* past 32 rewrites the rest live until exit unfreed */
}

/* A secret typed where it must not be: refused, its value never repeated, with the options of
 * this command that take one from the environment or a file. */
static int secret_advice(const wsp_cli_spec *s, const wsp_opt *const *t, const char *a, size_t len)
{
    static const char *const ways[] = {"jwt-secret-env VAR", "jwt-secret-file FILE",
                                       "jwt-key-file PEM", "token-env VAR", "token-file FILE"};
    char list[192] = "";
    size_t used = 0;
    for (size_t i = 0; i < sizeof ways / sizeof ways[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "%.*s", (int)strcspn(ways[i], " "), ways[i]);
        if (!lookup(s, t, name))
            continue;
        int n = snprintf(list + used, sizeof list - used, "%s--%s", used ? ", " : "", ways[i]);
        if (n > 0 && (size_t)n < sizeof list - used)
            used += (size_t)n;
    }
    return wsp_cli_usage_error(s->cmd, "%.*s: secrets never go on the command line%s%s", (int)len,
                               a, used ? "; use " : "", list);
}

/* Before getopt: every long option spelled in full and known (or an old spelling, rewritten in
 * place to the new one with a warning); `--json FILE` of the old form joined. Returns 0 or 2. */
static int rewrite(const wsp_cli_spec *s, const wsp_opt *const *t, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0)
            return 0;
        if (strncmp(a, "--", 2) != 0)
            continue;
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        char name[96];
        snprintf(name, sizeof name, "%.*s", (int)(len - 2 < 90 ? len - 2 : 90), a + 2);
        const wsp_opt *o = lookup(s, t, name);
        const wsp_cli_alias *al = o ? NULL : alias_of(s, a + 2, len - 2);
        if (al) {
            o = lookup(s, t, al->new_name);
            fprintf(stderr,
                    "wsprobe: %s: warning: --%s is now --%s; the old name goes in %s "
                    "(CHANGELOG.md)\n",
                    s->cmd, al->old_name, al->new_name, al->removed_in);
            size_t n = strlen(al->new_name) + (eq ? strlen(eq) : 0) + 3;
            char *re = malloc(n);
            if (!re)
                return wsp_cli_usage_error(s->cmd, "out of memory");
            snprintf(re, n, "--%s%s", al->new_name, eq ? eq : "");
            keep(re);
            argv[i] = re;
        }
        if (!o) {
            if (wsp_cli_secret_option(a, len))
                return secret_advice(s, t, a, len);
            if (omitted(s, name))
                return wsp_cli_usage_error(s->cmd,
                                           "--%s is an option of other commands that %s has no "
                                           "use for (see wsprobe %s --help)",
                                           name, s->cmd, s->cmd);
            return wsp_cli_usage_error(s->cmd,
                                       "unknown option '%.*s' (options are spelled in full; see "
                                       "wsprobe %s --help)",
                                       (int)(len < 80 ? len : 80), a, s->cmd);
        }
        if (o->id == OPT_JSON && !eq && (s->flags & WSP_CLI_JSON_SPACED) && i + 1 < argc &&
            spaced_json_value(argv[i + 1])) {
            fprintf(stderr,
                    "wsprobe: %s: warning: '--json %s' is now '--json=%s' (--json alone writes "
                    "the report to stdout); the spaced form goes in 0.3.0 (CHANGELOG.md)\n",
                    s->cmd, argv[i + 1], argv[i + 1]);
            size_t n = strlen(argv[i + 1]) + 8;
            char *re = malloc(n);
            if (!re)
                return wsp_cli_usage_error(s->cmd, "out of memory");
            snprintf(re, n, "--json=%s", argv[i + 1]);
            keep(re);
            argv[i] = re;
            memmove(argv + i + 1, argv + i + 2, (size_t)(argc - i - 2) * sizeof *argv);
            argv[argc - 1] = NULL;
            argc--;
            continue;
        }
        if (o->type != WSP_OPT_FLAG && !(o->flags & WSP_OPT_OPTIONAL) && !eq)
            i++; /* its value, whatever it looks like */
    }
    return 0;
}

static int count_args(char **argv, int argc)
{
    int n = 0;
    while (n < argc && argv[n])
        n++;
    return n;
}

int wsp_cli_parse(const wsp_cli_spec *s, int argc, char **argv, wsp_cli_take_fn take, void *ud,
                  wsp_cli_out *out)
{
    memset(out, 0, sizeof *out);
    if (spec_hook) {
        spec_hook(s, spec_hook_ud);
        return 1;
    }
    const wsp_opt *t[MAX_TABLES];
    all_tables(s, t);
    size_t nopts = 0;
    for (size_t k = 0; t[k]; k++)
        for (const wsp_opt *o = t[k]; o->name; o++)
            nopts++;
    struct option *lo = calloc(nopts + 1, sizeof *lo);
    char *shorts = calloc(nopts * 2 + 4, 1);
    const wsp_opt **by_index = NULL;
    int rc = 2;
    if (!lo || !shorts) {
        rc = wsp_cli_usage_error(s->cmd, "out of memory");
        goto out;
    }
    /* option i of getopt's table is the i-th listed option: its code says which */
    by_index = calloc(nopts + 1, sizeof *by_index);
    size_t n = 0, ns = 0;
    if (!by_index) {
        rc = wsp_cli_usage_error(s->cmd, "out of memory");
        goto out;
    }
    shorts[ns++] = ':';
    for (size_t k = 0; t[k]; k++)
        for (const wsp_opt *o = t[k]; o->name; o++) {
            if (o->type == WSP_OPT_HEADING || omitted(s, o->name) || wsp_opt_shadowed(t, o))
                continue;
            bool flag = o->type == WSP_OPT_FLAG;
            lo[n].name = o->name;
            lo[n].has_arg = (o->flags & WSP_OPT_OPTIONAL) ? optional_argument
                            : flag                        ? no_argument
                                                          : required_argument;
            lo[n].val = 0x10000 + (int)n;
            by_index[n++] = o;
            if (o->short_name) {
                shorts[ns++] = (char)o->short_name;
                if (!flag)
                    shorts[ns++] = ':';
            }
        }
    if ((rc = rewrite(s, t, argc, argv)) != 0)
        goto out;
    argc = count_args(argv, argc);
    optind = 1;
    opterr = 0;
    int ch, li;
    rc = 0;
    while (rc == 0 && (li = -1, ch = getopt_long(argc, argv, shorts, lo, &li)) != -1) {
        const wsp_opt *o = NULL;
        if (ch >= 0x10000 && ch < 0x10000 + (int)n)
            o = by_index[ch - 0x10000];
        else if (ch == ':')
            rc = wsp_cli_usage_error(s->cmd, "%s needs a value", argv[optind - 1]);
        else if (ch == '?' && optopt >= 0x10000 && optopt < 0x10000 + (int)n)
            /* a long option without a value given one: the value is not repeated */
            rc = wsp_cli_usage_error(s->cmd, "--%s takes no value",
                                     by_index[optopt - 0x10000]->name);
        else if (ch == '?') /* a short option; its argument is not repeated */
            rc = wsp_cli_usage_error(s->cmd, "unknown option '-%c' (see wsprobe %s --help)",
                                     optopt > 32 && optopt < 127 ? optopt : '?', s->cmd);
        else
            o = wsp_opt_by_short(t, ch);
        if (rc || !o)
            break;
        if (o->id == OPT_HELP) {
            wsp_cli_help(s, stdout);
            rc = 1;
            break;
        }
        if (o->id == OPT_VERSION) {
            wsp_cli_version(stdout);
            rc = 1;
            break;
        }
        wsp_err e;
        wsp_opt_value v;
        if (wsp_opt_parse(o, NULL, optarg, &v, &e) != 0) {
            rc = wsp_cli_usage_error(s->cmd, "%s", e.msg);
            break;
        }
        if (o->id == OPT_JSON) {
            out->json = true;
            out->json_file = optarg && strcmp(optarg, "-") != 0 ? optarg : NULL;
            continue;
        }
        if (o->id == OPT_HTML) {
            out->html_file = optarg;
            continue;
        }
        if (take(ud, o, optarg, &v) != 0)
            rc = 2;
    }
    if (rc == 0) {
        out->operands = argv + optind;
        out->noperands = argc - optind;
    }
out:
    free(by_index);
    free(lo);
    free(shorts);
    return rc;
}
