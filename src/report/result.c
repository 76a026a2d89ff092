/* result.c - verdicts, check results and their summary. See result.h. */
#include "report/result.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/redact.h"

const char *wsp_verdict_name(wsp_verdict v)
{
    switch (v) {
    case WSP_VERDICT_PASS:
        return "pass";
    case WSP_VERDICT_FAIL:
        return "fail";
    case WSP_VERDICT_WARN:
        return "warn";
    case WSP_VERDICT_INCONCLUSIVE:
        return "inconclusive";
    case WSP_VERDICT_SKIP:
        return "skip";
    case WSP_VERDICT_NOT_APPLICABLE:
        return "not_applicable";
    }
    return "inconclusive";
}

int wsp_verdict_from_name(const char *name)
{
    for (int i = 0; i < WSP_VERDICT_COUNT; i++)
        if (strcmp(name, wsp_verdict_name((wsp_verdict)i)) == 0)
            return i;
    return -1;
}

void wsp_check_result_init(wsp_check_result *r, const char *id)
{
    memset(r, 0, sizeof *r);
    snprintf(r->id, sizeof r->id, "%s", id);
    r->verdict = WSP_VERDICT_INCONCLUSIVE;
    r->cls = WSP_CLASS_OK;
    r->evidence = json_object();
}

void wsp_check_result_redact(wsp_check_result *r)
{
    wsp_redact_buf(r->message, sizeof r->message);
    wsp_redact_buf(r->hint, sizeof r->hint);
    wsp_redact_json(r->evidence);
    if (r->transcript) {
        char *t = wsp_redact(r->transcript, strlen(r->transcript), NULL);
        free(r->transcript);
        r->transcript = t;
    }
}

void wsp_check_result_cleanup(wsp_check_result *r)
{
    json_decref(r->evidence);
    free(r->transcript);
    r->evidence = NULL;
    r->transcript = NULL;
}

wsp_verdict wsp_check_set(wsp_check_result *r, wsp_verdict v, wsp_class cls, const char *fmt, ...)
{
    va_list ap;
    r->verdict = v;
    r->cls = cls;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
    if (cls != WSP_CLASS_OK && !r->hint[0])
        snprintf(r->hint, sizeof r->hint, "%s", wsp_class_default_hint(cls));
    return v;
}

static void add_int(json_t *o, const char *key, json_int_t v)
{
    json_t *cur = json_object_get(o, key);
    json_object_set_new(o, key, json_integer(v + (cur ? json_integer_value(cur) : 0)));
}

void wsp_check_add_probe_evidence(wsp_check_result *r, const char *key, const wsp_probe *p)
{
    const wsp_conn_record *rec = wsp_probe_record(p);
    const wsp_err *v = wsp_probe_verdict(p);
    json_t *e = json_object();
    json_object_set_new(e, "class", json_string(wsp_class_name(v->cls)));
    json_object_set_new(e, "message", json_string(v->msg));
    json_object_set_new(e, "status",
                        rec->http_status ? json_integer(rec->http_status) : json_null());
    json_object_set_new(e, "close_code",
                        rec->close_code >= 0 ? json_integer(rec->close_code) : json_null());
    json_object_set_new(e, "close_reason", json_string(rec->close_reason));
    json_object_set_new(e, "closed_by",
                        rec->closed_by == WSP_CLOSED_BY_SERVER   ? json_string("server")
                        : rec->closed_by == WSP_CLOSED_BY_CLIENT ? json_string("client")
                                                                 : json_null());
    json_object_set_new(e, "handshake_ms",
                        rec->t_upgraded ? json_real(wsp_conn_ms(rec->t_request, rec->t_upgraded))
                                        : json_null());
    json_object_set_new(e, "bytes_tx", json_integer((json_int_t)rec->tx_bytes));
    json_object_set_new(e, "bytes_rx", json_integer((json_int_t)rec->rx_bytes));
    json_object_set_new(e, "received_frames", json_integer((json_int_t)rec->received_frames));
    if (!r->evidence)
        r->evidence = json_object();
    json_object_set_new(r->evidence, key, e);
    add_int(r->evidence, "bytes_tx", (json_int_t)rec->tx_bytes);
    add_int(r->evidence, "bytes_rx", (json_int_t)rec->rx_bytes);
    add_int(r->evidence, "probes", 1);
}

void wsp_check_summarize(const wsp_check_result *results, size_t n, wsp_check_summary *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        wsp_verdict v = results[i].verdict;
        out->counts[v]++;
        if (!results[i].ran)
            out->not_started++;
        else if (v != WSP_VERDICT_SKIP && v != WSP_VERDICT_NOT_APPLICABLE)
            out->performed++;
    }
}
