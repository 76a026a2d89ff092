/* dns.c - c-ares driven by libuv: each socket c-ares opens gets a uv_poll_t; a 50 ms timer
 * drives c-ares' own retransmissions and enforces the overall deadline. Results are always
 * delivered from a loop callback, never from inside wsp_dns_resolve. */
#include "net/dns.h"

#include <arpa/inet.h>
#include <ares.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define TICK_MS 50

typedef struct poller {
    uv_poll_t poll;
    ares_socket_t fd;
    struct wsp_dns_query *q;
    struct poller *next;
} poller;

struct wsp_dns_query {
    uv_loop_t *loop;
    ares_channel channel;
    bool channel_live;
    uv_timer_t timer;
    poller *pollers;
    int open_handles; /* timer + pollers not yet closed */
    wsp_dns_cb cb;
    void *ud;
    uint16_t port;
    uint64_t deadline_ms;
    bool finished; /* result known (or cancelled); deliver and tear down */
    bool cancelled;
    bool delivered;
    char host[256];
    wsp_dns_result res;
    wsp_err err;
};

static pthread_once_t ares_once = PTHREAD_ONCE_INIT;

static void ares_lib_init(void)
{
    ares_library_init(ARES_LIB_INIT_ALL);
}

/* c-ares 1.18's library init is not thread-safe; probes run on several threads */
static void ares_lib_init_once(void)
{
    pthread_once(&ares_once, ares_lib_init);
}

static void handle_closed(uv_handle_t *h)
{
    wsp_dns_query *q = h->data;
    if (h->type == UV_POLL)
        free(h); /* poller is laid out with its uv_poll_t first */
    if (--q->open_handles == 0)
        free(q);
}

static void timer_cb(uv_timer_t *t);

static void poll_cb(uv_poll_t *h, int status, int events)
{
    poller *p = (poller *)h;
    wsp_dns_query *q = p->q;
    if (!q->channel_live)
        return;
    ares_socket_t r = ARES_SOCKET_BAD, w = ARES_SOCKET_BAD;
    if (status < 0 || (events & UV_READABLE))
        r = p->fd;
    if (status < 0 || (events & UV_WRITABLE))
        w = p->fd;
    ares_process_fd(q->channel, r, w);
    if (q->finished) /* deliver now, not at the next tick */
        uv_timer_start(&q->timer, timer_cb, 0, TICK_MS);
}

/* c-ares tells us which sockets to watch; (0, 0) comes just before it closes one. */
static void sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
    wsp_dns_query *q = data;
    poller **pp = &q->pollers, *p = NULL;
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->fd == fd) {
            p = *pp;
            break;
        }
    if (!readable && !writable) {
        if (p) {
            *pp = p->next;
            uv_close((uv_handle_t *)&p->poll, handle_closed);
        }
        return;
    }
    if (!p) {
        p = calloc(1, sizeof *p);
        if (!p || uv_poll_init_socket(q->loop, &p->poll, fd) != 0) {
            free(p);
            return; /* c-ares will time the query out */
        }
        p->fd = fd;
        p->q = q;
        p->poll.data = q;
        p->next = q->pollers;
        q->pollers = p;
        q->open_handles++;
    }
    uv_poll_start(&p->poll, (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0), poll_cb);
}

static void classify(wsp_dns_query *q, int status)
{
    switch (status) {
    case ARES_ENOTFOUND:
        wsp_err_set(&q->err, WSP_CLASS_DNS_NXDOMAIN, "the name '%s' does not exist (NXDOMAIN)",
                    q->host);
        break;
    case ARES_ENODATA:
        wsp_err_set(&q->err, WSP_CLASS_DNS_NXDOMAIN,
                    "the name '%s' exists but has no address of the requested family", q->host);
        wsp_err_hint(&q->err, "add the A/AAAA record, or allow the other family (-4/-6)");
        break;
    case ARES_ETIMEOUT:
        wsp_err_set(&q->err, WSP_CLASS_DNS_TEMPFAIL, "no answer from the resolver for '%s'",
                    q->host);
        break;
    case ARES_ESERVFAIL:
        wsp_err_set(&q->err, WSP_CLASS_DNS_TEMPFAIL, "the resolver answered SERVFAIL for '%s'",
                    q->host);
        break;
    case ARES_EREFUSED:
        wsp_err_set(&q->err, WSP_CLASS_DNS_TEMPFAIL, "the resolver refused the query for '%s'",
                    q->host);
        break;
    case ARES_ECONNREFUSED:
        wsp_err_set(&q->err, WSP_CLASS_DNS_TEMPFAIL, "the resolver is unreachable (refused)");
        break;
    case ARES_ENOMEM:
        wsp_err_set(&q->err, WSP_CLASS_INTERNAL, "out of memory resolving '%s'", q->host);
        break;
    default:
        wsp_err_set(&q->err, WSP_CLASS_DNS_TEMPFAIL, "resolving '%s' failed: %s", q->host,
                    ares_strerror(status));
        break;
    }
}

static void addrinfo_cb(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
    wsp_dns_query *q = arg;
    (void)timeouts;
    if (q->finished) {
        if (ai)
            ares_freeaddrinfo(ai);
        return;
    }
    q->finished = true;
    if (status == ARES_SUCCESS && ai) {
        for (struct ares_addrinfo_node *n = ai->nodes; n && q->res.num_addrs < WSP_DNS_MAX_ADDRS;
             n = n->ai_next) {
            struct sockaddr_storage *ss = &q->res.addrs[q->res.num_addrs];
            if (n->ai_family == AF_INET && n->ai_addrlen >= sizeof(struct sockaddr_in)) {
                memcpy(ss, n->ai_addr, sizeof(struct sockaddr_in));
                ((struct sockaddr_in *)ss)->sin_port = htons(q->port);
            } else if (n->ai_family == AF_INET6 && n->ai_addrlen >= sizeof(struct sockaddr_in6)) {
                memcpy(ss, n->ai_addr, sizeof(struct sockaddr_in6));
                ((struct sockaddr_in6 *)ss)->sin6_port = htons(q->port);
            } else {
                continue;
            }
            q->res.num_addrs++;
        }
        if (q->res.num_addrs == 0)
            classify(q, ARES_ENODATA);
    } else if (status != ARES_ECANCELLED && status != ARES_EDESTRUCTION) {
        classify(q, status);
    }
    if (ai)
        ares_freeaddrinfo(ai);
}

static void teardown(wsp_dns_query *q)
{
    if (q->channel_live) {
        q->channel_live = false;
        ares_destroy(q->channel); /* closes its sockets through sock_state_cb */
    }
    /* pollers still listed (c-ares did not report them closed) */
    while (q->pollers) {
        poller *p = q->pollers;
        q->pollers = p->next;
        uv_close((uv_handle_t *)&p->poll, handle_closed);
    }
    uv_timer_stop(&q->timer);
    uv_close((uv_handle_t *)&q->timer, handle_closed);
}

static void timer_cb(uv_timer_t *t)
{
    wsp_dns_query *q = t->data;
    if (!q->finished && q->channel_live) {
        ares_process_fd(q->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
        if (!q->finished && uv_now(q->loop) >= q->deadline_ms) {
            q->finished = true;
            wsp_err_set(&q->err, WSP_CLASS_DNS_TEMPFAIL,
                        "no answer from the resolver for '%s' before the timeout", q->host);
        }
    }
    if (!q->finished)
        return;
    if (!q->delivered && !q->cancelled) {
        q->delivered = true;
        q->cb(q->ud, q->err.cls == WSP_CLASS_OK ? &q->res : NULL, &q->err);
    }
    teardown(q);
}

wsp_dns_query *wsp_dns_resolve(uv_loop_t *loop, const char *host, uint16_t port,
                               const wsp_dns_opts *opts, wsp_dns_cb cb, void *ud, wsp_err *err)
{
    ares_lib_init_once();
    if (strlen(host) >= sizeof((wsp_dns_query *)0)->host) {
        wsp_err_set(err, WSP_CLASS_URL_INVALID, "host name too long");
        return NULL;
    }
    wsp_dns_query *q = calloc(1, sizeof *q);
    if (!q) {
        wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
        return NULL;
    }
    q->loop = loop;
    q->cb = cb;
    q->ud = ud;
    q->port = port;
    snprintf(q->host, sizeof q->host, "%s", host);
    wsp_err_clear(&q->err);

    uint64_t timeout_ms = opts->timeout_us / 1000;
    if (timeout_ms == 0)
        timeout_ms = 5000;
    q->deadline_ms = uv_now(loop) + timeout_ms;

    struct ares_options ao;
    memset(&ao, 0, sizeof ao);
    ao.sock_state_cb = sock_state_cb;
    ao.sock_state_cb_data = q;
    ao.tries = 2;
    ao.timeout = (int)(timeout_ms / 2 > 0 ? timeout_ms / 2 : 1);
    int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TRIES | ARES_OPT_TIMEOUTMS;
    int rc = ares_init_options(&q->channel, &ao, mask);
    if (rc != ARES_SUCCESS) {
        wsp_err_set(err, WSP_CLASS_DNS_TEMPFAIL, "cannot start the resolver: %s",
                    ares_strerror(rc));
        free(q);
        return NULL;
    }
    q->channel_live = true;
    if (opts->servers &&
        (rc = ares_set_servers_ports_csv(q->channel, opts->servers)) != ARES_SUCCESS) {
        wsp_err_set(err, WSP_CLASS_USAGE, "--dns-server '%s': %s", opts->servers,
                    ares_strerror(rc));
        ares_destroy(q->channel);
        free(q);
        return NULL;
    }
    uv_timer_init(loop, &q->timer);
    q->timer.data = q;
    q->open_handles = 1;
    uv_timer_start(&q->timer, timer_cb, 0, TICK_MS);

    struct ares_addrinfo_hints hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = opts->family;
    hints.ai_socktype = SOCK_STREAM;
    ares_getaddrinfo(q->channel, host, NULL, &hints, addrinfo_cb, q);
    return q;
}

void wsp_dns_cancel(wsp_dns_query *q)
{
    if (!q || q->delivered || q->cancelled)
        return;
    q->cancelled = true;
    q->finished = true;
    /* the next timer tick tears down; make it immediate */
    uv_timer_start(&q->timer, timer_cb, 0, TICK_MS);
}

void wsp_dns_addr_str(const struct sockaddr *sa, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, (socklen_t)cap);
}

int wsp_dns_servers_valid(const char *servers)
{
    ares_lib_init_once();
    ares_channel ch;
    struct ares_options ao;
    memset(&ao, 0, sizeof ao);
    if (ares_init_options(&ch, &ao, 0) != ARES_SUCCESS)
        return -1;
    int rc = ares_set_servers_ports_csv(ch, servers);
    ares_destroy(ch);
    return rc == ARES_SUCCESS ? 0 : -1;
}

int wsp_dns_pin_parse(const char *arg, wsp_dns_pin *out)
{
    const char *c1 = strchr(arg, ':');
    if (!c1 || c1 == arg || (size_t)(c1 - arg) >= sizeof out->host)
        return -1;
    const char *c2 = strchr(c1 + 1, ':');
    if (!c2 || c2 - c1 - 1 <= 0 || c2 - c1 - 1 > 5)
        return -1;
    memcpy(out->host, arg, (size_t)(c1 - arg));
    out->host[c1 - arg] = '\0';
    unsigned long port = 0;
    for (const char *p = c1 + 1; p < c2; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        port = port * 10 + (unsigned long)(*p - '0');
    }
    if (port == 0 || port > 65535)
        return -1;
    out->port = (unsigned)port;
    out->num = 0;
    const char *s = c2 + 1;
    while (*s) {
        const char *comma = strchr(s, ',');
        size_t n = comma ? (size_t)(comma - s) : strlen(s);
        char a[64];
        if (n == 0 || n >= sizeof a || out->num >= WSP_DNS_MAX_PINNED)
            return -1;
        memcpy(a, s, n);
        a[n] = '\0';
        char *addr = a;
        if (addr[0] == '[' && addr[n - 1] == ']') {
            addr[n - 1] = '\0';
            addr++;
        }
        struct sockaddr_storage *ss = &out->addrs[out->num];
        memset(ss, 0, sizeof *ss);
        if (uv_ip4_addr(addr, (int)port, (struct sockaddr_in *)ss) != 0 &&
            uv_ip6_addr(addr, (int)port, (struct sockaddr_in6 *)ss) != 0)
            return -1;
        out->num++;
        s += n + (comma ? 1 : 0);
    }
    return out->num > 0 ? 0 : -1;
}
