"""Executes one notebook headless with nbconvert's ExecutePreprocessor and saves it, executed, as .ipynb and .html.

Usage: python3 run.py NOTEBOOK OUT_DIR KERNEL TIMEOUT_SECONDS  (TIMEOUT -1: no limit)

Errors are never allowed: execution stops at the first failing cell. The notebook as far as it ran is
saved either way, and on failure the failing cell, its stderr and its error go to stderr (tslab reports
a cell's error only in the cell's stderr stream, which `jupyter nbconvert --execute` does not print).
Exit status: 0 when every cell ran, 1 when a cell failed or timed out, 2 when the kernel could not run.
"""
import os
import sys

import nbformat
from nbconvert import HTMLExporter
from nbclient.exceptions import CellExecutionError
from nbconvert.preprocessors import ExecutePreprocessor


class TrackingExecutePreprocessor(ExecutePreprocessor):
    """An ExecutePreprocessor that remembers which cell it is executing."""

    current = None

    def preprocess_cell(self, cell, resources, index):
        self.current = index
        return super().preprocess_cell(cell, resources, index)


def failure_report(nb, index, error):
    """The failing cell's source, stderr and error outputs, and what went wrong when it was not the cell's own error."""
    lines = [f"cell {index + 1} failed:" if index is not None else "the notebook failed:"]
    if index is not None:
        cell = nb.cells[index]
        lines += ["------------------", cell.source, "------------------"]
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                lines.append(out.get("text", "").rstrip())
            elif out.get("output_type") == "error":
                lines.append(f"{out.get('ename', '')}: {out.get('evalue', '')}".strip())
                lines += out.get("traceback", [])
    if not isinstance(error, CellExecutionError):  # a timeout or a dead kernel: say which
        message = str(error).strip()
        lines.append(f"{type(error).__name__}: {message.splitlines()[0] if message else ''}")
    return "\n".join(lines)


def main(notebook, out_dir, kernel, timeout):
    """Runs the notebook; writes OUT_DIR/NAME.ipynb and OUT_DIR/NAME.html; returns the exit status."""
    nb = nbformat.read(notebook, as_version=4)
    runner = TrackingExecutePreprocessor(kernel_name=kernel, timeout=timeout, allow_errors=False)
    status, report = 0, None
    try:
        runner.preprocess(nb, {"metadata": {"path": os.path.dirname(os.path.abspath(notebook))}})
    except Exception as error:  # a cell's error, a timeout or a dead kernel: report it and keep what ran
        started = runner.current is not None
        status, report = (1 if started else 2), failure_report(nb, runner.current, error)
    name = os.path.splitext(os.path.basename(notebook))[0]
    os.makedirs(out_dir, exist_ok=True)
    nbformat.write(nb, os.path.join(out_dir, name + ".ipynb"))
    html, _ = HTMLExporter().from_notebook_node(nb)
    with open(os.path.join(out_dir, name + ".html"), "w", encoding="utf-8") as f:
        f.write(html)
    if report:
        print(report, file=sys.stderr)
    return status


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
