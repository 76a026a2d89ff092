#!/usr/bin/python3 -u
"""The program websocketd wraps in the conformance corpus: every line read on stdin is written
back on stdout at once (unbuffered), so each WebSocket text message comes back as it was sent.
Ends at EOF (websocketd closes stdin when the WebSocket closes)."""
import sys

for line in sys.stdin:
    sys.stdout.write(line)
    sys.stdout.flush()
