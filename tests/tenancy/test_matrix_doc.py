"""The permission matrix of docs/security.md is the code's table."""

from __future__ import annotations

import re
from pathlib import Path

from scanpulse.tenancy.permissions import matrix_rows

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def test_the_documented_matrix_is_the_code_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"<!-- permission-matrix -->\n(.*?)\n<!-- /permission-matrix -->", text, re.S)
    assert block, "docs/security.md lost its permission matrix"
    lines = block.group(1).strip().splitlines()[2:]  # the header and its rule
    documented = [
        tuple(cell.strip() for cell in line.strip().strip("|").split("|")) for line in lines
    ]
    assert documented == matrix_rows()
