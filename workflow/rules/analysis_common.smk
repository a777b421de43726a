# Lists, input functions and output sets of the analysis and report rules
# (workflow/rules/analysis.smk, report.smk). No side effects beyond checking
# config["analysis"] against the configured targets.
from transfer_atlas.analysis.common import dataset_roots, pair_kind
from transfer_atlas.analysis.pca.fit import row_set as pca_row_set
from transfer_atlas.analysis.mislabel import mislabeled_pairs
from transfer_atlas.tasks import load_card

ANALYSIS = config["analysis"]
# {dataset: root dataset}: pair kinds (direct, variant-of-parent, transfer) of every analysis.
DATASET_ROOTS = dataset_roots(DATASETS)


def card_of(name):
    spec = DATASETS[name]
    return load_card(spec["task"], ta_config.card_overrides(spec))


def task_type(name):
    return card_of(name).type


GENERATION_TARGETS = [t for t in TARGETS if task_type(t).startswith("generate")]
CLASSIFY_TARGETS = [t for t in TARGETS if task_type(t) == "classify"]
# Classification targets that also report labels parsed from generated answers (acc_generated).
GENERATED_TARGETS = [
    t
    for t in CLASSIFY_TARGETS
    if (lambda c: c.also_generate or c.metric == "acc_generated")(card_of(t))
]
CLASSIFY_SOURCES = [s for s in SOURCES if task_type(s) == "classify"]
CLASSIFY_DATASETS = [d for d in DATASETS if task_type(d) == "classify"]
SHARED_DATASETS = [d for d in TARGETS if d in SOURCES]
DEPENDENCY_TARGETS = ANALYSIS["dependency"]["targets"]
if DEPENDENCY_TARGETS is None:
    DEPENDENCY_TARGETS = GENERATION_TARGETS
for _i, _t in enumerate(DEPENDENCY_TARGETS):
    if _t not in GENERATION_TARGETS:
        raise ta_config.ConfigError(
            f"config: key 'analysis.dependency.targets.{_i}': '{_t}' is not a generation target"
        )
# Variants with `mislabel` whose clean counterpart is also a source (rule mislabel).
MISLABEL_PAIRS = mislabeled_pairs(DATASETS, SOURCES)
# PCA needs >= 2 adapters (of its row set); the Mantel test >= 3 transfer pairs.
try:
    PCA_ROWS = pca_row_set(ANALYSIS["pca"]["rows"], SOURCES, DATASETS)
except ValueError as err:
    raise ta_config.ConfigError(str(err))
RUN_PCA = len(PCA_ROWS) >= 2
RUN_MANTEL = (
    sum(pair_kind(s, t, DATASET_ROOTS) == "transfer" for s in SOURCES for t in TARGETS)
    >= 3
)


def prediction_files(model, targets=None):
    return expand(
        "results/predictions/{model}/{adapter}/{target}.jsonl",
        model=model,
        adapter=["base"] + ADAPTERS,
        target=TARGETS if targets is None else targets,
    )


def analysis_dir(model):
    return f"results/analysis/{model}"


def pca_outputs(model):
    d = f"{analysis_dir(model)}/pca"
    names = ["explained_variance", "loadings", "loading_intervals", "projections"]
    return {n: f"{d}/{n}.csv" for n in names} | {"naming": f"{d}/pca.json"}


def asymmetry_outputs(model):
    d = f"{analysis_dir(model)}/asymmetry"
    return {
        "antisymmetric": f"{d}/antisymmetric.csv",
        "pairs": f"{d}/pairs.csv",
        "summary": f"{d}/asymmetry.json",
    }


def per_target_figures(pattern, targets, caption, category, figure):
    """One report figure per target: results/analysis/{model}/<pattern with the target>."""
    flags = dict(
        caption=f"../report/{caption}.rst", category=category, subcategory="{model}"
    )
    figures = []
    for t in targets:
        labels = {"model": "{model}", "figure": f"{figure}: {t}"}
        path = f"results/analysis/{{model}}/{pattern.format(target=t)}"
        figures.append(report(path, labels=labels, **flags))
    return figures


def analysis_outputs():
    """Every analysis table and figure of the configured models, datasets and targets."""
    sim = "results/analysis/similarity"
    out = [f"{sim}/{k}_similarity.png" for k in ("style", "semantic")]
    if CLASSIFY_DATASETS:
        out.append("results/analysis/classes/input_lengths.png")
    for model in MODELS:
        d = analysis_dir(model)
        out += [f"results/matrix/{model}/flips.csv", f"{d}/flips/flips.html"]
        if RUN_PCA:
            out += list(pca_outputs(model).values())
            pngs = ("scree", "loadings", "biplot", "profiles", "stability")
            out += [f"{d}/pca/{f}.png" for f in pngs]
        if RUN_MANTEL:
            out += [
                f"{d}/similarity/mantel.csv",
                f"{d}/similarity/similarity_vs_transfer.png",
            ]
        if DEPENDENCY_TARGETS:
            out += [f"{d}/dependency/success_ratios.csv"]
        if GENERATION_TARGETS:
            out += [f"{d}/length/lengths.csv", f"{d}/length/kde.png"]
        if CLASSIFY_TARGETS:
            out += [f"{d}/classes/shift.csv"]
        if GENERATED_TARGETS:
            out += [f"{d}/classes/distribution_generated.csv"]
        if MISLABEL_PAIRS:
            out.append(f"{d}/mislabel/clean_vs_mislabeled.png")
        if len(SHARED_DATASETS) >= 2:
            out += list(asymmetry_outputs(model).values()) + [
                f"{d}/asymmetry/asymmetry.png"
            ]
    return out


def summary_paths(model):
    """Named inputs of the summary for one model (only the analyses that run)."""
    d = analysis_dir(model)
    paths = {
        "delta": f"results/matrix/{model}/delta.csv",
        "flips": f"results/matrix/{model}/flips.csv",
        "provenance": f"results/matrix/{model}/provenance.json",
    }
    if RUN_PCA:
        paths["explained_variance"] = pca_outputs(model)["explained_variance"]
        paths["naming"] = pca_outputs(model)["naming"]
    if RUN_MANTEL:
        paths["mantel"] = f"{d}/similarity/mantel.csv"
    if DEPENDENCY_TARGETS:
        paths["dependency"] = f"{d}/dependency/success_ratios.csv"
    if GENERATION_TARGETS:
        paths["length_correlation"] = f"{d}/length/correlation.csv"
        paths["lengths"] = f"{d}/length/lengths.csv"
    if GENERATED_TARGETS:
        paths["generated_labels"] = f"{d}/classes/distribution_generated.csv"
    if MISLABEL_PAIRS:
        paths["mislabel"] = f"{d}/mislabel/clean_vs_mislabeled.csv"
    paths["predict"] = f"{d}/predict/validation.csv"  # workflow/rules/predict.smk
    if len(SHARED_DATASETS) >= 2:
        paths["asymmetry_pairs"] = asymmetry_outputs(model)["pairs"]
        paths["asymmetry_summary"] = asymmetry_outputs(model)["summary"]
    return paths


def collection_summary_paths(collection):
    """Named inputs of the summary's transfer-roles block of one collection."""
    folder = across_folder(collection)
    paths = {t: f"{folder}/{t}.csv" for t in ACROSS_TABLES}
    paths["regimes"] = f"results/analysis/{collection}/transfer_roles/regimes.csv"
    if collection == "external":  # workflow/rules/predict.smk
        paths["predict"] = "results/analysis/external/predict/validation.csv"
    return paths


def summary_inputs(wildcards):
    paths = [p for model in own_models() for p in summary_paths(model).values()]
    return paths + [
        p for c in collections() for p in collection_summary_paths(c).values()
    ]
