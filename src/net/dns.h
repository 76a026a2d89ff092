/* dns.h - asynchronous name resolution with c-ares on a libuv loop, with the error classes
 * a user can act on: NXDOMAIN (the name does not exist) apart from TEMPFAIL (timeout, SERVFAIL,
 * refused, unreachable resolver). */
#ifndef WSP_DNS_H
#define WSP_DNS_H

#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "util/error.h"

#define WSP_DNS_MAX_ADDRS 16

typedef struct wsp_dns_result {
    struct sockaddr_storage addrs[WSP_DNS_MAX_ADDRS]; /* in the resolver's order, port set */
    int num_addrs;
} wsp_dns_result;

typedef struct wsp_dns_query wsp_dns_query;

/* Called once, on the loop, with either addresses (err->cls OK) or a classified failure. The
 * query frees itself after the callback returns; do not touch it after. */
typedef void (*wsp_dns_cb)(void *ud, const wsp_dns_result *res, const wsp_err *err);

typedef struct wsp_dns_opts {
    int family;          /* AF_UNSPEC, AF_INET or AF_INET6 */
    const char *servers; /* NULL: system resolv.conf; else "ADDR[:PORT][,...]" */
    uint64_t timeout_us; /* overall limit for this resolution */
} wsp_dns_opts;

/* Start resolving `host` for `port`. Returns the query (to cancel) or NULL with err set (the
 * callback is then never called). Strings are copied. */
wsp_dns_query *wsp_dns_resolve(uv_loop_t *loop, const char *host, uint16_t port,
                               const wsp_dns_opts *opts, wsp_dns_cb cb, void *ud, wsp_err *err);

/* Cancel: the callback is not called; resources are released asynchronously. */
void wsp_dns_cancel(wsp_dns_query *q);

/* Format an address as text without the port ("127.0.0.1", "::1"). */
void wsp_dns_addr_str(const struct sockaddr *sa, char *buf, size_t cap);

/* --resolve HOST:PORT:ADDR[,ADDR...] (as curl): addresses to use for HOST:PORT instead of
 * asking DNS. ADDR is IPv4, IPv6, or [IPv6]. */
#define WSP_DNS_MAX_PINNED 8
typedef struct wsp_dns_pin {
    char host[256];
    unsigned port;
    struct sockaddr_storage addrs[WSP_DNS_MAX_PINNED]; /* port set */
    int num;
} wsp_dns_pin;

/* Parse one --resolve value. Returns 0, or -1 when it is not HOST:PORT:ADDR[,ADDR]. */
int wsp_dns_pin_parse(const char *arg, wsp_dns_pin *out);

/* Check "ADDR[:PORT]" or "[V6]:PORT" lists for --dns-server. Returns 0 or -1. */
int wsp_dns_servers_valid(const char *servers);

#endif
