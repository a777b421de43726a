# Settings, checks and input functions of workflow/rules/predict.smk (functions live apart
# from rules, as `snakemake --lint` asks).

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
