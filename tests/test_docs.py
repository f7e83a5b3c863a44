"""The documentation site builds strictly, and the Python in its pages runs as printed.

1. ``mkdocs build --strict`` into a temporary folder: a broken link or anchor, a page missing
   from the nav or bad Markdown fails the build (``validation`` in ``mkdocs.yml``).
2. Each page's ```python blocks run in order, in one namespace, in a process of the page's own,
   on the backend under test (``HIGHLEVEL_BACKEND``), in an empty working folder with an empty
   ``HIGHLEVEL_HOME``. Conventions of the pages:

   - a ``<!-- norun -->`` line right before a fence leaves that block out (downloads, GPUs,
     other engines' packages, fragments);
   - a ``<!-- output -->`` line right before a ```text fence that follows a python block says
     what that block prints: its stdout must equal the text (trailing spaces ignored).
"""

import importlib.util
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
NORUN, OUTPUT = "<!-- norun -->", "<!-- output -->"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)

# Runs pages' blocks, each page in a process of its own, writing one JSON result file per page and
# stopping a page at its first failing block (its traceback names the page and the line).
# argv: a JSON file [[workdir, [[name, code], ...]], ...] and "fork" or "fresh".
#   fork:  import highlevel (the engine) once, then fork one child per page, two at a time. Most of
#          a page's cost is importing the engine (~3 s for TensorFlow), and a child starts from the
#          state of a fresh `import highlevel`. Forking is safe only while the process has a single
#          thread (no lock can be held by another thread), so with more threads it exits with 3.
#   fresh: run the one page given in this new interpreter.
# Each page gets an empty HIGHLEVEL_HOME (no dataset cache) once highlevel has chosen its backend.
RUNNER = r"""
import contextlib, io, json, os, signal, sys, traceback

def run_page(workdir, blocks):
    os.chdir(workdir)
    os.environ["HIGHLEVEL_HOME"] = os.path.join(workdir, "home")
    results, namespace = [], {"__name__": "__main__"}
    for name, code in blocks:
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(code, name, "exec"), namespace)
        except BaseException:
            results.append({"stdout": out.getvalue(), "error": traceback.format_exc()})
            break
        results.append({"stdout": out.getvalue(), "error": None})
    with open(os.path.join(workdir, "results.json"), "w") as file:
        json.dump(results, file)

pages = json.load(open(sys.argv[1]))
import highlevel                     # the backend is chosen here, from the caller's environment
if sys.argv[2] == "fresh":
    run_page(*pages[0])
    sys.exit(0)
if len(os.listdir("/proc/self/task")) != 1:
    sys.exit(3)
running = set()
for workdir, blocks in pages:
    if len(running) == 2:
        running.discard(os.wait()[0])
    pid = os.fork()
    if pid == 0:
        signal.alarm(300)            # a hung page dies; the test then reports that it left no results
        try:
            run_page(workdir, blocks)
        finally:
            sys.stdout.flush()
            os._exit(0)
    running.add(pid)
while running:
    running.discard(os.wait()[0])
"""


def page_blocks(text: str):
    """``[(line, code, expected_output or None)]`` of the runnable python blocks of a page."""
    blocks = []
    for match in FENCE.finditer(text):
        language, body = match.group(1), match.group(2)
        before = text[:match.start()].rstrip().splitlines()
        marker = before[-1].strip() if before else ""
        line = text.count("\n", 0, match.start()) + 1
        if language == "python" and marker != NORUN:
            blocks.append([line, body, None])
        elif language == "text" and marker == OUTPUT:
            if not blocks:
                raise AssertionError(f"line {line}: {OUTPUT} with no python block before it")
            blocks[-1][2] = body
    return [tuple(b) for b in blocks]


PAGES = sorted(p.name for p in DOCS.glob("*.md") if page_blocks(p.read_text()))


def test_site_builds_strictly(tmp_path):
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed (pip install mkdocs) — the site cannot be built here")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                             str(ROOT / "mkdocs.yml"), "--site-dir", str(tmp_path / "site")],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    built = {p.relative_to(tmp_path / "site").as_posix() for p in (tmp_path / "site").rglob("index.html")}
    for page in DOCS.glob("*.md"):
        expected = "index.html" if page.stem == "index" else f"{page.stem}/index.html"
        assert expected in built, f"{page.name} was not built"


def test_page_blocks_honour_the_markers():
    page = ("text\n\n```python\na = 1\n```\n\n<!-- output -->\n```text\n1\n```\n\n"
            "<!-- norun -->\n```python\ndownload()\n```\n\n```bash\nmake demo\n```\n\n"
            "```python\nprint(a)\n```\n")
    assert page_blocks(page) == [(3, "a = 1\n", "1\n"), (21, "print(a)\n", None)]


@pytest.mark.parametrize("page", sorted(p.name for p in DOCS.glob("*.md")))
def test_fences_are_well_formed(page):
    # A fence with text after it ("``` More prose") would swallow the page up to the next fence.
    fences = [(number, line) for number, line in enumerate((DOCS / page).read_text().splitlines(), 1)
              if line.lstrip().startswith("```")]
    bad = [(number, line) for number, line in fences if not re.fullmatch(r"\s*```\w*\s*", line)]
    assert not bad, f"docs/{page}: malformed code fences {bad}"
    assert len(fences) % 2 == 0, f"docs/{page}: a code fence is not closed"


def test_every_page_with_code_is_found():
    # The pages that promise runnable code; a regex that stopped matching fences would empty PAGES.
    assert {"getting-started.md", "model-api.md", "layers.md", "training.md", "datasets.md", "saving.md",
            "backends.md"} <= set(PAGES)


def run_pages(pages, folder: Path) -> dict:
    """Run every page's blocks on the backend under test.

    Returns ``{page: (workdir, blocks, stderr)}``; each page's results are in ``workdir/results.json``
    (missing if its process died), ``stderr`` is what the runner processes printed there.
    """
    jobs = {}
    for page in pages:
        blocks = page_blocks((DOCS / page).read_text())
        workdir = folder / page.replace(".", "_")
        (workdir / "home").mkdir(parents=True)
        jobs[page] = (workdir, blocks)
    # The runners choose the backend as this process did (same environment); one thread per engine.
    env = dict(os.environ, OMP_NUM_THREADS="1", TF_CPP_MIN_LOG_LEVEL="3")
    longest_first = sorted(pages, key=lambda page: -sum(len(code) for _, code, _ in jobs[page][1]))

    def run(selected, mode):
        payload = [[str(jobs[page][0]), [(f"docs/{page}, block at line {line}", code)
                                         for line, code, _ in jobs[page][1]]] for page in selected]
        spec = folder / f"{mode}-{selected[0]}.json"
        spec.write_text(json.dumps(payload))
        return subprocess.run([sys.executable, "-c", RUNNER, str(spec), mode], env=env, capture_output=True,
                              text=True, timeout=600)

    forked = None
    if hasattr(os, "fork") and os.path.isdir("/proc/self/task"):
        forked = run(longest_first, "fork")
    if forked is not None and forked.returncode != 3:
        stderr = {page: forked.stderr for page in pages}
    else:
        # No fork here, or the engine left threads running after import: a fresh interpreter per page.
        with ThreadPoolExecutor(max_workers=2) as pool:
            stderr = dict(zip(longest_first, (r.stderr for r in pool.map(lambda page: run([page], "fresh"),
                                                                             longest_first))))
    return {page: (workdir, blocks, stderr[page]) for page, (workdir, blocks) in jobs.items()}


@pytest.fixture(scope="module")
def page_runs(tmp_path_factory):
    return run_pages(PAGES, tmp_path_factory.mktemp("pages"))


@pytest.mark.parametrize("page", PAGES)
def test_page_code_runs_and_prints_what_it_says(page, page_runs):
    workdir, blocks, stderr = page_runs[page]
    results_file = workdir / "results.json"
    assert results_file.exists(), f"docs/{page}: its process died or hung before writing results\n{stderr[-3000:]}"
    results = json.loads(results_file.read_text())
    for (line, _, expected), outcome in zip(blocks, results):
        assert outcome["error"] is None, f"docs/{page}, block at line {line} failed:\n{outcome['error']}"
        if expected is not None:
            printed = [s.rstrip() for s in outcome["stdout"].rstrip().splitlines()]
            assert printed == [s.rstrip() for s in expected.rstrip().splitlines()], (
                f"docs/{page}, block at line {line} printed\n{outcome['stdout']}\ninstead of\n{expected}")
    assert len(results) == len(blocks)
