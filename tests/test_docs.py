"""The documentation builds with warnings as errors, every gallery example runs, every public
name has its page, and the README's Python example runs as written.

The site is built from a copy of ``docs/``, ``examples/`` and ``CHANGELOG.md`` in a temporary
folder, so a test run writes nothing into the repository and does not race a ``make docs``.
One test builds the site and checks it (with pytest-xdist, one worker builds it once). It needs
the docs extra (``pip install ".[docs]"``), which ``make install`` and ``make test`` install.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import exactregions

ROOT = Path(__file__).resolve().parent.parent
BUILD_OUTPUTS = ("_build", "auto_examples", "generated", "api.rst", "sg_execution_times.rst")


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


def test_docs_build_with_warnings_as_errors(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT / "docs", src / "docs", ignore=shutil.ignore_patterns(*BUILD_OUTPUTS))
    shutil.copytree(ROOT / "examples", src / "examples")
    shutil.copy(ROOT / "CHANGELOG.md", src / "CHANGELOG.md")
    html = tmp_path / "html"
    run = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-q",
                          "-d", str(tmp_path / "doctrees"), str(src / "docs"), str(html)],
                         cwd=src, env=_env(), capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, f"sphinx-build failed:\n{run.stdout[-4000:]}\n{run.stderr[-8000:]}"

    # every public name has its page, and the page documents that very object
    names = [n for n in exactregions.__all__ if n != "__version__"]
    missing = [n for n in names if not (html / "generated" / f"exactregions.{n}.html").exists()]
    assert not missing, f"public names without a page in the API reference: {missing}"
    for n in names:
        page = (html / "generated" / f"exactregions.{n}.html").read_text()
        assert f'id="exactregions.{n}"' in page, f"the page of exactregions.{n} does not document it"
    api = (html / "api.html").read_text()
    assert all(f"generated/exactregions.{n}.html" in api for n in names)

    # every example ran and has its page with its output
    examples = sorted(p.stem for p in (ROOT / "examples").glob("plot_*.py"))
    assert len(examples) >= 6
    for name in examples:
        page = html / "auto_examples" / f"{name}.html"
        assert page.exists(), f"the gallery has no page for examples/{name}.py"
        assert "sphx-glr-script-out" in page.read_text(), f"examples/{name}.py printed nothing"

    # the changelog is part of the site, and the pages link to no missing local file
    assert "0.2.0 (unreleased)" in (html / "changelog.html").read_text()
    for page in html.rglob("*.html"):
        if page.relative_to(html).parts[0] in ("_static", "_sources"):  # the theme's own templates
            continue
        for target in re.findall(r'(?:href|src)="([^"#:?]+)(?:[?#][^"]*)?"', page.read_text()):
            if not target.startswith(("http", "mailto", "//", "data:")):
                assert (page.parent / target).exists(), f"{page.relative_to(html)} links to a missing {target}"


def test_readme_example_runs_as_written(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert blocks, "the README has no Python example"
    for i, code in enumerate(blocks):
        script = tmp_path / f"readme_{i}.py"
        script.write_text(code)
        run = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=_env(), capture_output=True,
                             text=True, timeout=600)
        assert run.returncode == 0, f"README block {i} failed:\n{run.stderr[-4000:]}"
        # it prints the exact count next to the bounds and writes its picture
        count = re.search(r"^(\d+) activation regions$", run.stdout, re.M)
        bounds = re.search(r"^upper bounds: local (\d+) global (\d+)$", run.stdout, re.M)
        assert count and bounds, run.stdout
        assert 1 <= int(count.group(1)) <= int(bounds.group(1)) <= int(bounds.group(2))
        assert (tmp_path / "regions.png").stat().st_size > 10_000


def test_readme_links_and_commands():
    text = (ROOT / "README.md").read_text()
    for command in ("pip install .", "make demo", "make test", "make docs"):
        assert command in text, f"the README no longer says how to run `{command}`"
    targets = [t for t in re.findall(r"\]\(([^)#\s]+)", text) if not t.startswith(("http:", "https:"))]
    assert targets
    missing = [t for t in targets if not (ROOT / t).exists()]
    assert not missing, f"the README links to missing files: {missing}"
    assert len(text.splitlines()) <= 150
