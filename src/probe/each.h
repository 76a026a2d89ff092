/* each.h - --each-address: the whole probe against every address a name resolves to (every A
 * and AAAA record, or every address --resolve names), SNI and Host unchanged, so one broken
 * backend behind two good ones is seen. The verdict is per address; the whole fails when any
 * does, with the class of the first failing address in resolution order. */
#ifndef WSP_PROBE_EACH_H
#define WSP_PROBE_EACH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <uv.h>

#include "net/dns.h"
#include "probe/probe.h"
#include "util/error.h"

#define WSP_EACH_MAX WSP_DNS_MAX_ADDRS

typedef struct wsp_probe_each {
    size_t n;
    struct sockaddr_storage addrs[WSP_EACH_MAX]; /* in resolution order, port set */
    char text[WSP_EACH_MAX][48];                 /* "127.0.0.2", "::1" */
    wsp_probe_config *cfgs;                      /* one per address: pinned to it */
    wsp_probe *probes[WSP_EACH_MAX];
    size_t first_failed; /* index, or n when every address held */
    wsp_err verdict;     /* OK, or the first failing address's class with a summary */
    uv_loop_t *loop;     /* heap: the probes' loop, until cleanup */
} wsp_probe_each;

/* The addresses to probe: --resolve pins for the URL's host and port, else every A and AAAA
 * record (c-ares, --dns-server and -4/-6 honoured) within the phase timeout. A literal address
 * is a USAGE error (there is one address), as is a name that resolves to nothing; a DNS
 * failure has its DNS class. 0, or -1 with err. */
int wsp_probe_each_resolve(const wsp_probe_config *cfg, wsp_probe_each *e, wsp_err *err);

/* Run the probe against every address at once (one loop) and judge: `verdict` says "2 of 3
 * addresses OK; 127.0.0.3: HTTP 502 ..." with the first failing address's class and hint. 0,
 * or -1 when out of memory. The probes stay readable until wsp_probe_each_cleanup. */
int wsp_probe_each_run(const wsp_probe_config *cfg, wsp_probe_each *e);
void wsp_probe_each_cleanup(wsp_probe_each *e);

#endif
