# Input functions, wildcard constraints and the expanded lists of models, datasets,
# sources, targets and seeds. No side effects beyond validating the config.
from pathlib import Path

from transfer_atlas import config as ta_config

ta_config.check_config(config, "config")
DATASETS = ta_config.resolve_datasets(config)
MODELS = [m["name"] for m in config["models"]]
SOURCES = ta_config.sources(config)
TARGETS = ta_config.targets(config)
SEEDS = config["seeds"]
ADAPTERS = [f"{s}/seed{seed}" for s in SOURCES for seed in SEEDS]
SCRIPTS = Path(workflow.basedir) / "workflow" / "scripts"


wildcard_constraints:
    model="[A-Za-z0-9][A-Za-z0-9_.=+-]*",
    dataset="[A-Za-z0-9][A-Za-z0-9_.@=+-]*",
    source="[A-Za-z0-9][A-Za-z0-9_.@=+-]*",
    target="[A-Za-z0-9][A-Za-z0-9_.@=+-]*",
    seed="[0-9]+",
    adapter="base|[A-Za-z0-9][A-Za-z0-9_.@=+-]*/seed[0-9]+",


def dataset_spec(wildcards):
    """Only this dataset's resolved settings (never the list of all datasets)."""
    return DATASETS[wildcards.dataset]


def model_spec(wildcards):
    return ta_config.model_spec(config, wildcards.model)


def model_rule_resources(stage):
    res = config["resources"]
    return {
        "gpu": res["gpu"],
        "mem_mb": res[f"{stage}_mem_mb"],
        "runtime": res[f"{stage}_runtime"],
    }


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
    }


def all_outputs():
    outputs = expand("results/data/{dataset}/profile.json", dataset=list(DATASETS))
    for model in MODELS:
        outputs += list(matrix_outputs(model).values())
        outputs.append(f"results/matrix/{model}/delta_heatmap.png")
    return outputs
