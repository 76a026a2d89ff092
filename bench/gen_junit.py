#!/usr/bin/env python3
"""Write a JUnit XML report of about SIZE megabytes, in the mixed shape real runners produce.

usage: gen_junit.py SIZE_MB OUT.xml [--seed N]

Surefire-like suites (one per class, with suite-level properties and output, which the reader
skips), pytest-like cases (classname + name + time, captured output on some), a few failures
with stack traces, skips, flaky reruns, testcase properties, times with grouping commas, and a
handful of hollow passes (a swallowed ConnectionRefusedError, a zero-time network test) so the
audit has findings to keep. Deterministic for a given seed; streams to disk (memory stays flat).
"""
import random
import sys

LOG_LINES = [
    "INFO  connecting to ws://127.0.0.1:8080/ws",
    "DEBUG sent 42 bytes, received 42 bytes",
    "INFO  closing with 1000",
    "DEBUG frame opcode=1 len=17 fin=1",
    "TRACE heartbeat ok",
]
TRACE = (
    "java.lang.AssertionError: expected:&lt;200&gt; but was:&lt;503&gt;\n"
    "\tat org.junit.Assert.fail(Assert.java:89)\n"
    "\tat org.junit.Assert.failNotEquals(Assert.java:835)\n"
    "\tat com.example.chat.ChatIT.sends(ChatIT.java:57)\n"
)
SUITE_PROPS = "".join(
    '<property name="%s" value="%s"/>' % (k, v)
    for k, v in [
        ("java.version", "17.0.9"), ("os.name", "Linux"), ("user.dir", "/build/workspace"),
        ("file.encoding", "UTF-8"), ("surefire.test.class.path", "/build/target/test-classes:" * 8),
        ("java.vm.name", "OpenJDK 64-Bit Server VM"), ("sun.arch.data.model", "64"),
        ("maven.home", "/usr/share/maven"), ("line.separator", "&#10;"),
    ]
)


def fmt_time(rng, i):
    r = rng.random()
    if r < 0.05:
        return "%d,%03d.%03d" % (1 + rng.randrange(9), rng.randrange(1000), rng.randrange(1000))
    return "%.3f" % (rng.random() * 0.8 + 0.01)


def suite(rng, n_suite):
    cls = "com.example.module%d.Feature%dIT" % (n_suite % 37, n_suite)
    parts = []
    ncases = 40 + rng.randrange(20)
    for i in range(ncases):
        name = "test_case_%d_does_something_%s" % (i, "abcdefghij"[i % 10] * (1 + i % 5))
        t = fmt_time(rng, i)
        r = rng.random()
        if r < 0.70:
            parts.append('<testcase name="%s" classname="%s" time="%s"/>\n' % (name, cls, t))
        elif r < 0.85:
            out = "\n".join(rng.choice(LOG_LINES) for _ in range(4 + rng.randrange(8)))
            parts.append('<testcase name="%s" classname="%s" time="%s">\n<system-out>%s\n'
                         '</system-out>\n</testcase>\n' % (name, cls, t, out))
        elif r < 0.90:
            parts.append('<testcase name="%s" classname="%s" time="%s">\n<properties>'
                         '<property name="ws.bytes_rx" value="%d"/><property name="ws.frames" '
                         'value="%d"/></properties>\n</testcase>\n'
                         % (name, cls, t, rng.randrange(1, 5000), rng.randrange(1, 40)))
        elif r < 0.94:
            parts.append('<testcase name="%s" classname="%s" time="%s">\n<failure message="'
                         'expected:&lt;200&gt; but was:&lt;503&gt;" type="java.lang.AssertionError">'
                         '%s</failure>\n<system-out>%s</system-out>\n</testcase>\n'
                         % (name, cls, t, TRACE, LOG_LINES[0]))
        elif r < 0.97:
            parts.append('<testcase name="%s" classname="%s" time="0"><skipped message="'
                         'not on this platform"/></testcase>\n' % (name, cls))
        elif r < 0.985:
            parts.append('<testcase name="%s" classname="%s" time="%s">\n<flakyFailure message="'
                         'timeout" type="java.net.SocketTimeoutException"><stackTrace>%s'
                         '</stackTrace><system-out>Connection timed out</system-out>'
                         '</flakyFailure>\n</testcase>\n' % (name, cls, t, TRACE))
        elif r < 0.995:
            parts.append('<testcase name="net_%s" classname="%s" time="0.000">\n<system-out>'
                         'connect failed: ConnectionRefusedError(111, \'Connection refused\')'
                         '</system-out>\n</testcase>\n' % (name, cls))
        else:
            parts.append('<testcase name="net_zero_%s" classname="%s" time="0"/>\n' % (name, cls))
    head = ('<testsuite name="%s" tests="%d" failures="0" errors="0" skipped="0" time="%s">\n'
            '<properties>%s</properties>\n' % (cls, ncases, "12.5", SUITE_PROPS))
    tail = '<system-out>%s</system-out>\n</testsuite>\n' % "\n".join(LOG_LINES)
    return head + "".join(parts) + tail


def main():
    if len(sys.argv) < 3:
        sys.stderr.write(__doc__)
        sys.exit(2)
    target = int(float(sys.argv[1]) * 1024 * 1024)
    path = sys.argv[2]
    seed = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--seed" else 1
    rng = random.Random(seed)
    written = 0
    n = 0
    with open(path, "w", encoding="utf-8", buffering=1 << 20) as f:
        head = '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="generated">\n'
        f.write(head)
        written += len(head)
        # a pool of suites, reused with fresh names, keeps generation fast
        pool = [suite(rng, i) for i in range(64)]
        while written < target:
            k = n % len(pool)
            s = pool[k].replace("Feature%dIT" % k, "Feature%dIT" % n) if n >= len(pool) else pool[k]
            f.write(s)
            written += len(s)
            n += 1
        f.write("</testsuites>\n")
    print("%s: %d bytes, %d suites" % (path, written, n))


if __name__ == "__main__":
    main()
