# transfer-atlas: how does fine-tuning on one task change a model on every other task?
# Reading order: this file -> workflow/rules/*.smk (one per stage) -> src/transfer_atlas.
import os
import sys

from snakemake.utils import min_version

# This checkout's package (src/) for the Snakefile and for every job, in a conda env or not
# (set for child processes, not a variable the user must provide).
SRC = os.path.join(workflow.basedir, "src")
sys.path.insert(0, SRC)
os.environ.update(
    PYTHONPATH=os.pathsep.join(filter(None, [SRC, os.getenv("PYTHONPATH")]))
)

from transfer_atlas.config import validate_config

min_version("9.0")


configfile: "config/config.yaml"


# Schema (workflow/schemas/config.schema.yaml, defaults filled in) + cross-checks; silent when valid.
validate_config(config, workflow.overwrite_configfiles or workflow.configfiles)


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/preflight.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/matrix.smk"
include: "workflow/rules/transfer_roles.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/flips.smk"
include: "workflow/rules/mislabel.smk"
include: "workflow/rules/predict_common.smk"
include: "workflow/rules/predict.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
