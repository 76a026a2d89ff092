/* tls_floor.c - OpenSSL's own memory floor for an idle TLS 1.3 connection (issue 19).
 *
 * The least a program can keep per connection with OpenSSL: one SSL on a socket, after a
 * TLS 1.3 handshake and one byte each way (so the client has read the server's session
 * tickets, as any real client does), its buffers released, from one shared SSL_CTX per
 * side, the client verifying the server's chain against a CA file. The server side runs in a
 * forked child; each side reports its own resident memory per connection:
 *
 *     (VmRSS after N connections - VmRSS after one warm-up connection) / N
 *
 * This is the floor `bench/bench_tls_memory.sh` sets wsprobe's load client and serve against.
 * It is a measurement, not a test: it prints one JSON line and exits 0 when it could measure.
 *
 * Usage: tls_floor N CERT KEY CA     (loopback only; N up to the file limit less 64) */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

static void die(const char *what);

static long rss_kib_checked(void)
{
    long kib = rss_kib();
    if (kib < 0)
        die("reading VmRSS from /proc/self/status");
    return kib;
}

static void die(const char *what)
{
    if (errno)
        fprintf(stderr, "tls_floor: %s: %m\n", what);
    else
        fprintf(stderr, "tls_floor: %s failed\n", what);
    ERR_print_errors_fp(stderr);
    exit(2);
}

/* One byte each way: the client then holds the session tickets the server sent. Then the
 * buffers go back: OpenSSL 3.0 keeps the 16 KiB read buffer after a read that processed the
 * tickets, SSL_MODE_RELEASE_BUFFERS notwithstanding, and SSL_free_buffers is what releases it
 * (it refuses, harmlessly, while a buffer holds data). */
static void exchange(SSL *ssl, int client)
{
    char b = 'x';
    if (client) {
        if (SSL_write(ssl, &b, 1) != 1 || SSL_read(ssl, &b, 1) != 1)
            die("client exchange");
    } else {
        if (SSL_read(ssl, &b, 1) != 1 || SSL_write(ssl, &b, 1) != 1)
            die("server exchange");
    }
    SSL_free_buffers(ssl);
}

/* lockstep handshakes of small records: without this each waits out a delayed ACK */
static int nodelay(int fd)
{
    int one = 1;
    return fd < 0 ? fd : setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0 ? fd : -1;
}

static SSL_CTX *ctx_new(int client, const char *cert, const char *key, const char *ca)
{
    SSL_CTX *ctx = SSL_CTX_new(client ? TLS_client_method() : TLS_server_method());
    if (!ctx)
        die("SSL_CTX_new");
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (client) {
        if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
            die("CA file");
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    } else if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
               SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        die("certificate or key");
    }
    return ctx;
}

/* The server side: accept n + 1 connections (one warm-up), report, wait to be told to go. */
static void serve(int lfd, long n, const char *cert, const char *key, int report_fd)
{
    SSL_CTX *ctx = ctx_new(0, cert, key, NULL);
    SSL **ssl = calloc((size_t)n + 1, sizeof *ssl);
    long base = 0;
    for (long i = 0; i <= n; i++) {
        int fd = nodelay(accept(lfd, NULL, NULL));
        if (fd < 0 || !(ssl[i] = SSL_new(ctx)) || SSL_set_fd(ssl[i], fd) != 1 ||
            SSL_accept(ssl[i]) != 1)
            die("accept");
        exchange(ssl[i], 0);
        if (i == 0)
            base = rss_kib_checked();
    }
    long per = (rss_kib_checked() - base) * 1024 / n;
    if (write(report_fd, &per, sizeof per) != (ssize_t)sizeof per)
        die("report");
    char c;
    if (read(report_fd, &c, 1) < 0) /* the client is done measuring */
        die("wait");
    _exit(0);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: tls_floor N CERT KEY CA\n");
        return 2;
    }
    char *end;
    long n = strtol(argv[1], &end, 10);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (*end || n < 1 || (getrlimit(RLIMIT_NOFILE, &rl) == 0 && (rlim_t)n + 64 > rl.rlim_cur)) {
        fprintf(stderr, "tls_floor: N must be 1 to the file limit less 64\n");
        return 2;
    }
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 4096) != 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &alen) != 0)
        die("listen");
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) != 0)
        die("socketpair");
    alarm(300); /* bounded: a side that stalls ends the run */
    pid_t child = fork();
    if (child < 0)
        die("fork");
    if (child == 0) {
        close(sp[0]);
        alarm(300);
        serve(lfd, n, argv[2], argv[3], sp[1]);
    }
    close(sp[1]);
    close(lfd);
    SSL_CTX *ctx = ctx_new(1, NULL, NULL, argv[4]);
    SSL **ssl = calloc((size_t)n + 1, sizeof *ssl);
    long base = 0;
    for (long i = 0; i <= n; i++) {
        int fd = nodelay(socket(AF_INET, SOCK_STREAM, 0));
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
            !(ssl[i] = SSL_new(ctx)) || SSL_set_fd(ssl[i], fd) != 1)
            die("connect");
        SSL_set1_host(ssl[i], "localhost");
        if (SSL_connect(ssl[i]) != 1)
            die("handshake");
        exchange(ssl[i], 1);
        if (i == 0)
            base = rss_kib_checked();
    }
    long client = (rss_kib_checked() - base) * 1024 / n, server = 0;
    if (read(sp[0], &server, sizeof server) != (ssize_t)sizeof server)
        die("server report");
    if (write(sp[0], "x", 1) != 1)
        die("release");
    waitpid(child, NULL, 0);
    printf("{\"bench\": \"tls_floor\", \"connections\": %ld, \"openssl\": \"%s\", "
           "\"client_bytes_per_conn\": %ld, \"server_bytes_per_conn\": %ld}\n",
           n, OpenSSL_version(OPENSSL_VERSION), client, server);
    return 0;
}
