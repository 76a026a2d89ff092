#!/usr/bin/env python3
"""Add up every JUnit file in a folder; print the failures and one closing line:
'N passed, N failed[, N skipped]'. Exit 1 when anything failed or nothing ran."""
import glob
import os
import sys
import xml.etree.ElementTree as ET

folder = sys.argv[1]
passed = failed = skipped = 0
failures = []
for path in sorted(glob.glob(os.path.join(folder, "*.xml"))):
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        failed += 1
        failures.append("%s: unreadable report (%s)" % (os.path.basename(path), e))
        continue
    for case in root.iter("testcase"):
        name = "%s::%s" % (case.get("classname", ""), case.get("name", ""))
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
            node = case.find("failure") if case.find("failure") is not None else case.find("error")
            failures.append("%s [%s]: %s" % (name, os.path.basename(path),
                                             (node.get("message") or node.text or "").strip()[:300]))
        elif case.find("skipped") is not None:
            skipped += 1
        else:
            passed += 1
for f in failures:
    print("FAILED", f)
line = "%d passed, %d failed" % (passed, failed)
if skipped:
    line += ", %d skipped" % skipped
print(line)
sys.exit(1 if failed or passed == 0 else 0)
