"""The Debian package (issue 20): `scripts/deb.sh` (make deb) builds it from this tree with
`DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b` in a scratch copy and runs lintian on
it (an error fails the build). The machine is left as it was: nothing is installed; the .deb is
unpacked with `dpkg -x` into a temporary folder, and the binary, its pages and a probe against
its own `serve` are run from there, with the system's shared libraries.

It costs one release build of the whole tree (about 30 s on two cores) and a lintian run.
"""
import json
import os
import re
import subprocess
import time

import pytest

from conftest import REPO

# a whole release build: not beside the rate and attack tests (scripts/check.sh)
pytestmark = pytest.mark.xdist_group("cpu-heavy")


def installed(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
    return r.stdout == "install ok installed"


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    for p in ("debhelper", "lintian", "dpkg-dev"):
        if not installed(p):
            pytest.skip("%s is not installed (make deps installs it)" % p)
    out = tmp_path_factory.mktemp("dist")
    scratch = tmp_path_factory.mktemp("scratch")
    r = subprocess.run(["bash", str(REPO / "scripts" / "deb.sh"), str(out)], cwd=REPO,
                       capture_output=True, text=True, timeout=1200,
                       env=dict(os.environ, TMPDIR=str(scratch)))
    assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-3000:])
    debs = list(out.glob("wsprobe_*.deb"))
    assert len(debs) == 1, debs
    assert list(scratch.iterdir()) == []  # its scratch copy is gone
    root = tmp_path_factory.mktemp("root")
    subprocess.run(["dpkg", "-x", str(debs[0]), str(root)], check=True, timeout=120)
    return debs[0], root, r.stdout


def test_lintian_reports_no_error(package):
    deb, _, log = package
    assert not re.search(r"^E: ", log, re.M), log
    assert "0 errors" in log, log


def test_package_metadata(package):
    deb, _, _ = package
    info = subprocess.run(["dpkg-deb", "-f", str(deb), "Package", "Version", "Depends"],
                          capture_output=True, text=True, check=True).stdout
    assert "Package: wsprobe" in info
    version = subprocess.run(["dpkg-parsechangelog", "-l", str(REPO / "debian" / "changelog"),
                              "-S", "Version"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert "Version: %s" % version in info
    # the package's version is the program's
    meson = (REPO / "meson.build").read_text()
    assert re.search(r"version : '%s'" % re.escape(version), meson), version
    # shared libraries from shlibs, and libxml2, which wsprobe loads only when needed
    for dep in ("libssl3", "libuv1", "libc-ares2", "libjansson4", "libyaml-0-2", "zlib1g",
                "libpcre2-8-0", "libxml2"):
        assert dep in info, (dep, info)
    assert not installed("wsprobe")  # built and unpacked, never installed


def test_files_in_their_places(package):
    _, root, _ = package
    for f in ("usr/bin/wsprobe", "usr/share/man/man1/wsprobe.1.gz",
              "usr/share/man/man1/wsprobe-probe.1.gz", "usr/share/man/man1/wsprobe-hold.1.gz",
              "usr/share/man/man5/wsprobe-plan.5.gz", "usr/share/bash-completion/completions/wsprobe",
              "usr/share/zsh/vendor-completions/_wsprobe",
              "usr/share/fish/vendor_completions.d/wsprobe.fish",
              "usr/share/doc/wsprobe/copyright", "usr/share/doc/wsprobe/changelog.gz"):
        assert (root / f).exists(), f


def test_the_unpacked_binary_runs_with_shared_libraries(package):
    _, root, _ = package
    exe = root / "usr/bin/wsprobe"
    v = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=30)
    assert v.returncode == 0 and v.stdout.startswith("wsprobe "), v
    assert "(git unknown)" not in v.stdout  # the revision travelled with the source copy
    libs = subprocess.run(["ldd", str(exe)], capture_output=True, text=True).stdout
    for lib in ("libjansson", "libyaml", "libz.so", "libcares"):
        assert lib in libs, (lib, libs)  # linked shared in the package (-Dstatic_libs=false)


def test_man_reads_the_unpacked_pages(package):
    _, root, _ = package
    for page in ("man1/wsprobe.1.gz", "man1/wsprobe-serve.1.gz", "man5/wsprobe-plan.5.gz"):
        r = subprocess.run(["man", "-l", str(root / "usr/share/man" / page)], capture_output=True,
                           text=True, timeout=30, env=dict(os.environ, MANPAGER="cat"))
        assert r.returncode == 0 and "NAME" in r.stdout, (page, r.stderr)


def test_probe_against_serve_from_the_package(package, tmp_path):
    _, root, _ = package
    exe = str(root / "usr/bin/wsprobe")
    pf = tmp_path / "ports.json"
    srv = subprocess.Popen([exe, "serve", "--unsafe-no-auth", "--echo", "--listen", "127.0.0.1:0",
                            "--port-file", str(pf), "-q"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        end = time.monotonic() + 10
        while time.monotonic() < end and not (pf.exists() and pf.stat().st_size):
            time.sleep(0.05)
        port = json.loads(pf.read_text())["ws"]
        r = subprocess.run([exe, "probe", "ws://127.0.0.1:%d/ws" % port, "--send", "hello",
                            "--expect-text", "hello", "--json"], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0, r
        rep = json.loads(r.stdout)
        assert rep["ok"] is True
        # libxml2, loaded on first use: audit reads a JUnit file
        junit = tmp_path / "r.xml"
        junit.write_text('<testsuite name="s" tests="1"><testcase name="t" time="0.5"/>'
                         '</testsuite>')
        a = subprocess.run([exe, "audit", str(junit), "--json"], capture_output=True, text=True,
                           timeout=60)
        assert a.returncode in (0, 1) and json.loads(a.stdout)["command"] == "audit", a
    finally:
        srv.terminate()
        srv.wait(timeout=10)
    assert not installed("wsprobe")
