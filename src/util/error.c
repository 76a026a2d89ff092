/* error.c - the class table. Every switch here has no default: -Wswitch-enum makes a new class
 * that is missing from any of them a compile error. */
#include "util/error.h"

#include <stdio.h>
#include <string.h>

const char *wsp_class_name(wsp_class cls)
{
    switch (cls) {
    case WSP_CLASS_OK:
        return "OK";
    case WSP_CLASS_USAGE:
        return "USAGE";
    case WSP_CLASS_URL_INVALID:
        return "URL_INVALID";
    case WSP_CLASS_DNS_NXDOMAIN:
        return "DNS_NXDOMAIN";
    case WSP_CLASS_DNS_TEMPFAIL:
        return "DNS_TEMPFAIL";
    case WSP_CLASS_TCP_REFUSED:
        return "TCP_REFUSED";
    case WSP_CLASS_TCP_TIMEOUT:
        return "TCP_TIMEOUT";
    case WSP_CLASS_NET_UNREACHABLE:
        return "NET_UNREACHABLE";
    case WSP_CLASS_TLS_HANDSHAKE:
        return "TLS_HANDSHAKE";
    case WSP_CLASS_TLS_TO_PLAINTEXT:
        return "TLS_TO_PLAINTEXT";
    case WSP_CLASS_CERT_UNTRUSTED:
        return "CERT_UNTRUSTED";
    case WSP_CLASS_CERT_NAME_MISMATCH:
        return "CERT_NAME_MISMATCH";
    case WSP_CLASS_CERT_EXPIRED:
        return "CERT_EXPIRED";
    case WSP_CLASS_HS_NO_RESPONSE:
        return "HS_NO_RESPONSE";
    case WSP_CLASS_HS_MALFORMED:
        return "HS_MALFORMED";
    case WSP_CLASS_UPGRADE_IGNORED:
        return "UPGRADE_IGNORED";
    case WSP_CLASS_UPGRADE_REDIRECT:
        return "UPGRADE_REDIRECT";
    case WSP_CLASS_UPGRADE_AUTH:
        return "UPGRADE_AUTH";
    case WSP_CLASS_UPGRADE_NOT_FOUND:
        return "UPGRADE_NOT_FOUND";
    case WSP_CLASS_UPGRADE_REJECTED:
        return "UPGRADE_REJECTED";
    case WSP_CLASS_UPGRADE_SERVER_ERROR:
        return "UPGRADE_SERVER_ERROR";
    case WSP_CLASS_HS_BAD_HEADERS:
        return "HS_BAD_HEADERS";
    case WSP_CLASS_HS_BAD_ACCEPT:
        return "HS_BAD_ACCEPT";
    case WSP_CLASS_HS_NEGOTIATION:
        return "HS_NEGOTIATION";
    case WSP_CLASS_HS_TIMEOUT:
        return "HS_TIMEOUT";
    case WSP_CLASS_INTERNAL:
        return "INTERNAL";
    case WSP_CLASS_WS_CLOSED:
        return "WS_CLOSED";
    case WSP_CLASS_WS_DROPPED:
        return "WS_DROPPED";
    case WSP_CLASS_WS_PROTOCOL:
        return "WS_PROTOCOL";
    case WSP_CLASS_WS_MSG_TIMEOUT:
        return "WS_MSG_TIMEOUT";
    case WSP_CLASS_WS_EXPECT_MISMATCH:
        return "WS_EXPECT_MISMATCH";
    case WSP_CLASS_WS_PONG_TIMEOUT:
        return "WS_PONG_TIMEOUT";
    case WSP_CLASS_WAIT_DEADLINE:
        return "WAIT_DEADLINE";
    case WSP_CLASS_AUTH_NOT_ENFORCED:
        return "AUTH_NOT_ENFORCED";
    case WSP_CLASS_OUTPUT_FAILED:
        return "OUTPUT_FAILED";
    case WSP_CLASS_PROXY_UNREACHABLE:
        return "PROXY_UNREACHABLE";
    case WSP_CLASS_PROXY_AUTH:
        return "PROXY_AUTH";
    case WSP_CLASS_PROXY_TUNNEL_FAILED:
        return "PROXY_TUNNEL_FAILED";
    case WSP_CLASS_PROXY_PROTOCOL:
        return "PROXY_PROTOCOL";
    case WSP_CLASS_APP_AUTH_REFUSED:
        return "APP_AUTH_REFUSED";
    case WSP_CLASS_APP_PROTOCOL:
        return "APP_PROTOCOL";
    case WSP_CLASS_APP_ERROR:
        return "APP_ERROR";
    }
    return "INTERNAL";
}

int wsp_class_exit_code(wsp_class cls)
{
    switch (cls) {
    case WSP_CLASS_OK:
        return 0;
    case WSP_CLASS_USAGE:
        return 2;
    case WSP_CLASS_URL_INVALID:
        return 10;
    case WSP_CLASS_DNS_NXDOMAIN:
        return 11;
    case WSP_CLASS_DNS_TEMPFAIL:
        return 12;
    case WSP_CLASS_TCP_REFUSED:
        return 20;
    case WSP_CLASS_TCP_TIMEOUT:
        return 21;
    case WSP_CLASS_NET_UNREACHABLE:
        return 22;
    case WSP_CLASS_TLS_HANDSHAKE:
        return 30;
    case WSP_CLASS_TLS_TO_PLAINTEXT:
        return 31;
    case WSP_CLASS_CERT_UNTRUSTED:
        return 32;
    case WSP_CLASS_CERT_NAME_MISMATCH:
        return 33;
    case WSP_CLASS_CERT_EXPIRED:
        return 34;
    case WSP_CLASS_HS_NO_RESPONSE:
        return 40;
    case WSP_CLASS_HS_MALFORMED:
        return 41;
    case WSP_CLASS_UPGRADE_IGNORED:
        return 42;
    case WSP_CLASS_UPGRADE_REDIRECT:
        return 43;
    case WSP_CLASS_UPGRADE_AUTH:
        return 44;
    case WSP_CLASS_UPGRADE_NOT_FOUND:
        return 45;
    case WSP_CLASS_UPGRADE_REJECTED:
        return 46;
    case WSP_CLASS_UPGRADE_SERVER_ERROR:
        return 47;
    case WSP_CLASS_HS_BAD_HEADERS:
        return 48;
    case WSP_CLASS_HS_BAD_ACCEPT:
        return 49;
    case WSP_CLASS_HS_NEGOTIATION:
        return 50;
    case WSP_CLASS_HS_TIMEOUT:
        return 51;
    case WSP_CLASS_INTERNAL:
        return 70;
    case WSP_CLASS_WS_CLOSED:
        return 80;
    case WSP_CLASS_WS_DROPPED:
        return 81;
    case WSP_CLASS_WS_PROTOCOL:
        return 82;
    case WSP_CLASS_WS_MSG_TIMEOUT:
        return 83;
    case WSP_CLASS_WS_EXPECT_MISMATCH:
        return 84;
    case WSP_CLASS_WS_PONG_TIMEOUT:
        return 85;
    case WSP_CLASS_WAIT_DEADLINE:
        return 124;
    case WSP_CLASS_AUTH_NOT_ENFORCED:
        return 60;
    case WSP_CLASS_OUTPUT_FAILED:
        return 71;
    case WSP_CLASS_PROXY_UNREACHABLE:
        return 23;
    case WSP_CLASS_PROXY_AUTH:
        return 24;
    case WSP_CLASS_PROXY_TUNNEL_FAILED:
        return 25;
    case WSP_CLASS_PROXY_PROTOCOL:
        return 26;
    case WSP_CLASS_APP_AUTH_REFUSED:
        return 61;
    case WSP_CLASS_APP_PROTOCOL:
        return 62;
    case WSP_CLASS_APP_ERROR:
        return 63;
    }
    return 70;
}

const char *wsp_class_describe(wsp_class cls)
{
    switch (cls) {
    case WSP_CLASS_OK:
        return "every phase and expectation held";
    case WSP_CLASS_USAGE:
        return "bad flags or configuration";
    case WSP_CLASS_URL_INVALID:
        return "not ws/wss, no host, bad port";
    case WSP_CLASS_DNS_NXDOMAIN:
        return "the name does not exist";
    case WSP_CLASS_DNS_TEMPFAIL:
        return "resolver timeout, SERVFAIL, unreachable resolver";
    case WSP_CLASS_TCP_REFUSED:
        return "connection refused";
    case WSP_CLASS_TCP_TIMEOUT:
        return "no answer to SYN before the deadline";
    case WSP_CLASS_NET_UNREACHABLE:
        return "no route to host or network";
    case WSP_CLASS_TLS_HANDSHAKE:
        return "TLS alert or handshake failure";
    case WSP_CLASS_TLS_TO_PLAINTEXT:
        return "wss:// against a plain HTTP port";
    case WSP_CLASS_CERT_UNTRUSTED:
        return "chain does not verify";
    case WSP_CLASS_CERT_NAME_MISMATCH:
        return "certificate does not cover the host";
    case WSP_CLASS_CERT_EXPIRED:
        return "expired, not yet valid, or fewer days left than --min-cert-days";
    case WSP_CLASS_HS_NO_RESPONSE:
        return "connection closed before a status line";
    case WSP_CLASS_HS_MALFORMED:
        return "not HTTP, or status/headers malformed or oversized";
    case WSP_CLASS_UPGRADE_IGNORED:
        return "2xx without an upgrade (proxy stripped Upgrade, SPA fallback)";
    case WSP_CLASS_UPGRADE_REDIRECT:
        return "3xx (Location reported)";
    case WSP_CLASS_UPGRADE_AUTH:
        return "401, 403, 407: the endpoint exists and refuses these credentials";
    case WSP_CLASS_UPGRADE_NOT_FOUND:
        return "404, 405, 410";
    case WSP_CLASS_UPGRADE_REJECTED:
        return "other 4xx (429 retried, honouring Retry-After)";
    case WSP_CLASS_UPGRADE_SERVER_ERROR:
        return "5xx";
    case WSP_CLASS_HS_BAD_HEADERS:
        return "101 without Upgrade: websocket or Connection: upgrade";
    case WSP_CLASS_HS_BAD_ACCEPT:
        return "Sec-WebSocket-Accept missing, repeated or wrong";
    case WSP_CLASS_HS_NEGOTIATION:
        return "subprotocol or extension not offered, or required and absent";
    case WSP_CLASS_HS_TIMEOUT:
        return "no complete response before the deadline";
    case WSP_CLASS_INTERNAL:
        return "a bug or out of memory in wsprobe";
    case WSP_CLASS_WS_CLOSED:
        return "the server closed before the conversation was over (any code), or with a code "
               "other than 1000/1001 (1012/1013 retried by wait)";
    case WSP_CLASS_WS_DROPPED:
        return "connection lost without a close frame";
    case WSP_CLASS_WS_PROTOCOL:
        return "peer broke RFC 6455 (masked server frame, bad opcode or RSV, bad UTF-8)";
    case WSP_CLASS_WS_MSG_TIMEOUT:
        return "open, but nothing came in time (the expected message, or the --expect-close)";
    case WSP_CLASS_WS_EXPECT_MISMATCH:
        return "messages came and none matched (the last one's first 200 bytes reported), or "
               "a close with a code --expect-close does not name";
    case WSP_CLASS_WS_PONG_TIMEOUT:
        return "ping not answered";
    case WSP_CLASS_WAIT_DEADLINE:
        return "wait ran out of time (last class reported)";
    case WSP_CLASS_AUTH_NOT_ENFORCED:
        return "--expect-auth-required: the endpoint served a client without credentials";
    case WSP_CLASS_OUTPUT_FAILED:
        return "a report (--json=FILE, --junit, --hdr-out, ...) could not be written: the "
               "evidence is lost, so this wins over the verdict's own code";
    case WSP_CLASS_PROXY_UNREACHABLE:
        return "the proxy refused the connection, could not be reached, or did not answer "
               "the tunnel request in time (retried by wait)";
    case WSP_CLASS_PROXY_AUTH:
        return "the proxy wants credentials or refused them: 407 to CONNECT (its scheme "
               "named), or SOCKS5 authentication refused; a 407 to the upgrade itself is "
               "UPGRADE_AUTH";
    case WSP_CLASS_PROXY_TUNNEL_FAILED:
        return "the proxy refused the tunnel: CONNECT answered with another non-2xx, or a SOCKS5 "
               "reply code, named (502/503/504 retried by wait)";
    case WSP_CLASS_PROXY_PROTOCOL:
        return "the proxy answered with something that is not HTTP or SOCKS5, or closed in the "
               "middle of the tunnel request";
    case WSP_CLASS_APP_AUTH_REFUSED:
        return "the application protocol refused the credential after the upgrade: a Socket.IO "
               "CONNECT_ERROR, or GraphQL close 4401/4403 (the equivalent of UPGRADE_AUTH one "
               "layer up)";
    case WSP_CLASS_APP_PROTOCOL:
        return "the server broke the application protocol (--protocol): a malformed or "
               "out-of-order Engine.IO, Socket.IO or GraphQL packet, the wrong Engine.IO version, "
               "an absurd open packet; the bytes are quoted";
    case WSP_CLASS_APP_ERROR:
        return "the application answered with an error: a GraphQL `error` message, or a `next` "
               "whose errors the expectations did not allow; the GraphQL errors are quoted";
    }
    return "unknown";
}

const char *wsp_class_default_hint(wsp_class cls)
{
    switch (cls) {
    case WSP_CLASS_OK:
        return "";
    case WSP_CLASS_USAGE:
        return "see wsprobe --help";
    case WSP_CLASS_URL_INVALID:
        return "write the URL as ws://host[:port]/path or wss://host[:port]/path";
    case WSP_CLASS_DNS_NXDOMAIN:
        return "the name does not exist in DNS: check the spelling, the DNS record and the "
               "resolver (--dns-server), or pin an address with --resolve host:port:addr";
    case WSP_CLASS_DNS_TEMPFAIL:
        return "the resolver did not give an answer: check that it is reachable and healthy, "
               "or try another with --dns-server; retrying may help";
    case WSP_CLASS_TCP_REFUSED:
        return "nothing listens on that address and port: check the port, that the service is "
               "running, and any security group or firewall rejecting with RST";
    case WSP_CLASS_TCP_TIMEOUT:
        return "no answer to the TCP SYN: a firewall is dropping packets, the host is down, or "
               "the address is wrong";
    case WSP_CLASS_NET_UNREACHABLE:
        return "there is no route to that network from here: check the address family (-4/-6), "
               "routing and VPN";
    case WSP_CLASS_TLS_HANDSHAKE:
        return "the TLS handshake failed: compare protocol versions (--tls-min), ciphers and "
               "whether the server wants a client certificate (--cert/--key)";
    case WSP_CLASS_TLS_TO_PLAINTEXT:
        return "the port speaks plain HTTP, not TLS: use ws:// for this port, or point wss:// at "
               "the TLS port";
    case WSP_CLASS_CERT_UNTRUSTED:
        return "the certificate chain does not verify: serve the full chain (intermediates), or "
               "give the private CA with --cacert";
    case WSP_CLASS_CERT_NAME_MISMATCH:
        return "the certificate does not cover this host name: the ingress may be serving its "
               "default certificate; check the SNI route and the certificate's SANs";
    case WSP_CLASS_CERT_EXPIRED:
        return "renew the certificate (or check the clock of the server and of this machine)";
    case WSP_CLASS_HS_NO_RESPONSE:
        return "the server closed the connection without answering the upgrade request: check "
               "its logs, and that this port speaks HTTP";
    case WSP_CLASS_HS_MALFORMED:
        return "the answer is not valid HTTP/1.1: is this port really an HTTP server, or does a "
               "proxy mangle the response?";
    case WSP_CLASS_UPGRADE_IGNORED:
        return "got a 2xx without Upgrade: a proxy in front is not forwarding the Upgrade header "
               "(for nginx add proxy_http_version 1.1 and proxy_set_header Upgrade $http_upgrade "
               "and Connection \"upgrade\"), or the path serves a page, not the WebSocket";
    case WSP_CLASS_UPGRADE_REDIRECT:
        return "the server redirects: probe the Location instead (a WebSocket client does not "
               "follow redirects)";
    case WSP_CLASS_UPGRADE_AUTH:
        return "the endpoint exists and refuses these credentials: check the token (secret, "
               "expiry, audience) and the Origin";
    case WSP_CLASS_UPGRADE_NOT_FOUND:
        return "no WebSocket route at this path: check the path and that the route is deployed";
    case WSP_CLASS_UPGRADE_REJECTED:
        return "the server rejected the request: see the status and body; 429 means rate "
               "limited (honour Retry-After)";
    case WSP_CLASS_UPGRADE_SERVER_ERROR:
        return "the server or a gateway failed: 502/503/504 usually mean the backend behind the "
               "proxy is down or not ready; check its logs";
    case WSP_CLASS_HS_BAD_HEADERS:
        return "the 101 response lacks Upgrade: websocket or Connection: Upgrade: a proxy is "
               "rewriting the handshake";
    case WSP_CLASS_HS_BAD_ACCEPT:
        return "Sec-WebSocket-Accept is wrong: something between client and server answers the "
               "handshake without implementing RFC 6455 section 4.2.2 (or caches responses)";
    case WSP_CLASS_HS_NEGOTIATION:
        return "the server chose a subprotocol or extension this client did not offer, or did "
               "not choose one that is required: align --subprotocol with the server";
    case WSP_CLASS_HS_TIMEOUT:
        return "the server accepted the connection but did not answer the upgrade in time: it "
               "may be overloaded, or a proxy is waiting on a dead backend";
    case WSP_CLASS_INTERNAL:
        return "this is a bug in wsprobe: please report it with -v output";
    case WSP_CLASS_WS_CLOSED:
        return "the server closed the WebSocket: the close code and reason say why";
    case WSP_CLASS_WS_DROPPED:
        return "the TCP connection ended without a close frame: the server crashed, or an idle "
               "timeout in a proxy or load balancer cut it";
    case WSP_CLASS_WS_PROTOCOL:
        return "the server broke RFC 6455: its WebSocket implementation (or a proxy) is faulty";
    case WSP_CLASS_WS_MSG_TIMEOUT:
        return "the connection is open but the expected message did not arrive: check what the "
               "server expects to receive, or raise --timeout";
    case WSP_CLASS_WS_EXPECT_MISMATCH:
        return "a message arrived but did not match the expectation: compare it with --expect-*";
    case WSP_CLASS_WS_PONG_TIMEOUT:
        return "the ping was not answered: the server or a proxy does not handle control frames";
    case WSP_CLASS_WAIT_DEADLINE:
        return "the endpoint did not become healthy before the deadline: see the last class";
    case WSP_CLASS_AUTH_NOT_ENFORCED:
        return "anyone can use this endpoint: enable token verification on the WebSocket route "
               "(and check that the proxy in front does not bypass it)";
    case WSP_CLASS_OUTPUT_FAILED:
        return "check the path, its directory's permissions and the free space; the verdict "
               "is still printed on the terminal";
    case WSP_CLASS_PROXY_UNREACHABLE:
        return "check the proxy's address and port (--proxy, or the *_proxy variable the report "
               "names), and that it is running; list the host in no_proxy to go direct";
    case WSP_CLASS_PROXY_AUTH:
        return "give the proxy's user:password in an environment variable named by "
               "--proxy-user-env (never on the command line)";
    case WSP_CLASS_PROXY_TUNNEL_FAILED:
        return "the proxy is up but will not open this tunnel: its rules (allowed ports and "
               "hosts) or its own route to the endpoint";
    case WSP_CLASS_PROXY_PROTOCOL:
        return "this is not the kind of proxy the URL says: http:// and https:// speak CONNECT, "
               "socks5:// SOCKS5; check the scheme and port";
    case WSP_CLASS_APP_AUTH_REFUSED:
        return "the WebSocket opened but the application refused the credential: check the token "
               "and where it goes (--auth-in socketio-auth or init-payload, and its KEY)";
    case WSP_CLASS_APP_PROTOCOL:
        return "the server does not speak the protocol --protocol names, or not this version of "
               "it: check --protocol, --engineio and --socketio-path against the server's library";
    case WSP_CLASS_APP_ERROR:
        return "the server ran the operation and answered with errors: read them in the message; "
               "check the query, its variables and the server's logs";
    }
    return "";
}

int wsp_class_from_name(const char *name)
{
    for (int i = 0; i < WSP_CLASS_COUNT; i++)
        if (strcmp(wsp_class_name((wsp_class)i), name) == 0)
            return i;
    return -1;
}

void wsp_err_clear(wsp_err *err)
{
    if (!err)
        return;
    err->cls = WSP_CLASS_OK;
    err->sys_errno = 0;
    err->tls_err = 0;
    err->msg[0] = '\0';
    err->hint[0] = '\0';
}

int wsp_err_vset(wsp_err *err, wsp_class cls, const char *fmt, va_list ap)
{
    if (!err)
        return -1;
    err->cls = cls;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    snprintf(err->hint, sizeof err->hint, "%s", wsp_class_default_hint(cls));
    return -1;
}

int wsp_err_set(wsp_err *err, wsp_class cls, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wsp_err_vset(err, cls, fmt, ap);
    va_end(ap);
    return -1;
}

void wsp_err_hint(wsp_err *err, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->hint, sizeof err->hint, fmt, ap);
    va_end(ap);
}
