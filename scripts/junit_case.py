#!/usr/bin/env python3
"""Write a one-case JUnit file for a check step (build, format, a fuzz run)."""
import sys
from xml.sax.saxutils import quoteattr, escape

path, name, status, msg = sys.argv[1], sys.argv[2], sys.argv[3], (sys.argv[4] if len(sys.argv) > 4 else "")
body = ""
if status == "fail":
    body = "<failure message=%s>%s</failure>" % (quoteattr(msg), escape(msg))
elif status == "skip":
    body = "<skipped message=%s/>" % quoteattr(msg)
with open(path, "w") as f:
    f.write('<?xml version="1.0"?>\n<testsuite name="steps" tests="1">'
            '<testcase classname="check" name=%s>%s</testcase></testsuite>\n' % (quoteattr(name), body))
