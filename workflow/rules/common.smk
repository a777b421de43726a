# Input functions, wildcard constraints and the expanded lists of models, datasets,
# sources, targets and seeds. No side effects (the Snakefile validated the config).

from transfer_atlas import config as ta_config
from transfer_atlas import data
from transfer_atlas.requests import job_requests
from transfer_atlas.settings import rerun_settings
from transfer_atlas.tasks import RESOURCES

DATASETS = ta_config.resolve_datasets(config)
MODELS = [m["name"] for m in config["models"]]
SOURCES = ta_config.sources(config)
TARGETS = ta_config.targets(config)
SEEDS = config["seeds"]
ADAPTERS = [f"{s}/seed{seed}" for s in SOURCES for seed in SEEDS]


wildcard_constraints:
    model="[A-Za-z0-9][A-Za-z0-9_.=+-]*",
    dataset="[A-Za-z0-9][A-Za-z0-9_.@=+-]*",
    source="[A-Za-z0-9][A-Za-z0-9_.@=+-]*",
    target="[A-Za-z0-9][A-Za-z0-9_.@=+-]*",
    seed="[0-9]+",
    split="train|eval",
    collection="all_models|external",
    adapter="base|[A-Za-z0-9][A-Za-z0-9_.@=+-]*/seed[0-9]+",


def dataset_spec(wildcards):
    """Only this dataset's resolved settings (never the list of all datasets)."""
    return DATASETS[wildcards.dataset]


# Analysis metadata of a model (transfer roles): never a param of a model job.
MODEL_METADATA = ("family", "size")


def model_spec(wildcards):
    spec = ta_config.model_spec(config, wildcards.model)
    return {k: v for k, v in spec.items() if k not in MODEL_METADATA}


def model_meta(model):
    """{"family", "size"} of one of our models (defaults: its name, `unknown`)."""
    spec = ta_config.model_spec(config, model)
    return {"family": spec.get("family", model), "size": spec.get("size", "unknown")}


# Params carry result settings only (workflow/schemas/config.schema.yaml, `x-role`): an
# execution-only key (batch size, fast path, checkpoint interval, threads) is read by the
# script from the config at run time, so changing it reruns nothing.
def train_settings(wildcards):
    return rerun_settings(config, "train") | {"dtype": model_spec(wildcards)["dtype"]}


def evaluate_settings(wildcards):
    """The same for a cell job and a row job, so `evaluate.job` changes no params."""
    return rerun_settings(config, "evaluate") | {
        "dtype": model_spec(wildcards)["dtype"]
    }


def model_rule_resources(stage):
    """gpu, and runtime (minutes), mem_mb (host MB) and gpu_mem_mb (GPU MiB) from the
    preflight's estimate of this job, times Snakemake's `attempt` (1, 2, 3 with retries: 2);
    the config's {stage}_runtime / {stage}_mem_mb x attempt when there is no estimate (gpu: 0,
    or a dry run before the preflight ran: Snakemake evaluates these again when the job is
    about to start). transfer_atlas.requests has the formulas.
    """

    def request(key):
        def value(wildcards, input, attempt):
            if stage == "train":
                job, datasets = "train_lora", [wildcards.source]
            else:
                job = "evaluate"
                target = getattr(wildcards, "target", None)
                datasets = [target] if target else TARGETS
            path = input.get("preflight") or None
            return job_requests(
                path, config["resources"], job, wildcards.model, datasets, attempt
            )[key]

        return value

    return {
        "gpu": config["resources"]["gpu"],
        "mem_mb": request("mem_mb"),
        "runtime": request("runtime"),
        "gpu_mem_mb": request("gpu_mem_mb"),
    }


def preflight_input(wildcards):
    """GPU jobs wait for the preflight's memory estimates (workflow/rules/preflight.smk).
    `ancient`: a newer estimates file (e.g. after adding a dataset) reruns no model job.
    """
    if config["resources"]["gpu"] > 0:
        return ancient("results/preflight/estimates.csv")
    return []


def adapter_input(wildcards):
    if wildcards.adapter == "base":
        return []
    return f"results/adapters/{wildcards.model}/{wildcards.adapter}"


def score_files(model, adapters=None, targets=None):
    return expand(
        "results/scores/{model}/{adapter}/{target}.json",
        model=model,
        adapter=["base"] + ADAPTERS if adapters is None else adapters,
        target=TARGETS if targets is None else targets,
    )


def matrix_outputs(model):
    return {
        "long": f"results/matrix/{model}/scores_long.csv",
        "cells": f"results/matrix/{model}/cells.csv",
        "matrix": f"results/matrix/{model}/matrix.csv",
        "delta": f"results/matrix/{model}/delta.csv",
        "provenance": f"results/matrix/{model}/provenance.json",
    }


def all_outputs():
    if config["analysis"]["transfer_roles"]["external_only"]:
        # workflow/rules/transfer_roles.smk, predict.smk, and the summary of those analyses
        return (
            transfer_roles_outputs() + predict_outputs() + ["results/report/summary.md"]
        )
    outputs = expand("results/data/{dataset}/profile.json", dataset=list(DATASETS))
    for model in MODELS:
        outputs += list(matrix_outputs(model).values())
        outputs.append(f"results/matrix/{model}/delta_heatmap.png")
    outputs += analysis_outputs()  # workflow/rules/analysis_common.smk
    outputs.append("results/report/summary.md")  # workflow/rules/report.smk
    outputs += transfer_roles_outputs()  # workflow/rules/transfer_roles.smk
    outputs += predict_outputs()  # workflow/rules/predict.smk
    return outputs


# --- donors and recipients (workflow/rules/transfer_roles.smk) ---------------------------
TRANSFER_ROLES = config["analysis"]["transfer_roles"]
for _reserved in ("external", "all_models"):
    if _reserved in MODELS:
        raise ValueError(
            f"config: model name '{_reserved}' is reserved (transfer_roles outputs)"
        )


def transfer_roles_settings(wildcards):
    """Result settings of the transfer_roles rules; the external_* keys only for model (or
    collection) `external` (they change nothing of our own models)."""
    values = rerun_settings(config, "analysis.transfer_roles")
    if "external" in (
        getattr(wildcards, "model", None),
        getattr(wildcards, "collection", None),
    ):
        return values
    return {k: v for k, v in values.items() if not k.startswith("external_")}


def dataset_roles():
    """{dataset: {task, language}} of every dataset (aggregate rules only); language `und` if unset."""
    from transfer_atlas.analysis.transfer_roles.pairs import dataset_roles as roles

    return roles(DATASETS)


def transfer_models():
    """Models with transfer_roles outputs: ours (unless external_only) and `external`."""
    external = ["external"] if config.get("external_results") else []
    return external if TRANSFER_ROLES["external_only"] else MODELS + external


def own_models():
    """Our models in the transfer-roles analyses (none when external_only)."""
    return [] if TRANSFER_ROLES["external_only"] else MODELS


def collections():
    """Collections of models compared across models, never pooled: ours (`all_models`) and
    the external table's (`external`)."""
    out = ["all_models"] if own_models() else []
    return out + (["external"] if config.get("external_results") else [])


def collection_pairs(wildcards):
    models = own_models() if wildcards.collection == "all_models" else ["external"]
    return [f"results/analysis/{m}/transfer_roles/pairs.csv" for m in models]


# Language metadata (ISO code, family, script, Joshi et al. 2020 resource class).
LANGUAGES_CSV = str(RESOURCES / "languages.csv")
ACROSS_TABLES = [
    "language_roles",
    "task_roles",
    "language_heatmap",
    "task_heatmap",
    "consistency",
    "consistency_summary",
    "variance",
    "hierarchy",
    "hierarchy_correlation",
    "on_off_task",
]
ACROSS_FIGURES = [
    "roles",
    "language_heatmap",
    "task_heatmap",
    "consistency",
    "variance",
    "hierarchy",
    "on_off_task",
]


def across_folder(collection):
    return f"results/analysis/{collection}/transfer_roles/across_models"


def across_report(name, caption, figure):
    return report(
        f"results/analysis/{{collection}}/transfer_roles/across_models/{name}.png",
        caption=f"../report/{caption}.rst",
        category="Donors and recipients",
        subcategory="{collection} (across models)",
        labels={"collection": "{collection}", "figure": figure},
    )


def regime_meta(wildcards):
    return {} if wildcards.model == "external" else model_meta(wildcards.model)


def regimes_input(wildcards):
    if wildcards.model == "external":
        return config["external_results"]
    return f"results/matrix/{wildcards.model}/cells.csv"


def donors_tables(model):
    folder = f"results/analysis/{model}/transfer_roles"
    names = [
        "donors",
        "recipients",
        "by_regime",
        "by_group",
        "language_heatmap",
        "task_heatmap",
    ]
    files = [
        "donors",
        "recipients",
        "roles_by_regime",
        "roles_by_group",
        "language_heatmap",
        "task_heatmap",
    ]
    return {n: f"{folder}/{f}.csv" for n, f in zip(names, files)}


def transfer_roles_outputs():
    outputs = []
    for model in transfer_models():
        folder = f"results/analysis/{model}/transfer_roles"
        outputs += [
            f"{folder}/regimes.csv",
            f"{folder}/regimes.png",
            *donors_tables(model).values(),
        ]
        outputs += [
            f"{folder}/{x}.png"
            for x in ("language_heatmap", "task_heatmap", "donor_recipient_scatter")
        ]
    if own_models():
        outputs += [
            f"results/analysis/all_models/transfer_roles/{x}"
            for x in (
                "regimes.csv",
                "regimes.png",
                "role_consistency.csv",
                "role_consistency.png",
            )
        ]
    for collection in collections():
        folder = across_folder(collection)
        outputs += [f"{folder}/{t}.csv" for t in ACROSS_TABLES]
        outputs += [f"{folder}/{f}.png" for f in ACROSS_FIGURES]
    return outputs
