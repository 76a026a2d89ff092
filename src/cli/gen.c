/* gen.c - `wsprobe _gen`: the man pages and the shell completions, written by the build from
 * the same tables `--help` is printed from (issue 20), so that no copy can drift:
 *
 *   wsprobe _gen man DIR [PLAN.yaml]   wsprobe.1, wsprobe-COMMAND.1 for each command and
 *                                      wsprobe-plan.5 (PLAN.yaml: the example it shows)
 *   wsprobe _gen bash|zsh|fish         the completion script on stdout
 *
 * Each command's options come from its own wsp_cli_spec: with a spec hook set (args.h), the
 * command's entry point hands its spec over instead of parsing, so the tables, the options a
 * command refuses and the shared --json/--html/--help/--version are exactly the parser's. The
 * exit codes come from the class table (util/error.h), the check names `security --checks`
 * completes from the catalog, the plan keys from the option tables' plan keys. The pages are
 * plain man(7) roff; `groff -ww -z -man` reports nothing on them (tests/e2e/test_install.py). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "args.h"
#include "check/plan.h"
#include "check/security/security.h"
#include "cli.h"
#include "probe/setup.h"
#include "util/buf.h"
#include "util/error.h"
#include "wsp_config.h"

/* A few examples per command: what a page shows under EXAMPLES (the options themselves come
 * from the tables; these lines are checked to parse by tests/e2e/test_install.py). */
static const struct {
    const char *cmd;
    const char *lines[4];
} examples[] = {
    {"probe",
     {"wsprobe probe wss://api.example.com/ws --token-env API_TOKEN",
      "wsprobe probe ws://127.0.0.1:8765/ws --send '{\"type\":\"ping\"}' --expect-json /type=pong",
      "wsprobe probe wss://api.example.com/ws --json > probe.json", NULL}},
    {"token",
     {"wsprobe token --jwt-secret-env APP_JWT_SECRET --jwt-claim sub=e2e-bot --jwt-ttl 5m", NULL}},
    {"audit", {"wsprobe audit reports/*.xml --junit audit.xml", NULL}},
    {"serve",
     {"wsprobe serve --self-signed /tmp/pki --jwt-secret-env APP_JWT_SECRET",
      "wsprobe serve --unsafe-no-auth --echo --listen 127.0.0.1:0 --port-file ports.json",
      "wsprobe serve --unsafe-no-auth --echo --workers 3 --max-conns-per-ip 100000", NULL}},
    {"security",
     {"wsprobe security wss://staging.example.com/ws --jwt-secret-env APP_JWT_SECRET",
      "wsprobe security ws://127.0.0.1:8765/ws --checks auth,origin --junit security.xml", NULL}},
    {"wait", {"wsprobe wait wss://api.example.com/ws --deadline 5m --success-threshold 3", NULL}},
    {"run", {"wsprobe run plan.yaml --env staging --junit run.xml", NULL}},
    {"parity", {"wsprobe parity plan.yaml --env staging --env production", NULL}},
    {"load",
     {"wsprobe load ws://127.0.0.1:8765/ws --connections 1000 --rate 20000 --message hello "
      "--echo --duration 30s",
      "wsprobe load ws://127.0.0.1:8765/ws --connections 50000 --source-ip 127.0.0.2 "
      "--source-ip 127.0.0.3 --source-ip 127.0.0.4 --source-ip 127.0.0.5",
      NULL}},
    {"load-merge",
     {"wsprobe load-merge agent-*.json --threshold 'p99<50ms' --junit load.xml", NULL}},
    {"hold", {"wsprobe hold wss://api.example.com/ws --duration 15m --ping-ladder 20s,45s", NULL}},
    {"exporter", {"wsprobe exporter --config wsprobe-exporter.yaml --listen 127.0.0.1:9699", NULL}},
    {"report", {"wsprobe report load.json --html load.html", NULL}},
};

/* ---- roff ---- */

/* Text for a roff line: backslashes, hyphens and a leading dot or quote escaped, UTF-8 as
 * \[uXXXX] (groff reads ASCII), newlines as spaces (the help's line breaks are for a terminal). */
static void roff(FILE *f, const char *s)
{
    bool start = true;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned c = *p;
        if (c == '\n') {
            fputc(' ', f);
            continue;
        }
        if (start && (c == '.' || c == '\''))
            fputs("\\&", f);
        start = false;
        if (c == '\\')
            fputs("\\e", f);
        else if (c == '"') /* (a literal quote would end a quoted macro argument) */
            fputs("\\(dq", f);
        else if (c == '-')
            fputs("\\-", f);
        else if (c < 0x80)
            fputc((int)c, f);
        else { /* a UTF-8 sequence */
            unsigned n = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
            unsigned cp = c & (0x3Fu >> n);
            for (unsigned k = 0; k < n && (p[1] & 0xC0) == 0x80; k++)
                cp = cp << 6 | (*++p & 0x3Fu);
            fprintf(f, "\\[u%04X]", cp);
        }
    }
}

static void roff_line(FILE *f, const char *s)
{
    roff(f, s);
    fputc('\n', f);
}

/* Paragraphs of a usage text: blank lines part them; lines that start with spaces (lists,
 * examples) are kept as they are written. */
static void roff_paragraphs(FILE *f, const char *text)
{
    bool in_pre = false, any = false, gap = false;
    const char *p = text;
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char line[1024];
        snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line ? n : sizeof line - 1), p);
        bool pre = line[0] == ' ';
        if (!line[0]) {
            if (in_pre)
                fputs(".fi\n", f);
            in_pre = false;
            gap = any; /* a paragraph break, written before the next text (if any) */
            any = false;
        } else {
            if (gap && !pre)
                fputs(".PP\n", f);
            gap = false;
            if (pre && !in_pre)
                fputs(".nf\n", f);
            if (!pre && in_pre)
                fputs(".fi\n", f);
            in_pre = pre;
            roff_line(f, line);
            any = true;
        }
        p += n + (e ? 1 : 0);
    }
    if (in_pre)
        fputs(".fi\n", f);
}

static void page_head(FILE *f, const char *title, int section, const char *name,
                      const char *summary)
{
    char upper[64];
    size_t i = 0;
    for (; title[i] && i + 1 < sizeof upper; i++)
        upper[i] = (char)(title[i] >= 'a' && title[i] <= 'z' ? title[i] - 32 : title[i]);
    upper[i] = '\0';
    fprintf(f, ".\\\" Generated by `wsprobe _gen man` from the option tables; do not edit.\n");
    /* the date of the source (SOURCE_DATE_EPOCH: dpkg sets it from debian/changelog), so that
     * a rebuild writes the same pages; none without it */
    char date[16] = "";
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    if (sde && *sde) {
        time_t t = (time_t)strtoll(sde, NULL, 10);
        struct tm tm;
        if (gmtime_r(&t, &tm))
            strftime(date, sizeof date, "%Y-%m-%d", &tm);
    }
    fputs(".TH ", f);
    roff(f, upper);
    fprintf(f, " %d \"%s\" \"wsprobe %s\" \"wsprobe manual\"\n", section, date, WSP_VERSION);
    /* option names, keys and URLs must not be hyphenated or stretched */
    fputs(".nh\n.ad l\n.SH NAME\n", f);
    roff(f, name);
    fputs(" \\- ", f);
    roff_line(f, summary);
}

/* "\fB--name\fR \fIMETA\fR" for an option's .TP line. */
static void option_label(FILE *f, const wsp_opt *o)
{
    if (o->short_name)
        fprintf(f, "\\fB\\-%c\\fR, ", o->short_name);
    fputs("\\fB\\-\\-", f);
    roff(f, o->name);
    fputs("\\fR", f);
    if (o->type == WSP_OPT_FLAG || !o->metavar)
        return;
    fputs((o->flags & WSP_OPT_OPTIONAL) ? "[=\\fI" : " \\fI", f);
    roff(f, o->metavar);
    fputs((o->flags & WSP_OPT_OPTIONAL) ? "\\fR]" : "\\fR", f);
}

/* What the table says besides the help: the values, the bounds, repetition, the plan key;
 * after the help, as sentences of their own. */
static void option_facts(FILE *f, const wsp_opt *o)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return;
    if (o->values) {
        fputs(o->type == WSP_OPT_ENUM ? " One of: " : " Values: ", m);
        for (size_t i = 0; o->values[i]; i++) {
            fputs(i ? ", \\fB" : "\\fB", m);
            roff(m, o->values[i]);
            fputs("\\fR", m);
        }
        fputc('.', m);
    }
    if (o->type == WSP_OPT_COUNT && o->max)
        fprintf(m, " From %llu to %llu.", (unsigned long long)o->min, (unsigned long long)o->max);
    if (o->type == WSP_OPT_ENV)
        fputs(" The value is the variable's name; the secret itself is never written on the "
              "command line.",
              m);
    if ((o->flags & WSP_OPT_REPEAT) && (!o->help || !strstr(o->help, "repeatable")))
        fputs(" Repeatable.", m);
    if (o->plan_key) {
        fputs(" In a plan: \\fB", m);
        roff(m, o->plan_key);
        fputs("\\fR (wsprobe\\-plan(5)).", m);
    }
    fclose(m);
    size_t hl = o->help ? strlen(o->help) : 0;
    if (len && hl && o->help[hl - 1] != '.')
        fputc('.', f);
    fputs(buf ? buf : "", f);
    fputc('\n', f);
    free(buf);
}

/* ---- one command's page ---- */

typedef struct gen {
    const char *mode;
    const char *dir;
    FILE *page;
    wsp_buf b;       /* a completion script being built */
    const char *cmd; /* the command being described */
    const wsp_opt *heading;
    int failed;
} gen;

static const char *summary_of(const char *cmd)
{
    for (const wsp_cli_command *c = wsp_cli_commands; c->name; c++)
        if (strcmp(c->name, cmd) == 0)
            return c->summary;
    return "";
}

static void page_option(const wsp_opt *o, void *ud)
{
    gen *g = ud;
    if (o->type == WSP_OPT_HEADING) {
        g->heading = o;
        return;
    }
    if (g->heading) { /* a heading is written once an option of its section is */
        char *h = strdup(g->heading->name);
        size_t n = h ? strlen(h) : 0;
        if (n && h[n - 1] == ':')
            h[n - 1] = '\0'; /* "TLS:" is the section "TLS" */
        fputs(".SS \"", g->page);
        roff(g->page, h ? h : g->heading->name);
        fputs("\"\n", g->page);
        free(h);
        g->heading = NULL;
    }
    fputs(".TP\n", g->page);
    option_label(g->page, o);
    fputc('\n', g->page);
    roff(g->page, o->help ? o->help : "");
    option_facts(g->page, o);
}

static FILE *open_page(gen *g, const char *name, int section)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.%d", g->dir, name, section);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "wsprobe: _gen: cannot write %s\n", path);
        g->failed = 1;
    }
    return f;
}

static void close_page(gen *g, FILE *f)
{
    if (f && (ferror(f) | fclose(f)) != 0) {
        fprintf(stderr, "wsprobe: _gen: a page could not be written\n");
        g->failed = 1;
    }
}

static void man_command(gen *g, const wsp_cli_spec *s)
{
    char name[64];
    snprintf(name, sizeof name, "wsprobe-%s", s->cmd);
    FILE *f = open_page(g, name, 1);
    if (!f)
        return;
    g->page = f;
    page_head(f, name, 1, name, summary_of(s->cmd));
    /* the usage text: its "usage:" lines are the synopsis, the rest the description */
    fputs(".SH SYNOPSIS\n", f);
    const char *u = s->usage ? s->usage : "";
    while (strncmp(u, "usage: ", 7) == 0) {
        const char *e = strchr(u, '\n');
        size_t n = e ? (size_t)(e - u) : strlen(u);
        char line[512];
        snprintf(line, sizeof line, "%.*s", (int)(n - 7 < sizeof line ? n - 7 : sizeof line - 1),
                 u + 7);
        fputs(".B ", f);
        roff_line(f, line);
        fputs(".br\n", f);
        u += n + (e ? 1 : 0);
    }
    while (*u == '\n')
        u++;
    fputs(".SH DESCRIPTION\n", f);
    roff_paragraphs(f, u);
    fputs(".SH OPTIONS\n", f);
    g->heading = NULL;
    wsp_cli_each_option(s, page_option, g);
    if (s->after) {
        fputs(".SH NOTES\n", f);
        roff_paragraphs(f, s->after);
    }
    if (s->aliases && s->aliases[0].old_name) {
        fputs(".SH DEPRECATED\nOld spellings still accepted, with a warning, until the release "
              "named:\n",
              f);
        for (const wsp_cli_alias *a = s->aliases; a->old_name; a++) {
            fputs(".TP\n\\fB\\-\\-", f);
            roff(f, a->old_name);
            fputs("\\fR\nnow \\fB\\-\\-", f);
            roff(f, a->new_name);
            fputs("\\fR; goes in ", f);
            roff(f, a->removed_in);
            fputs(".\n", f);
        }
    }
    for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++)
        if (strcmp(examples[i].cmd, s->cmd) == 0) {
            fputs(".SH EXAMPLES\n", f);
            for (size_t k = 0; examples[i].lines[k]; k++) {
                fputs(k ? ".PP\n.nf\n" : ".nf\n", f);
                roff_line(f, examples[i].lines[k]);
                fputs(".fi\n", f);
            }
        }
    fputs(".SH EXIT STATUS\n0 when every verdict held; otherwise the code of what failed, "
          "listed in\n.BR wsprobe (1).\n.SH SEE ALSO\n.BR wsprobe (1),\n.BR wsprobe\\-plan (5)\n",
          f);
    close_page(g, f);
}

static void man_top(gen *g)
{
    FILE *f = open_page(g, "wsprobe", 1);
    if (!f)
        return;
    page_head(f, "wsprobe", 1, "wsprobe", "verify WebSocket endpoints with evidence from the wire");
    fputs(".SH SYNOPSIS\n.B wsprobe\n\\fICOMMAND\\fR [\\fIoptions\\fR]\n.br\n.B wsprobe\n"
          "\\-\\-version | \\-\\-help\n.SH DESCRIPTION\n"
          "wsprobe connects to a WebSocket endpoint and says, with evidence from the wire, "
          "whether it works: every phase of a connection timed and classified (DNS, TCP, TLS, "
          "the HTTP upgrade, the conversation, the close), the failure named by a class with "
          "its exit code and a hint. Each command has its own page.\n.SH COMMANDS\n",
          f);
    for (const wsp_cli_command *c = wsp_cli_commands; c->name; c++) {
        fputs(".TP\n\\fBwsprobe\\-", f);
        roff(f, c->name);
        fputs("\\fR(1)\n", f);
        roff_line(f, c->summary);
    }
    fputs(".SH EXIT STATUS\nOne code per class of failure; a run reports the class of the "
          "first failure that decided it (JSON: \\fBclass\\fR).\n.TP\n\\fB0\\fR\nevery verdict "
          "held.\n.TP\n\\fB1\\fR\na check, gate or threshold failed (run, parity, load, "
          "audit, security).\n",
          f);
    for (int code = 2; code < 256; code++) /* by code, as a reader looks one up */
        for (int c = 0; c < WSP_CLASS_COUNT; c++) {
            if (c == (int)WSP_CLASS_OK || wsp_class_exit_code((wsp_class)c) != code)
                continue;
            fprintf(f, ".TP\n\\fB%d\\fR ", code);
            roff_line(f, wsp_class_name((wsp_class)c));
            roff_line(f, wsp_class_describe((wsp_class)c));
        }
    fputs(".SH ENVIRONMENT\n.TP\n\\fBNO_COLOR\\fR\nno colour in the human views, whatever the "
          "terminal.\n.TP\n\\fBhttp_proxy\\fR, \\fBhttps_proxy\\fR, \\fBws_proxy\\fR, "
          "\\fBwss_proxy\\fR, \\fBall_proxy\\fR, \\fBno_proxy\\fR (and upper case)\nthe proxy to "
          "use, as curl reads them; "
          "\\fB\\-\\-proxy\\fR and \\fB\\-\\-noproxy\\fR win.\n.TP\n\\fBSSL_CERT_FILE\\fR, "
          "\\fBSSL_CERT_DIR\\fR\nthe trusted certificates when \\fB\\-\\-cacert\\fR is not "
          "given (OpenSSL's own variables).\n.TP\n\\fIVAR\\fR\nthe variables named by "
          "\\fB\\-\\-token\\-env\\fR, \\fB\\-\\-jwt\\-secret\\-env\\fR, \\fB\\-\\-proxy\\-user\\-"
          "env\\fR and a plan's \\fB*_env\\fR keys hold the secrets: wsprobe never takes a "
          "secret on its command line and never prints one.\n.SH SEE ALSO\n",
          f);
    for (const wsp_cli_command *c = wsp_cli_commands; c->name; c++) {
        fputs(".BR wsprobe\\-", f);
        roff(f, c->name);
        fputs(" (1),\n", f);
    }
    fputs(".BR wsprobe\\-plan (5),\n.BR curl (1)\n", f);
    close_page(g, f);
}

/* What the keys only a plan has mean (the others are the options' help). */
static const struct {
    const char *key, *text;
} plan_only[] = {
    {"url", "the ws:// or wss:// URL (required)."},
    {"plaintext_url", "the ws:// URL for the security check transport.plaintext."},
    {"description", "free text, shown in the reports."},
    {"headers", "headers sent on every probe: a map of name to value, or a list of "
                "'Name: value' (the command line's -H)."},
    {"auth.jwt.claims", "the claims of each minted token, a map; typed values (numbers stay "
                        "numbers) (the command line's --jwt-claim)."},
    {"limits.max_message", "the largest message the endpoint accepts (security checks)."},
    {"limits.rate_limit", "messages per second per connection it allows (security checks)."},
    {"limits.max_conns_per_ip", "connections per client address it allows (security checks)."},
    {"limits.handshake_timeout", "how long it waits for a request (security checks)."},
    {"limits.idle_timeout", "how long it keeps a silent connection (security checks)."},
    {"marker.send", "a message only an accepted, processed request answers."},
    {"marker.expect", "how that answer is recognised (json:, text: or regex:)."},
};

static void plan_key(const char *path, void *ud)
{
    FILE *f = ud;
    const wsp_opt *o = wsp_opt_by_plan_key(wsp_probe_opt_tables, path);
    fputs(".TP\n\\fB", f);
    roff(f, path);
    fputs("\\fR", f);
    if (o && o->metavar && o->type != WSP_OPT_FLAG) {
        fputs(" \\fI", f);
        roff(f, o->metavar);
        fputs("\\fR", f);
    }
    fputc('\n', f);
    if (o) {
        roff(f, o->help ? o->help : "");
        fputs(" (the command line's \\fB\\-\\-", f);
        roff(f, o->name);
        fputs("\\fR).\n", f);
        return;
    }
    for (size_t i = 0; i < sizeof plan_only / sizeof plan_only[0]; i++)
        if (strcmp(plan_only[i].key, path) == 0) {
            roff_line(f, plan_only[i].text);
            return;
        }
    roff_line(f, "see the plans guide (docs/plans.md in /usr/share/doc/wsprobe).");
}

static void man_plan(gen *g, const char *example)
{
    FILE *f = open_page(g, "wsprobe-plan", 5);
    if (!f)
        return;
    page_head(f, "wsprobe-plan", 5, "wsprobe-plan",
              "verification plans for wsprobe run, parity and wait");
    fputs(".SH SYNOPSIS\n.nf\nname: NAME\nenvironments:\n  ENV: {url: URL, KEY: VALUE ...}\n"
          "checks:\n  \\- KIND\n  \\- KIND: PARAMETERS\n.fi\n.SH DESCRIPTION\nA plan is a YAML "
          "file that names environments (where to connect, with what credential) and checks "
          "(what must hold).\n.BR wsprobe\\-run (1)\nruns its checks against one environment,\n"
          ".BR wsprobe\\-parity (1)\nagainst several and compares them. A key means what the "
          "command\\-line option of the same name means, and is checked the same way; an "
          "unknown key or a bad value is an error with its line and column.\n"
          ".SH ENVIRONMENT KEYS\nEach key of an environment, with its path "
          "(\\fBtls.cacert\\fR is \\fBcacert\\fR under \\fBtls\\fR):\n",
          f);
    wsp_plan_each_env_key(plan_key, f);
    fputs(".SH CHECKS\nEach entry of \\fBchecks\\fR is one of these kinds, alone or with its "
          "parameters (wsprobe's docs/plans.md has each one's keys):\n.RS\n",
          f);
    const char *const *kinds = wsp_plan_check_kinds();
    for (size_t i = 0; kinds[i]; i++) {
        fputs(i ? ",\n\\fB" : "\\fB", f);
        roff(f, kinds[i]);
        fputs("\\fR", f);
    }
    fputs("\n.RE\n", f);
    if (example) {
        FILE *e = fopen(example, "r");
        if (e) {
            fputs(".SH EXAMPLE\n.nf\n", f);
            char line[1024];
            while (fgets(line, sizeof line, e)) {
                line[strcspn(line, "\n")] = '\0';
                roff_line(f, line);
            }
            fclose(e);
            fputs(".fi\n", f);
        } else {
            fprintf(stderr, "wsprobe: _gen: cannot read %s\n", example);
            g->failed = 1;
        }
    }
    fputs(".SH SEE ALSO\n.BR wsprobe (1),\n.BR wsprobe\\-run (1),\n.BR wsprobe\\-parity (1),\n"
          ".BR wsprobe\\-wait (1)\n",
          f);
    close_page(g, f);
}

/* ---- completions ---- */

static bool takes_value(const wsp_opt *o)
{
    return o->type != WSP_OPT_FLAG && o->type != WSP_OPT_HEADING;
}

/* A file's path goes there (PATH options, and TEXT ones whose value is a FILE, as --trace). */
static bool takes_file(const wsp_opt *o)
{
    return o->type == WSP_OPT_PATH ||
           (o->metavar && (strcmp(o->metavar, "PEM") == 0 || strcmp(o->metavar, "FILE") == 0 ||
                           strcmp(o->metavar, "F") == 0));
}

/* A text, or @FILE for a file's contents (--message, --send): files only after the '@'. */
static bool takes_at_file(const wsp_opt *o)
{
    return o->metavar && strstr(o->metavar, "@FILE") != NULL;
}

/* The fixed values an option completes: its table's, or the catalog's for --checks. */
static bool is_check_list(const gen *g, const wsp_opt *o)
{
    return strcmp(o->name, "checks") == 0 && strcmp(g->cmd, "security") == 0;
}

static void option_values(const gen *g, const wsp_opt *o, wsp_buf *out)
{
    if (o->values) {
        for (size_t i = 0; o->values[i]; i++)
            wsp_buf_printf(out, "%s%s", i ? " " : "", o->values[i]);
        return;
    }
    if (is_check_list(g, o)) {
        /* "all", the catalog's groups (each once, as its checks name them), then the ids */
        wsp_buf_puts(out, "all");
        const wsp_check_def *const *defs;
        size_t n = wsp_security_list(&defs);
        for (size_t i = 0; i < n; i++) {
            bool seen = false;
            for (size_t k = 0; k < i && !seen; k++)
                seen = strcmp(defs[k]->group, defs[i]->group) == 0;
            if (!seen && wsp_security_is_group(defs[i]->group))
                wsp_buf_printf(out, " %s", defs[i]->group);
        }
        if (wsp_security_is_group("tls"))
            wsp_buf_puts(out, " tls");
        for (size_t i = 0; i < n; i++)
            wsp_buf_printf(out, " %s", defs[i]->id);
    }
}

typedef struct comp_cmd {
    gen *g;
    wsp_buf opts, files, at_files, plain, cases;
} comp_cmd;

/* "--name" or "--name|-c": the case pattern of an option's spellings. */
static void bash_pattern(wsp_buf *b, const wsp_opt *o)
{
    wsp_buf_printf(b, "%s--%s", b->len ? "|" : "", o->name);
    if (o->short_name)
        wsp_buf_printf(b, "|-%c", o->short_name);
}

static void bash_option(const wsp_opt *o, void *ud)
{
    comp_cmd *c = ud;
    if (o->type == WSP_OPT_HEADING)
        return;
    wsp_buf_printf(&c->opts, " --%s", o->name);
    if (o->short_name)
        wsp_buf_printf(&c->opts, " -%c", o->short_name);
    if (!takes_value(o) || (o->flags & WSP_OPT_OPTIONAL))
        return;
    wsp_buf v = WSP_BUF_INIT;
    option_values(c->g, o, &v);
    if (v.len) {
        wsp_buf pat = WSP_BUF_INIT;
        bash_pattern(&pat, o);
        /* a comma-separated list completes its last item */
        wsp_buf_printf(&c->cases,
                       "        %s) COMPREPLY=($(compgen -P \"${cur%%\"${cur##*,}\"}\" -W "
                       "\"%s\" -- \"${cur##*,}\"))\n"
                       "            return 0 ;;\n",
                       pat.p, v.p);
        wsp_buf_free(&pat);
    } else if (takes_file(o)) {
        bash_pattern(&c->files, o);
    } else if (takes_at_file(o)) {
        bash_pattern(&c->at_files, o);
    } else {
        bash_pattern(&c->plain, o);
    }
    wsp_buf_free(&v);
}

static void comp_cmd_free(comp_cmd *c)
{
    wsp_buf_free(&c->opts);
    wsp_buf_free(&c->files);
    wsp_buf_free(&c->at_files);
    wsp_buf_free(&c->plain);
    wsp_buf_free(&c->cases);
}

static void bash_command(gen *g, const wsp_cli_spec *s)
{
    comp_cmd c = {g, WSP_BUF_INIT, WSP_BUF_INIT, WSP_BUF_INIT, WSP_BUF_INIT, WSP_BUF_INIT};
    wsp_cli_each_option(s, bash_option, &c);
    wsp_buf_printf(&g->b, "    %s)\n        opts=\"%s\"\n        case \"$prev\" in\n", s->cmd,
                   c.opts.p ? c.opts.p + 1 : "");
    if (c.cases.len)
        wsp_buf_puts(&g->b, c.cases.p);
    if (c.files.len)
        wsp_buf_printf(&g->b,
                       "        %s) COMPREPLY=($(compgen -f -- \"$cur\"))\n"
                       "            return 0 ;;\n",
                       c.files.p);
    if (c.at_files.len)
        wsp_buf_printf(&g->b,
                       "        %s) [[ $cur == @* ]] && COMPREPLY=($(compgen -P @ -f -- "
                       "\"${cur#@}\"))\n"
                       "            return 0 ;;\n",
                       c.at_files.p);
    if (c.plain.len)
        wsp_buf_printf(&g->b, "        %s) return 0 ;;\n", c.plain.p);
    wsp_buf_puts(&g->b, "        esac ;;\n");
    comp_cmd_free(&c);
}

/* zsh: one _arguments spec per option: '--name[help]:META:action'. */
static void zsh_quote(wsp_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\n')
            wsp_buf_put(b, " ", 1);
        else if (*s == '\'')
            wsp_buf_puts(b, "'\\''");
        else if (*s == '[' || *s == ']' || *s == ':' || *s == '\\')
            wsp_buf_printf(b, "\\%c", *s);
        else
            wsp_buf_put(b, s, 1);
    }
}

static void zsh_spec(comp_cmd *c, const wsp_opt *o, bool is_short)
{
    bool opt_value = (o->flags & WSP_OPT_OPTIONAL) != 0;
    if (is_short)
        wsp_buf_printf(&c->opts, "        '%s-%c%s[", (o->flags & WSP_OPT_REPEAT) ? "*" : "",
                       o->short_name, takes_value(o) ? "+" : "");
    else
        wsp_buf_printf(&c->opts, "        '%s--%s%s[", (o->flags & WSP_OPT_REPEAT) ? "*" : "",
                       o->name, takes_value(o) ? (opt_value ? "=-" : "=") : "");
    zsh_quote(&c->opts, o->help ? o->help : "");
    wsp_buf_puts(&c->opts, "]");
    if (takes_value(o)) {
        wsp_buf v = WSP_BUF_INIT;
        option_values(c->g, o, &v);
        wsp_buf_puts(&c->opts, ":");
        zsh_quote(&c->opts, o->metavar ? o->metavar : "value");
        wsp_buf_puts(&c->opts, ":");
        if (v.len && is_check_list(c->g, o)) { /* a comma-separated list */
            wsp_buf_puts(&c->opts, "_values -s , checks ");
            zsh_quote(&c->opts, v.p);
        } else if (v.len) {
            wsp_buf_puts(&c->opts, "(");
            zsh_quote(&c->opts, v.p);
            wsp_buf_puts(&c->opts, ")");
        } else if (takes_file(o)) {
            wsp_buf_puts(&c->opts, "_files");
        }
        wsp_buf_free(&v);
    }
    wsp_buf_puts(&c->opts, "' \\\n");
}

static void zsh_option(const wsp_opt *o, void *ud)
{
    comp_cmd *c = ud;
    if (o->type == WSP_OPT_HEADING)
        return;
    zsh_spec(c, o, false);
    if (o->short_name)
        zsh_spec(c, o, true);
}

static void zsh_command(gen *g, const wsp_cli_spec *s)
{
    comp_cmd c = {g, WSP_BUF_INIT, WSP_BUF_INIT, WSP_BUF_INIT, WSP_BUF_INIT, WSP_BUF_INIT};
    wsp_cli_each_option(s, zsh_option, &c);
    wsp_buf_printf(&g->b,
                   "    (%s)\n      _arguments -S \\\n%s        '*:argument:_files'\n      ;;\n",
                   s->cmd, c.opts.p ? c.opts.p : "");
    comp_cmd_free(&c);
}

/* fish: complete -c wsprobe -n '__fish_seen_subcommand_from CMD' -l NAME -d HELP ... */
static void fish_quote(wsp_buf *b, const char *s)
{
    wsp_buf_put(b, "'", 1);
    for (; *s; s++) {
        if (*s == '\n')
            wsp_buf_put(b, " ", 1);
        else if (*s == '\'' || *s == '\\')
            wsp_buf_printf(b, "\\%c", *s);
        else
            wsp_buf_put(b, s, 1);
    }
    wsp_buf_put(b, "'", 1);
}

static void fish_option(const wsp_opt *o, void *ud)
{
    comp_cmd *c = ud;
    if (o->type == WSP_OPT_HEADING)
        return;
    wsp_buf_printf(&c->opts, "complete -c wsprobe -n '__fish_seen_subcommand_from %s' -l %s",
                   c->g->cmd, o->name);
    if (o->short_name)
        wsp_buf_printf(&c->opts, " -s %c", o->short_name);
    if (takes_value(o) && !(o->flags & WSP_OPT_OPTIONAL)) {
        wsp_buf v = WSP_BUF_INIT;
        option_values(c->g, o, &v);
        if (v.len && is_check_list(c->g, o)) {
            /* a comma-separated list: each item from the helper the script defines */
            wsp_buf_puts(&c->opts, " -x -a '(__fish_complete_list , __wsprobe_checks)'");
            wsp_buf_printf(&c->g->b, "function __wsprobe_checks\n    printf '%%s\\n' %s\nend\n",
                           v.p);
        } else if (v.len) {
            wsp_buf_puts(&c->opts, " -x -a ");
            fish_quote(&c->opts, v.p);
        } else {
            wsp_buf_puts(&c->opts, takes_file(o) ? " -r -F" : " -x");
        }
        wsp_buf_free(&v);
    }
    wsp_buf_puts(&c->opts, " -d ");
    fish_quote(&c->opts, o->help ? o->help : "");
    wsp_buf_puts(&c->opts, "\n");
}

static void fish_command(gen *g, const wsp_cli_spec *s)
{
    comp_cmd c = {g, WSP_BUF_INIT, WSP_BUF_INIT, WSP_BUF_INIT, WSP_BUF_INIT, WSP_BUF_INIT};
    wsp_cli_each_option(s, fish_option, &c);
    if (c.opts.len)
        wsp_buf_puts(&g->b, c.opts.p);
    comp_cmd_free(&c);
}

/* ---- the walk ---- */

static void on_spec(const wsp_cli_spec *s, void *ud)
{
    gen *g = ud;
    g->cmd = s->cmd;
    if (strcmp(g->mode, "man") == 0)
        man_command(g, s);
    else if (strcmp(g->mode, "bash") == 0)
        bash_command(g, s);
    else if (strcmp(g->mode, "zsh") == 0)
        zsh_command(g, s);
    else
        fish_command(g, s);
}

static void walk(gen *g)
{
    wsp_cli_set_spec_hook(on_spec, g);
    for (const wsp_cli_command *c = wsp_cli_commands; c->name; c++) {
        char *argv[] = {(char *)(uintptr_t)c->name, NULL};
        c->run(1, argv);
    }
    wsp_cli_set_spec_hook(NULL, NULL);
}

static void command_names(wsp_buf *b, const char *sep)
{
    for (const wsp_cli_command *c = wsp_cli_commands; c->name; c++)
        wsp_buf_printf(b, "%s%s", c == wsp_cli_commands ? "" : sep, c->name);
}

int wsp_cmd_gen(int argc, char **argv)
{
    gen g;
    memset(&g, 0, sizeof g);
    g.mode = argc > 1 ? argv[1] : "";
    if (strcmp(g.mode, "man") == 0 && argc >= 3) {
        g.dir = argv[2];
        if (mkdir(g.dir, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "wsprobe: _gen: cannot make %s\n", g.dir);
            return 2;
        }
        walk(&g);
        man_top(&g);
        man_plan(&g, argc >= 4 ? argv[3] : NULL);
        return g.failed ? 71 : 0;
    }
    wsp_buf names = WSP_BUF_INIT;
    if (strcmp(g.mode, "bash") == 0) {
        command_names(&names, " ");
        wsp_buf_printf(
            &g.b,
            "# bash completion for wsprobe %s: generated by `wsprobe _gen bash` from the "
            "option tables; do not edit\n"
            "_wsprobe() {\n"
            "    local cur prev cmd opts\n"
            "    cur=${COMP_WORDS[COMP_CWORD]}\n"
            "    prev=${COMP_WORDS[COMP_CWORD-1]}\n"
            "    # --name=VALUE: bash breaks the word at '='\n"
            "    [ \"$cur\" = \"=\" ] && cur=\n"
            "    if [ \"$prev\" = \"=\" ] && [ \"$COMP_CWORD\" -ge 2 ]; then\n"
            "        prev=${COMP_WORDS[COMP_CWORD-2]}\n"
            "    fi\n"
            "    if [ \"$COMP_CWORD\" -eq 1 ]; then\n"
            "        COMPREPLY=($(compgen -W \"%s --help --version\" -- \"$cur\"))\n"
            "        return 0\n"
            "    fi\n"
            "    cmd=${COMP_WORDS[1]}\n"
            "    case \"$cmd\" in\n",
            WSP_VERSION, names.p);
        walk(&g);
        wsp_buf_puts(&g.b, "    *) return 0 ;;\n    esac\n"
                           "    case \"$cur\" in\n"
                           "    -*) COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\")) ;;\n"
                           "    *) COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n"
                           "    esac\n"
                           "}\n"
                           "complete -o filenames -F _wsprobe wsprobe\n");
    } else if (strcmp(g.mode, "zsh") == 0) {
        wsp_buf_printf(&g.b,
                       "#compdef wsprobe\n# zsh completion for wsprobe %s: generated by `wsprobe "
                       "_gen zsh` from the option tables; do not edit\n"
                       "_wsprobe() {\n"
                       "  local -a commands\n"
                       "  commands=(\n",
                       WSP_VERSION);
        for (const wsp_cli_command *c = wsp_cli_commands; c->name; c++) {
            wsp_buf_printf(&g.b, "    '%s:", c->name);
            zsh_quote(&g.b, c->summary);
            wsp_buf_puts(&g.b, "'\n");
        }
        wsp_buf_puts(&g.b, "  )\n"
                           "  if (( CURRENT == 2 )); then\n"
                           "    _describe -t commands 'wsprobe command' commands\n"
                           "    return\n"
                           "  fi\n"
                           "  local cmd=${words[2]}\n"
                           "  shift words\n"
                           "  (( CURRENT-- ))\n"
                           "  case $cmd in\n");
        walk(&g);
        wsp_buf_puts(&g.b, "  esac\n}\n_wsprobe \"$@\"\n");
    } else if (strcmp(g.mode, "fish") == 0) {
        wsp_buf_printf(
            &g.b,
            "# fish completion for wsprobe %s: generated by `wsprobe _gen fish` from the "
            "option tables; do not edit\n",
            WSP_VERSION);
        for (const wsp_cli_command *c = wsp_cli_commands; c->name; c++) {
            wsp_buf_printf(&g.b, "complete -c wsprobe -n __fish_use_subcommand -f -a %s -d ",
                           c->name);
            fish_quote(&g.b, c->summary);
            wsp_buf_puts(&g.b, "\n");
        }
        walk(&g);
    } else {
        fprintf(stderr, "usage: wsprobe _gen man DIR [PLAN.yaml] | bash | zsh | fish\n");
        return 2;
    }
    wsp_buf_free(&names);
    if (g.b.failed) {
        fprintf(stderr, "wsprobe: _gen: out of memory\n");
        return 70;
    }
    fputs(g.b.p ? g.b.p : "", stdout);
    wsp_buf_free(&g.b);
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 71;
}
