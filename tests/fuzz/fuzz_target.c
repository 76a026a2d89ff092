/* fuzz_target.c - the exporter's request inputs (codec/target.h) on arbitrary bytes: the first
 * line is a glob, the rest a query string. Checks: a query that passes wsp_query_check yields
 * its target and module without a control byte and within the caps; a target that parses has
 * a normal form that parses again to the same normal form (a fixed point); a glob matches
 * itself when it holds no metacharacter, '*' matches everything, and matching ends (no
 * recursion: the input is up to 64 KiB). The same bytes go to the other parsers of the
 * exporter's request: an Accept header (OpenMetrics or not) and Basic credentials (a user
 * without ':' and neither with a control byte, each within its buffer). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/http.h"
#include "codec/target.h"
#include "report/exposition.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_target(const char *t)
{
    wsp_url u, v;
    if (wsp_url_parse(t, &u, 0, NULL) != 0)
        return;
    char n1[WSP_TARGET_NORMAL_MAX], n2[WSP_TARGET_NORMAL_MAX];
    if (wsp_target_normal(&u, n1, sizeof n1) < 0)
        abort();
    if (wsp_url_parse(n1, &v, 0, NULL) != 0 || wsp_target_normal(&v, n2, sizeof n2) < 0 ||
        strcmp(n1, n2) != 0)
        abort();
    if (!wsp_glob_match("*", n1) || !wsp_target_allowed("*", &u) ||
        !wsp_target_allowed("*://*:*", &u))
        abort();
    /* a target is allowed by its own normal form as a pattern when it holds no wildcard */
    const char *why;
    if (!strpbrk(n1, "*?[\\") && wsp_target_pattern_check(n1, &why) == 0 &&
        !wsp_target_allowed(n1, &u))
        abort();
    (void)wsp_target_path_check(&u, &why);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    char *nl = memchr(s, '\n', size);
    const char *glob = s, *q = nl ? nl + 1 : "";
    if (nl)
        *nl = '\0';
    size_t qlen = nl ? size - (size_t)(nl + 1 - s) : 0;
    static const char *const once[] = {"target", "module", NULL};
    const char *why = NULL;
    if (wsp_query_check(q, qlen, once, &why) == 0) {
        static char target[WSP_QUERY_VALUE_MAX], module[WSP_QUERY_VALUE_MAX];
        int rt = wsp_query_get(q, qlen, "target", target, sizeof target);
        int rm = wsp_query_get(q, qlen, "module", module, sizeof module);
        for (const char *p = rt == 1 ? target : ""; *p; p++)
            if ((unsigned char)*p < 0x20)
                abort();
        if (rm == 1 && strlen(module) >= sizeof module)
            abort();
        if (rt == 1) {
            check_target(target);
            wsp_url u;
            if (wsp_url_parse(target, &u, 0, NULL) == 0)
                (void)wsp_target_allowed(glob, &u);
        }
    } else if (!why || !*why) {
        abort();
    }
    if (strpbrk(glob, "*?[\\") == NULL && !wsp_glob_match(glob, glob))
        abort();
    (void)wsp_target_pattern_check(glob, &why);
    (void)wsp_glob_match(glob, q);
    check_target(glob);
    (void)wsp_expo_wants_openmetrics(s, size);
    char user[64], pass[64];
    if (wsp_http_basic_decode(s, size, user, sizeof user, pass, sizeof pass) == 0) {
        if (strchr(user, ':') || strlen(user) >= sizeof user || strlen(pass) >= sizeof pass)
            abort();
        for (const char *p = pass; *p; p++)
            if ((unsigned char)*p < 0x20)
                abort();
    }
    free(s);
    return 0;
}
