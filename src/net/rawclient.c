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

int wsp_rawc_open(wsp_rawc *c, const wsp_url *u, const wsp_conn_opts *o, uint64_t deadline_ns,
                  char *why, size_t cap)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->deadline_ns = deadline_ns;
    if (o->num_pinned > 0) {
        for (int i = 0; i < o->num_pinned && c->fd < 0; i++) {
            const struct sockaddr_storage *ss = &o->pinned[i];
            c->fd = try_connect((const struct sockaddr *)ss,
                                ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                          : sizeof(struct sockaddr_in),
                                c->deadline_ns);
        }
    } else {
        struct addrinfo hints, *res = NULL;
        memset(&hints, 0, sizeof hints);
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_family = o->family;
        hints.ai_flags = u->host_is_ip ? AI_NUMERICHOST : 0;
        char port[8];
        snprintf(port, sizeof port, "%u", u->port);
        int gr = getaddrinfo(u->host, port, &hints, &res);
        if (gr != 0) {
            snprintf(why, cap, "cannot resolve %.100s: %s", u->host, gai_strerror(gr));
            return -1;
        }
        for (struct addrinfo *a = res; a && c->fd < 0; a = a->ai_next)
            c->fd = try_connect(a->ai_addr, a->ai_addrlen, c->deadline_ns);
        freeaddrinfo(res);
    }
    if (c->fd < 0) {
        snprintf(why, cap, "cannot connect to %.100s port %u", u->host, u->port);
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
