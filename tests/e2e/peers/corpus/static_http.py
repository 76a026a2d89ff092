#!/usr/bin/python3
"""A static HTTP server (the standard library's http.server) on 127.0.0.1 port 0 for the
browser tests' pages: the page's origin is then http://127.0.0.1:PORT.

    /usr/bin/python3 static_http.py DIR

Prints `READY <port>` on stdout and serves DIR until it is terminated. One dynamic path:
`/hold?ms=N` answers 204 after N milliseconds (at most 1000). The page fetches it while its
WebSocket's outcome is still open, because headless Chromium's virtual time does not advance
while a fetch is pending: --dump-dom then waits for the real outcome instead of racing it.
"""
import functools
import http.server
import sys
import time
import urllib.parse


class Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/hold":
            q = urllib.parse.parse_qs(url.query)
            try:
                ms = min(1000, max(0, int(q.get("ms", ["200"])[0])))
            except ValueError:
                ms = 200
            time.sleep(ms / 1000.0)
            self.send_response(204)
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            return
        super().do_GET()

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, fmt, *args):
        sys.stderr.write("%s\n" % (fmt % args))


def main():
    handler = functools.partial(Handler, directory=sys.argv[1])
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    sys.stdout.write("READY %d\n" % srv.server_address[1])
    sys.stdout.flush()
    srv.serve_forever()


if __name__ == "__main__":
    main()
