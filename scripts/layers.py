#!/usr/bin/python3
"""The layering check (docs/architecture.md, "Layers"): every #include "..." in src/ must point
at the file's own layer or a lower one, and the feature folders of one level (check, load,
audit, serve) may not include each other: what two of them share moves down. The exporter sits
above them: a module is a plan's environment, read by check's parser and built by check's
conversation builder (docs/architecture.md says why).
The codecs (src/codec/) are pure: no call that reads a clock, the environment or a file.

    util < codec < net < probe < report < {check, load, audit, serve} < exporter < cli

A folder's layer is its first path component under src/ (src/check/security/ is check). An
include must name its layer by path ("codec/ws.h"); a bare "ws.h" is reported too, since it
hides the layer. The generated "wsp_config.h" and "wsp_rev.h" may be included anywhere.

Usage: scripts/layers.py [SRC_DIR]      exit 0 when clean, 1 with one line per violation
       scripts/layers.py --self-test    proves the check fails on a wrong include
"""
import os
import re
import shutil
import sys
import tempfile

RANK = {"util": 0, "codec": 1, "net": 2, "probe": 3, "report": 4,
        "check": 5, "load": 5, "audit": 5, "serve": 5, "exporter": 6,
        "cli": 7}
SIBLINGS_APART = 5  # the level whose folders may not include each other
# Codecs are pure (docs/architecture.md): no I/O, no clock, no environment of their own. A call
# to any of these in src/codec/ is refused; randomness goes through util/rand.h.
IMPURE = re.compile(r"\b(getenv|secure_getenv|fopen|open|openat|read|write|socket|connect|"
                    r"clock_gettime|gettimeofday|time|uv_[a-z_]+)\s*\(")
ANYWHERE = {"wsp_config.h", "wsp_rev.h"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer_of(rel):
    """The layer of a path relative to src/ ("net/conn.c" -> "net"), or None."""
    top = rel.split("/", 1)[0]
    return top if "/" in rel and top in RANK else None


def check(src):
    problems = []
    for root, _, names in os.walk(src):
        for name in sorted(names):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, src)
            mine = layer_of(rel)
            if mine is None:
                problems.append("%s: not in a layer folder (%s)" % (rel, ", ".join(RANK)))
                continue
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
            if mine == "codec":
                code = re.sub(r"/\*.*?\*/|//[^\n]*|\"(\\.|[^\"\\])*\"", "", text, flags=re.S)
                for m in IMPURE.finditer(code):
                    problems.append("%s: calls %s(): a codec reads no clock, environment or file "
                                    "(pass it in)" % (rel, m.group(1)))
            for m in INCLUDE.finditer(text):
                inc = m.group(1)
                line = text.count("\n", 0, m.start()) + 1
                if inc in ANYWHERE:
                    continue
                target = os.path.normpath(os.path.join(os.path.dirname(rel), inc))
                theirs = layer_of(inc)
                if theirs is None and os.path.exists(os.path.join(src, target)):
                    theirs = layer_of(target)
                    if theirs is not None and theirs != mine:
                        problems.append("%s:%d: \"%s\" hides its layer: write \"%s\"" %
                                        (rel, line, inc, target))
                        continue
                if theirs is None:
                    if not os.path.exists(os.path.join(src, target)):
                        problems.append("%s:%d: \"%s\" is not a file under src/" %
                                        (rel, line, inc))
                    continue
                if RANK[theirs] > RANK[mine]:
                    problems.append("%s:%d: %s (layer %d) includes %s (layer %d): a higher "
                                    "layer" % (rel, line, mine, RANK[mine], inc, RANK[theirs]))
                elif (RANK[theirs] == RANK[mine] == SIBLINGS_APART and theirs != mine):
                    problems.append("%s:%d: %s includes %s, a sibling at its own level: move "
                                    "what they share down a layer" % (rel, line, mine, inc))
    return problems


def self_test(src):
    """Copy the tree, add one wrong include of each kind, and require that each is caught."""
    wrong = [("util/error.c", '#include "net/conn.h"\n', "a higher layer"),
             ("load/load.c", '#include "check/check.h"\n', "a sibling"),
             ("codec/ws.c", '#include "conn.h"\n', "not a file"),
             ("codec/url.c", 'static const char *peek(void) { return getenv("X"); }\n',
              "reads no clock")]
    tmp = tempfile.mkdtemp(prefix="wsp-layers-")
    try:
        copy = os.path.join(tmp, "src")
        shutil.copytree(src, copy)
        if check(copy):
            print("self-test: the tree itself is not clean")
            return 1
        for rel, line, want in wrong:
            p = os.path.join(copy, rel)
            with open(p) as f:
                orig = f.read()
            with open(p, "w") as f:
                f.write(line + orig)
            found = check(copy)
            with open(p, "w") as f:
                f.write(orig)
            if not any(want in x for x in found):
                print("self-test: %s in %s was not caught as %s" % (line.strip(), rel, want))
                return 1
            print("self-test: caught %s" % found[0])
        return 0
    finally:
        shutil.rmtree(tmp)


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    src = os.path.join(here, "..", "src")
    if len(argv) > 1 and argv[1] == "--self-test":
        return self_test(src)
    if len(argv) > 1:
        src = argv[1]
    problems = check(src)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
