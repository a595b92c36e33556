"""The FOCUS 1.0 export passes the FinOps Foundation's own checker (focus-validator, a dev
dependency): every rule of its 1.0 rule set must pass, none allowed to fail. (That rule set
also checks a few FOCUS 1.0-preview names and CommitmentDiscountStatus: the 1.0 export carries
them, see chargeback.reconciliation.exports.FOCUS_10_VALIDATOR.)"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

VALIDATOR = Path(sys.executable).parent / "focus-validator"
# focus-validator 1.0.0 opens its ISO currency list by the relative path
# focus_validator/utils/currency_codes.csv, so it must run from its site-packages folder.
SITE_PACKAGES = next((Path(p) for p in sys.path if (Path(p) / "focus_validator").is_dir()), None)


@pytest.mark.skipif(not VALIDATOR.exists(), reason="focus-validator is not installed (dev extra)")
def test_focus_10_export_passes_the_finops_validator(metered, tmp_path):
    path = tmp_path / "focus.csv"
    call_command("export_events", "--org", metered.slug, "--since", "2026-10-01",
                 "--format", "focus", "--focus-version", "1.0", "--output", str(path))  # fmt: skip
    assert len(path.read_text().splitlines()) == 3  # header + the two unit/day rows
    result = subprocess.run(
        [str(VALIDATOR), "--data-file", str(path), "--validate-version", "1.0"],
        capture_output=True, text=True, timeout=300, cwd=SITE_PACKAGES, check=False,
    )  # fmt: skip
    report = result.stdout + result.stderr
    failed = set(re.findall(r"^(\w+) failed:", report, flags=re.MULTILINE))
    assert "Validation" in report, report  # it ran its rules ("Validation failed!" or passed)
    assert failed == set(), report
    assert "Validation succeeded." in report, report
