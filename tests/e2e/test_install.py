"""Installed like a Debian tool (issue 20): man pages and shell completions generated from the
option tables, `make install` / `make uninstall`, and `--version` naming the libraries.

The truth comes from elsewhere than the generator: the options are those `COMMAND --help`
prints and those the shell completion offers (the parser's own tables); groff judges the roff;
bash's own compgen runs the completion; dpkg says which library versions are installed.
"""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, exit_codes, run_wsprobe, wsprobe_path


def commands():
    """The commands `wsprobe --help` lists."""
    out = run_wsprobe("--help").stdout
    block = out.split("commands:", 1)[1]
    return re.findall(r"^  ([a-z][a-z-]+) ", block, re.M)


def help_options(cmd):
    """The long options `wsprobe CMD --help` lists."""
    return re.findall(r"^  (?:-\w, |    )(--[a-z0-9.-]+)", run_wsprobe(cmd, "--help").stdout, re.M)


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    d = tmp_path_factory.mktemp("man")
    r = subprocess.run([str(wsprobe_path()), "_gen", "man", str(d), str(REPO / "examples" / "demo.yaml")],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return d


@pytest.fixture(scope="module")
def bash_completion(tmp_path_factory):
    p = tmp_path_factory.mktemp("bash") / "wsprobe"
    r = subprocess.run([str(wsprobe_path()), "_gen", "bash"], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    p.write_bytes(r.stdout)
    return p


def complete(script, *words, cwd=None):
    """What bash's completion offers for the command line `words` (the last one being typed)."""
    line = " ".join("'%s'" % w for w in words)
    prog = ('source "%s"; COMP_WORDS=(%s); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); '
            'COMPREPLY=(); _wsprobe; printf "%%s\\n" "${COMPREPLY[@]}"' % (script, line))
    r = subprocess.run(["bash", "-c", prog], capture_output=True, text=True, timeout=30, cwd=cwd)
    assert r.returncode == 0, r.stderr
    return [x for x in r.stdout.splitlines() if x]


def parser_options(script, cmd):
    """The options the completion offers for CMD: the parser's tables (args.c), not --help."""
    return [o for o in complete(script, "wsprobe", cmd, "--") if o.startswith("--")]


def test_every_command_has_its_page_with_every_option(pages, bash_completion):
    cmds = commands()
    assert len(cmds) >= 13 and "load" in cmds and "hold" in cmds
    for cmd in cmds:
        page = pages / ("wsprobe-%s.1" % cmd)
        assert page.exists(), cmd
        roff = page.read_text()
        text = roff.replace("\\-", "-")
        helped = set(help_options(cmd))
        accepted = set(parser_options(bash_completion, cmd))
        assert helped and accepted, cmd
        # every option the parser takes is in --help and in the page, and nothing more
        assert accepted == helped, (cmd, accepted ^ helped)
        for o in accepted:
            assert re.search(r"\\fB%s\\fR" % re.escape(o), text), (cmd, o)
        for section in (".SH NAME", ".SH SYNOPSIS", ".SH DESCRIPTION", ".SH OPTIONS",
                        ".SH EXIT STATUS", ".SH SEE ALSO"):
            assert section in roff, (cmd, section)
    assert (pages / "wsprobe.1").exists() and (pages / "wsprobe-plan.5").exists()


def test_pages_are_clean_roff_and_render(pages):
    for page in sorted(pages.iterdir()):
        r = subprocess.run(["groff", "-ww", "-z", "-man", str(page)], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0 and r.stderr == "", (page.name, r.stderr)
        shown = subprocess.run(["man", "-l", str(page)], capture_output=True, text=True,
                               timeout=30, env=dict(os.environ, MANPAGER="cat", PAGER="cat",
                                                    MANWIDTH="100"))
        assert shown.returncode == 0 and "NAME" in shown.stdout, page.name


def test_the_top_page_has_the_commands_exit_codes_and_environment(pages):
    text = (pages / "wsprobe.1").read_text().replace("\\-", "-").replace("\\fB", "").replace(
        "\\fR", "")
    for cmd in commands():
        assert "wsprobe-%s(1)" % cmd in text, cmd
    for name, code in exit_codes().items():
        if code == 0:
            continue
        assert re.search(r"^%d %s$" % (code, re.escape(name)), text, re.M), (name, code)
    for var in ("NO_COLOR", "https_proxy", "no_proxy", "SSL_CERT_FILE"):
        assert var in text


def plan_keys_used():
    """Every key path the example plans' environments use (maps a plan nests: tls, auth,
    auth.jwt, limits, marker; the rest are values, as headers and claims are)."""
    import yaml
    nested = {"tls", "auth", "auth.jwt", "limits", "marker"}
    keys = set()

    def walk(m, prefix):
        for k, v in m.items():
            path = prefix + k
            if path in nested and isinstance(v, dict):
                walk(v, path + ".")
            else:
                keys.add(path)

    for f in (REPO / "examples").rglob("*.yaml"):
        doc = yaml.safe_load(f.read_text())
        if isinstance(doc, dict) and isinstance(doc.get("environments"), dict):
            for env in doc["environments"].values():
                if isinstance(env, dict):
                    walk(env, "")
    return keys


def test_the_plan_page_has_every_plan_key(pages):
    """Every key the example plans use is in wsprobe-plan(5) (the page itself lists what the
    plan parser knows), with the check kinds and the example plan."""
    text = (pages / "wsprobe-plan.5").read_text().replace("\\-", "-")
    used = plan_keys_used()
    assert {"url", "auth.jwt.secret_env"} <= used and len(used) >= 8, used
    for key in used:
        assert "\\fB%s\\fR" % key in text, key
    for kind in ("connect", "conversation", "security", "hold", "expect_auth_required"):
        assert "\\fB%s\\fR" % kind in text, kind
    assert "environments:" in text  # the example (examples/demo.yaml)
    assert "see the plans guide" not in text  # every key has its meaning written out


def test_the_examples_in_the_pages_parse(pages):
    """An example that names an option the parser refuses would teach the wrong thing."""
    for page in pages.glob("wsprobe-*.1"):
        text = page.read_text()
        if ".SH EXAMPLES" not in text:
            continue
        block = text.split(".SH EXAMPLES", 1)[1].split(".SH ", 1)[0]
        for line in block.splitlines():
            if not line.startswith("wsprobe "):
                continue
            words = line.replace("\\-", "-").replace("\\e", "\\").split()
            cmd = words[1]
            opts = [w.split("=")[0] for w in words[2:] if w.startswith("--")]
            helped = set(help_options(cmd))
            assert set(opts) <= helped, (page.name, set(opts) - helped)


def test_bash_completion(bash_completion, tmp_path):
    assert complete(bash_completion, "wsprobe", "lo") == ["load", "load-merge"]
    conn = complete(bash_completion, "wsprobe", "load", "--conn")
    assert "--connections" in conn and "--connect-rate" in conn
    assert complete(bash_completion, "wsprobe", "serve", "--work") == ["--workers"]
    assert set(complete(bash_completion, "wsprobe", "probe", "--jwt-alg", "")) == {
        "HS256", "HS384", "HS512", "RS256", "ES256"}
    assert set(complete(bash_completion, "wsprobe", "probe", "--protocol", "")) == {
        "socketio", "graphql"}
    assert "header" in complete(bash_completion, "wsprobe", "probe", "--auth-in", "")
    # the check names come from the catalog, as `security --list --json` gives it
    listed = run_wsprobe("security", "--list", "--json").json
    ids = {c["id"] for c in (listed["checks"] if isinstance(listed, dict) else listed)}
    offered = set(complete(bash_completion, "wsprobe", "security", "--checks", ""))
    assert ids <= offered and "auth" in offered, ids - offered
    assert complete(bash_completion, "wsprobe", "security", "--checks", "auth,origin.m") == [
        "auth,origin.missing"]
    # a file where a file goes; nothing where a number goes
    (tmp_path / "ca-bundle.pem").write_text("x")
    assert complete(bash_completion, "wsprobe", "probe", "--cacert", "ca-", cwd=tmp_path) == [
        "ca-bundle.pem"]
    assert complete(bash_completion, "wsprobe", "load", "--rate", "", cwd=tmp_path) == []
    # --name=VALUE (bash breaks the word at '='), a short option, @FILE only after '@'
    assert complete(bash_completion, "wsprobe", "probe", "--jwt-alg", "=", "E") == ["ES256"]
    (tmp_path / "hello.json").write_text("{}")
    assert complete(bash_completion, "wsprobe", "load", "--message", "@hel", cwd=tmp_path) == [
        "@hello.json"]
    assert complete(bash_completion, "wsprobe", "load", "--message", "hel", cwd=tmp_path) == []
    assert complete(bash_completion, "wsprobe", "probe", "--trace", "hel", cwd=tmp_path) == [
        "hello.json"]


@pytest.mark.parametrize("shell,ext", [("zsh", "_wsprobe"), ("fish", "wsprobe.fish")])
def test_zsh_and_fish_completions_parse(shell, ext, tmp_path):
    if not shutil.which(shell):
        pytest.skip("%s is not installed (make deps installs it)" % shell)
    r = subprocess.run([str(wsprobe_path()), "_gen", shell], capture_output=True, timeout=60)
    assert r.returncode == 0
    p = tmp_path / ext
    p.write_bytes(r.stdout)
    chk = subprocess.run([shell, "-n", str(p)], capture_output=True, text=True, timeout=30)
    assert chk.returncode == 0, chk.stderr
    text = r.stdout.decode()
    for cmd in commands():
        assert cmd in text
    assert ("--workers" in text or "-l workers" in text) and "HS256" in text
    assert "auth.missing" in text


def test_version_names_what_it_runs_with():
    """The versions are those dpkg says are installed, and the revision is the tree's."""
    r = run_wsprobe("--version")
    first, libs = r.stdout.splitlines()[:2]
    got = dict(x.split("/", 1) for x in libs.split(": ", 1)[1].split())

    def deb(pkg):
        v = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True,
                           text=True).stdout
        return re.sub(r"^\d+:", "", v).split("-")[0].split("+")[0]

    for lib, pkg in (("OpenSSL", "libssl3"), ("libuv", "libuv1"), ("c-ares", "libc-ares2"),
                     ("zlib", "zlib1g"), ("jansson", "libjansson4"), ("libyaml", "libyaml-0-2"),
                     ("PCRE2", "libpcre2-8-0"), ("libxml2", "libxml2")):
        want = deb(pkg)
        if not want:
            continue
        assert got[lib].startswith(want.rsplit(".dfsg", 1)[0].split("~")[0]) or \
            want.startswith(got[lib]), (lib, got[lib], want)
    git = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                         text=True)
    if git.returncode == 0:
        rev = re.search(r"\(git (\S+)\)$", first).group(1)
        # git describe: HASH, TAG-N-gHASH or TAG, with -dirty when the tree had changes
        h = re.search(r"(?:^|-g)([0-9a-f]{7,40})(?:-dirty)?$", rev)
        tag = subprocess.run(["git", "-C", str(REPO), "describe", "--tags", "--exact-match"],
                             capture_output=True, text=True).stdout.strip()
        assert (h and git.stdout.strip().startswith(h.group(1))) or \
            (tag and rev.split("-dirty")[0] == tag), (rev, git.stdout)


def test_make_install_and_uninstall(tmp_path):
    """Into a staging DESTDIR: the binary, every page, the completions, the docs and the
    examples in the FHS places; the installed binary and page work; uninstall removes them."""
    build = wsprobe_path().parent
    opts = subprocess.run(["meson", "introspect", "--buildoptions", str(build)],
                          capture_output=True, text=True)
    if opts.returncode != 0 or '"name": "prefix", "value": "/usr/local"' not in opts.stdout:
        pytest.skip("%s is not a meson build with prefix /usr/local" % build)
    dest = tmp_path / "stage"
    # NO_REBUILD: the binary other tests run at the same time is installed as it is
    r = subprocess.run(["make", "-s", "install", "NO_REBUILD=1", "BUILD=%s" % build,
                        "PREFIX=/usr/local",
                        "DESTDIR=%s" % dest], cwd=REPO, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    root = dest / "usr" / "local"
    for cmd in commands():
        assert (root / ("share/man/man1/wsprobe-%s.1" % cmd)).exists(), cmd
    for f in ("bin/wsprobe", "share/man/man1/wsprobe.1", "share/man/man5/wsprobe-plan.5",
              "share/bash-completion/completions/wsprobe", "share/zsh/site-functions/_wsprobe",
              "share/fish/vendor_completions.d/wsprobe.fish", "share/doc/wsprobe/README.md",
              "share/doc/wsprobe/docs/load.md", "share/doc/wsprobe/examples/demo.yaml"):
        assert (root / f).exists(), f
    v = subprocess.run([str(root / "bin/wsprobe"), "--version"], capture_output=True, text=True)
    assert v.returncode == 0 and v.stdout.startswith("wsprobe ")
    m = subprocess.run(["man", "-l", str(root / "share/man/man1/wsprobe-serve.1")],
                       capture_output=True, text=True, env=dict(os.environ, MANPAGER="cat"))
    assert m.returncode == 0 and "--workers" in m.stdout.replace("\u2010", "-")
    (root / "share/man/man1/other-tool.1").write_text(".TH OTHER 1\n")  # not ours: it stays
    u = subprocess.run(["make", "-s", "uninstall", "BUILD=%s" % build, "DESTDIR=%s" % dest],
                       cwd=REPO, capture_output=True, text=True, timeout=120)
    assert u.returncode == 0, u.stderr
    left = [p for p in dest.rglob("*") if p.is_file()]
    assert left == [root / "share/man/man1/other-tool.1"], left[:10]
    assert not (root / "share/doc/wsprobe").exists()


ZPTY = r"""
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PROMPT='RE''ADY> '; fpath=($DIR \$fpath); autoload -U compinit; compinit -u -D"
zpty -r z line '*READY> '
zpty -n -w z "$1"$'\t'
sleep 1.5
zpty -r -t z out
print -r -- "$out"
zpty -d z
"""


@pytest.mark.parametrize("line,want", [
    ("wsprobe probe --jwt-alg E", "--jwt-alg ES256"),
    ("wsprobe probe --auth-in mes", "--auth-in message"),
    ("wsprobe probe --protocol gr", "--protocol graphql"),
    ("wsprobe serve --wor", "--workers"),
    ("wsprobe security --checks auth,origin.m", "--checks auth,origin.missing"),
    ("wsprobe lo", "wsprobe load"),
])
def test_zsh_completes(tmp_path, line, want):
    """zsh's own completion system, in a pseudo-terminal, completes from the generated file."""
    if not shutil.which("zsh"):
        pytest.skip("zsh is not installed (make deps installs it)")
    r = subprocess.run([str(wsprobe_path()), "_gen", "zsh"], capture_output=True, timeout=60)
    (tmp_path / "_wsprobe").write_bytes(r.stdout)
    script = tmp_path / "z.zsh"
    script.write_text(ZPTY.replace("$DIR", str(tmp_path)))
    out = subprocess.run(["zsh", "-f", str(script), line], capture_output=True, text=True,
                         timeout=30, env=dict(os.environ, HOME=str(tmp_path)))
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.stdout + out.stderr)
    assert "invalid argument" not in screen and "parse error" not in screen, screen
    assert want in screen, screen[-600:]


@pytest.mark.parametrize("line,want", [
    ("wsprobe probe --jwt-alg ", "HS256"),
    ("wsprobe serve --wor", "--workers"),
    ("wsprobe security --checks auth,origin.m", "auth,origin.missing"),
    ("wsprobe ", "load-merge"),
])
def test_fish_completes(tmp_path, line, want):
    if not shutil.which("fish"):
        pytest.skip("fish is not installed (make deps installs it)")
    r = subprocess.run([str(wsprobe_path()), "_gen", "fish"], capture_output=True, timeout=60)
    f = tmp_path / "wsprobe.fish"
    f.write_bytes(r.stdout)
    out = subprocess.run(["fish", "--no-config", "-c", "source %s; complete -C '%s'" % (f, line)],
                         capture_output=True, text=True, timeout=30,
                         env=dict(os.environ, HOME=str(tmp_path)))
    assert out.returncode == 0, out.stderr
    assert want in [x.split("\t")[0] for x in out.stdout.splitlines()], out.stdout[:2000]
