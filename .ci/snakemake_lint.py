"""`snakemake --lint` that fails on every lint except "Specify a conda environment or container".

Every rule runs the same Python package (src/transfer_atlas) from the project's one
environment (`make venv`, or envs/transfer-atlas.yaml plus `pip install -e .`); a per-rule
conda env would each need that package installed, so the rules declare none. Usage:
    python .ci/snakemake_lint.py [snakemake args...]
"""

import re
import subprocess
import sys

ALLOWED = "Specify a conda environment or container for each rule."
cmd = [sys.executable, "-m", "snakemake", "--lint", "--cores", "1", "-n", *sys.argv[1:]]
proc = subprocess.run(cmd, capture_output=True, text=True)
text = proc.stdout + proc.stderr
lints = [line.strip() for line in text.splitlines() if re.match(r"\s+\* ", line)]
other = [lint for lint in lints if not lint.startswith(f"* {ALLOWED}")]
broken = proc.returncode != 0 and not lints  # failed before linting (e.g. a parse error)
if other or broken or re.search(r"Traceback|Error", text):
    print(text)
    sys.exit(f"snakemake --lint: {len(other)} lint(s) besides the per-rule conda one, or snakemake failed")
print(f"snakemake --lint: clean ({len(lints)} rules without a per-rule conda env, by design)")
