/* rawclient.c - see rawclient.h. */
#include "net/rawclient.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "codec/http.h"
#include "codec/proxy.h"
#include "util/clock.h"

static int ms_left(uint64_t deadline_ns)
{
    uint64_t now = wsp_clock_mono_ns();
    if (now >= deadline_ns)
        return 0;
    uint64_t ms = (deadline_ns - now) / 1000000ull;
    return ms > 60000 ? 60000 : (int)(ms ? ms : 1);
}

static int wait_fd(int fd, short ev, uint64_t deadline_ns)
{
    struct pollfd p = {fd, ev, 0};
    for (;;) {
        int left = ms_left(deadline_ns);
        if (left == 0)
            return 0;
        int r = poll(&p, 1, left);
        if (r < 0 && errno == EINTR)
            continue;
        return r;
    }
}

static int try_connect(const struct sockaddr *sa, socklen_t len, uint64_t deadline_ns)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, sa, len) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    if (wait_fd(fd, POLLOUT, deadline_ns) <= 0) {
        close(fd);
        return -1;
    }
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Connect to host:port (a name is looked up with getaddrinfo) by the deadline; the fd or -1. */
static int connect_host(const char *host, bool is_ip, uint16_t port, int family,
                        uint64_t deadline_ns, char *why, size_t cap)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = family;
    hints.ai_flags = is_ip ? AI_NUMERICHOST : 0;
    char ps[8];
    snprintf(ps, sizeof ps, "%u", port);
    int gr = getaddrinfo(host, ps, &hints, &res);
    if (gr != 0) {
        snprintf(why, cap, "cannot resolve %.100s: %s", host, gai_strerror(gr));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next)
        fd = try_connect(a->ai_addr, a->ai_addrlen, deadline_ns);
    freeaddrinfo(res);
    if (fd < 0)
        snprintf(why, cap, "cannot connect to %.100s port %u", host, port);
    return fd;
}

/* Open the tunnel through the proxy on c->fd to host:port (CONNECT or SOCKS5), by the
 * deadline. 0, or -1 with a sentence in why. */
static int open_tunnel(wsp_rawc *c, const wsp_proxy *p, const char *host, uint16_t port, char *why,
                       size_t cap)
{
    wsp_err e;
    wsp_err_clear(&e);
    if (p->kind == WSP_PROXY_SOCKS5 || p->kind == WSP_PROXY_SOCKS5H) {
        wsp_socks5 s5;
        uint8_t out[WSP_SOCKS5_OUT_MAX], in[512];
        size_t n;
        if (wsp_socks5_begin(&s5, p, host, port, out, &n, &e) != 0 ||
            wsp_rawc_write(c, out, n) != 0)
            goto failed;
        for (int rounds = 0; rounds < 16; rounds++) {
            ssize_t got = wsp_rawc_read(c, in, sizeof in, c->deadline_ns);
            if (got <= 0) {
                wsp_err_set(&e, WSP_CLASS_PROXY_PROTOCOL, "the proxy closed or went silent");
                goto failed;
            }
            size_t off = 0;
            while (off < (size_t)got) {
                size_t used;
                int r = wsp_socks5_feed(&s5, in + off, (size_t)got - off, &used, out, &n, &e);
                off += used;
                if (r < 0 || (n > 0 && wsp_rawc_write(c, out, n) != 0))
                    goto failed;
                if (r == 1)
                    return 0; /* nothing speaks before the client in this tunnel */
                if (used == 0 && n == 0)
                    break;
            }
        }
        wsp_err_set(&e, WSP_CLASS_PROXY_PROTOCOL, "the proxy never finished its answer");
        goto failed;
    }
    char req[1200], head[WSP_PROXY_HEAD_MAX];
    int n = wsp_proxy_connect_request(req, sizeof req, p, host, port);
    int w = n > 0 ? wsp_rawc_write(c, req, (size_t)n) : -1;
    memset(req, 0, sizeof req);
    if (w != 0) {
        wsp_err_set(&e, WSP_CLASS_PROXY_UNREACHABLE, "could not send CONNECT");
        goto failed;
    }
    size_t hl = 0;
    while (hl < sizeof head) {
        /* a byte at a time: what follows the head is the tunnel's, not ours to take */
        ssize_t got = wsp_rawc_read(c, head + hl, 1, c->deadline_ns);
        if (got <= 0) {
            wsp_err_set(&e, WSP_CLASS_PROXY_PROTOCOL, "the proxy closed or went silent");
            goto failed;
        }
        hl++;
        if (hl > 8 && head[hl - 1] != '\n' && hl < sizeof head)
            continue; /* parse at line ends (and the first bytes): not once per byte */
        wsp_http_header hdrs[WSP_HTTP_HEADERS_MAX];
        wsp_http_response res = {.headers = hdrs, .num_headers = WSP_HTTP_HEADERS_MAX};
        int hr = wsp_http_parse_response(head, hl, &res, NULL);
        if (hr == WSP_HTTP_ERROR) {
            wsp_err_set(&e, WSP_CLASS_PROXY_PROTOCOL, "the proxy's answer to CONNECT is not HTTP");
            goto failed;
        }
        if (hr > 0) {
            char target[300];
            snprintf(target, sizeof target, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
            if (wsp_proxy_connect_judge(p, &res, target, &e) != 0)
                goto failed;
            return 0;
        }
    }
    wsp_err_set(&e, WSP_CLASS_PROXY_PROTOCOL, "the proxy's answer to CONNECT has no end");
failed:
    snprintf(why, cap, "through the proxy %s: %s", p->shown, e.msg);
    return -1;
}

int wsp_rawc_open(wsp_rawc *c, const wsp_url *u, const wsp_conn_opts *o, uint64_t deadline_ns,
                  char *why, size_t cap)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->deadline_ns = deadline_ns;
    const wsp_proxy *p = o->proxy && o->proxy->kind != WSP_PROXY_NONE ? o->proxy : NULL;
    if (p) {
        if (p->kind == WSP_PROXY_HTTPS) {
            snprintf(why, cap,
                     "the raw client does not go through an https:// proxy (http://, "
                     "socks5:// and socks5h:// it does)");
            return -1;
        }
        /* the tunnel's target: a pinned address, a literal, the name, or for socks5:// the
         * name resolved here */
        char host[WSP_URL_HOST_MAX + 1];
        snprintf(host, sizeof host, "%s", u->host);
        if (o->num_pinned > 0)
            wsp_dns_addr_str((const struct sockaddr *)&o->pinned[0], host, sizeof host);
        else if (p->kind == WSP_PROXY_SOCKS5 && !u->host_is_ip) {
            struct addrinfo hints, *res = NULL;
            memset(&hints, 0, sizeof hints);
            hints.ai_socktype = SOCK_STREAM;
            hints.ai_family = o->family;
            int gr = getaddrinfo(u->host, NULL, &hints, &res);
            if (gr != 0) {
                snprintf(why, cap, "cannot resolve %.100s: %s", u->host, gai_strerror(gr));
                return -1;
            }
            wsp_dns_addr_str(res->ai_addr, host, sizeof host);
            freeaddrinfo(res);
        }
        c->fd = connect_host(p->host, p->host_is_ip, p->port, o->family, deadline_ns, why, cap);
        if (c->fd < 0)
            return -1;
        if (open_tunnel(c, p, host, u->port, why, cap) != 0) {
            close(c->fd);
            c->fd = -1;
            return -1;
        }
    } else if (o->num_pinned > 0) {
        for (int i = 0; i < o->num_pinned && c->fd < 0; i++) {
            const struct sockaddr_storage *ss = &o->pinned[i];
            c->fd = try_connect((const struct sockaddr *)ss,
                                ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                          : sizeof(struct sockaddr_in),
                                c->deadline_ns);
        }
        if (c->fd < 0) {
            snprintf(why, cap, "cannot connect to %.100s port %u", u->host, u->port);
            return -1;
        }
    } else {
        c->fd = connect_host(u->host, u->host_is_ip, u->port, o->family, deadline_ns, why, cap);
        if (c->fd < 0)
            return -1;
    }
    if (!u->tls)
        return 0;
    if (!o->tls_ctx) {
        snprintf(why, cap, "no TLS context for a wss:// URL");
        close(c->fd);
        return -1;
    }
    c->ssl = SSL_new(o->tls_ctx);
    if (!c->ssl) {
        snprintf(why, cap, "out of memory (TLS)");
        close(c->fd);
        return -1;
    }
    /* what this client probes is the HTTP layer; the certificate is tls.certificate's job */
    SSL_set_verify(c->ssl, SSL_VERIFY_NONE, NULL);
    SSL_set_fd(c->ssl, c->fd);
    if (!u->host_is_ip)
        SSL_set_tlsext_host_name(c->ssl, u->host);
    for (;;) {
        ERR_clear_error();
        int r = SSL_connect(c->ssl);
        if (r == 1)
            return 0;
        int e = SSL_get_error(c->ssl, r);
        short ev = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        if (!ev || wait_fd(c->fd, ev, c->deadline_ns) <= 0) {
            ERR_clear_error();
            snprintf(why, cap, "TLS handshake failed");
            SSL_free(c->ssl);
            c->ssl = NULL;
            close(c->fd);
            c->fd = -1;
            return -1;
        }
    }
}

void wsp_rawc_close(wsp_rawc *c)
{
    if (c->ssl) {
        SSL_free(c->ssl);
        ERR_clear_error();
    }
    if (c->fd >= 0)
        close(c->fd);
    c->ssl = NULL;
    c->fd = -1;
}

int wsp_rawc_write(wsp_rawc *c, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n;
        if (c->ssl) {
            ERR_clear_error();
            int r = SSL_write(c->ssl, p, (int)len);
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                short ev = e == SSL_ERROR_WANT_READ    ? POLLIN
                           : e == SSL_ERROR_WANT_WRITE ? POLLOUT
                                                       : 0;
                ERR_clear_error();
                if (!ev || wait_fd(c->fd, ev, c->deadline_ns) <= 0)
                    return -1;
                continue;
            }
            n = r;
        } else {
            n = send(c->fd, p, len, MSG_NOSIGNAL);
            if (n < 0) {
                if ((errno == EAGAIN || errno == EWOULDBLOCK) &&
                    wait_fd(c->fd, POLLOUT, c->deadline_ns) > 0)
                    continue;
                return -1;
            }
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

ssize_t wsp_rawc_read(wsp_rawc *c, void *buf, size_t cap, uint64_t until_ns)
{
    for (;;) {
        if (c->ssl) {
            ERR_clear_error();
            int r = SSL_read(c->ssl, buf, (int)cap);
            if (r > 0)
                return r;
            int e = SSL_get_error(c->ssl, r);
            ERR_clear_error();
            if (e == SSL_ERROR_ZERO_RETURN)
                return 0;
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                return e == SSL_ERROR_SYSCALL ? 0 : -1;
            int w = wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, until_ns);
            if (w == 0)
                return -2;
            if (w < 0)
                return -1;
        } else {
            ssize_t n = recv(c->fd, buf, cap, 0);
            if (n >= 0)
                return n;
            if (errno == ECONNRESET)
                return 0;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return -1;
            int w = wait_fd(c->fd, POLLIN, until_ns);
            if (w == 0)
                return -2;
            if (w < 0)
                return -1;
        }
    }
}

int wsp_rawc_exchange(wsp_rawc *c, const char *req, size_t len, int *status, char *head, size_t cap)
{
    *status = -1;
    head[0] = '\0';
    if (wsp_rawc_write(c, req, len) != 0) {
        *status = 0;
        return 0;
    }
    size_t have = 0;
    for (;;) {
        ssize_t n = wsp_rawc_read(c, head + have, cap - 1 - have, c->deadline_ns);
        if (n == -2)
            break;
        if (n <= 0) {
            if (have == 0)
                *status = 0;
            break;
        }
        have += (size_t)n;
        head[have] = '\0';
        if (strstr(head, "\r\n\r\n") || have + 1 >= cap)
            break;
    }
    head[have] = '\0';
    if (have >= 12 && strncmp(head, "HTTP/1.", 7) == 0) {
        char *end;
        long st = strtol(head + 9, &end, 10);
        *status = (int)st;
    } else if (have > 0) {
        *status = 0;
    }
    return 0;
}
