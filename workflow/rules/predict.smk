# Transfer prediction (issue 17): predict Δ cells before training them, validated
# leave-one-source-out / -cell-out / -model-out, with intervals, and rank the `candidates`
# (datasets prepared and described but not trained) by predicted gain and by how much
# training them would teach. Model `external` = the table in config `external_results`.
# Code: src/transfer_atlas/analysis/predict/ (the script calls run() or run_external()).

PREDICT = ANALYSIS["predict"]
PREDICT_CANDIDATES = list(PREDICT["candidates"])
for _i, _c in enumerate(PREDICT_CANDIDATES):
    if _c not in DATASETS or _c in SOURCES:
        raise ta_config.ConfigError(
            f"config: key 'analysis.predict.candidates.{_i}': '{_c}' must be a dataset that is no source"
        )
for _i, _t in enumerate(PREDICT["targets"] or []):
    if _t not in TARGETS:
        raise ta_config.ConfigError(
            f"config: key 'analysis.predict.targets.{_i}': '{_t}' is not a target"
        )


def predict_models():
    """Models with predict outputs: ours (unless external_only) and `external`."""
    return own_models() + (["external"] if config.get("external_results") else [])


def predict_input(wildcards):
    if wildcards.model == "external":
        return {"table": config["external_results"], "languages": LANGUAGES_CSV}
    described = SOURCES + PREDICT_CANDIDATES
    return {
        "delta": f"results/matrix/{wildcards.model}/delta.csv",
        "deltas": expand("results/matrix/{model}/delta.csv", model=MODELS),
        "matrix": f"results/matrix/{wildcards.model}/matrix.csv",
        "profiles": expand("results/data/{dataset}/profile.json", dataset=described),
        "style": "results/analysis/similarity/style_similarity.csv",
        "semantic": "results/analysis/similarity/semantic_similarity.csv",
        "languages": LANGUAGES_CSV,
    }


def predict_datasets():
    """{dataset: {type, language, root}} of the sources and candidates."""
    return {
        d: {
            "type": task_type(d),
            "language": DATASETS[d].get("language") or "und",
            "root": DATASET_ROOTS[d],
        }
        for d in SOURCES + PREDICT_CANDIDATES
    }


def predict_outputs():
    out = []
    for model in predict_models():
        d = f"results/analysis/{model}/predict"
        out += [
            f"{d}/{f}"
            for f in ("validation.csv", "predictions.csv", "next_sources.csv")
        ]
        out.append(f"{d}/predicted_vs_observed.png")
    return out


rule predict_transfer:
    input:
        unpack(predict_input),
    output:
        validation=report(
            "results/analysis/{model}/predict/validation.csv",
            caption="../report/predict.rst",
            category="Transfer prediction",
            subcategory="{model}",
        ),
        predictions="results/analysis/{model}/predict/predictions.csv",
        next_sources="results/analysis/{model}/predict/next_sources.csv",
        figure=report(
            "results/analysis/{model}/predict/predicted_vs_observed.png",
            caption="../report/predict.rst",
            category="Transfer prediction",
            subcategory="{model}",
        ),
    log:
        "logs/predict_transfer/{model}.log",
    benchmark:
        "benchmarks/predict_transfer/{model}.tsv"
    conda:
        "../envs/transfer-atlas.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        models=MODELS,
        described=SOURCES + PREDICT_CANDIDATES,
        datasets=predict_datasets(),
        settings=PREDICT | {"positive_threshold": TRANSFER_ROLES["positive_threshold"]},
        roles=TRANSFER_ROLES,
        seed=config["analysis"]["seed"],
    script:
        "../scripts/predict_transfer.py"
