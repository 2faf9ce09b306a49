"""The close's notebooks share one kernel, yet each runs as on a kernel of its own; and
jsonschema's IRI grammar is built only when used. (Starts one notebook kernel.)"""

from __future__ import annotations

import subprocess
import sys

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from arlib.close import Kernel, execute_notebook


def notebook(path, *sources):
    book = new_notebook(cells=[new_code_cell(source) for source in sources])
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(book, path)
    return path


def outputs(path):
    book = nbformat.read(path, as_version=4)
    return [
        (
            cell.execution_count,
            [o.get("text") or o.get("data", {}).get("text/plain") for o in cell.outputs],
        )
        for cell in book.cells
    ]


def test_a_notebook_after_another_on_the_same_kernel_starts_clean(tmp_path):
    (tmp_path / "lib.py").write_text(
        "import warnings\n\ndef careful():\n    warnings.warn('careful')\n", encoding="utf-8"
    )
    first = notebook(
        tmp_path / "a.ipynb",
        "x = 41",
        "import json\nx + 1",
        "print(x)",
        "import lib; lib.careful()",
    )
    second = notebook(
        tmp_path / "b.ipynb",
        "print(sorted(k for k in globals() if not k.startswith('_') and k not in "
        "('In', 'Out', 'get_ipython', 'exit', 'quit', 'open')))",
        "import sys\n'json' in sys.modules",
        "2 * 21",
        "import lib; lib.careful()",
    )
    kernel = Kernel(tmp_path)
    try:
        execute_notebook(
            first, tmp_path / "a.out.ipynb", parameters=None, cwd=tmp_path, kernel=kernel
        )
        execute_notebook(
            second, tmp_path / "b.out.ipynb", parameters=None, cwd=tmp_path, kernel=kernel
        )
        assert kernel.manager.is_alive()  # the caller shuts a kernel it gave down
    finally:
        kernel.close()
    warned = [f"{tmp_path / 'lib.py'}:4: UserWarning: careful\n  warnings.warn('careful')\n"]
    assert outputs(tmp_path / "a.out.ipynb") == [(1, []), (2, ["42"]), (3, ["41\n"]), (4, warned)]
    # no variable of the first notebook, counts from 1 again, the same warning shown
    # again; imported modules stay loaded
    assert outputs(tmp_path / "b.out.ipynb") == [
        (1, ["[]\n"]),
        (2, ["True"]),
        (3, ["42"]),
        (4, warned),
    ]
    assert not kernel.manager.has_kernel


def test_iri_grammar_is_built_when_first_used_and_checks_as_before():
    script = (
        "import sys\n"
        "from arlib.close import _defer_iri_grammar\n"
        "_defer_iri_grammar()\n"
        "import jsonschema, nbformat\n"
        "assert 'lark' not in sys.modules, 'the grammar was built at import'\n"
        "checker = jsonschema.Draft7Validator.FORMAT_CHECKER\n"
        "print(checker.conforms('https://例え.jp/路径?q=1', 'iri'),"
        " checker.conforms('no scheme here', 'iri'),"
        " checker.conforms('../a b', 'iri-reference'))\n"
        "assert 'lark' in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False", "False"]
