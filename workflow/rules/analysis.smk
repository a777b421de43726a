# Analyses that explain the transfer matrix (the Latent Traits study): latent traits
# (PCA), dataset similarity vs transfer (Mantel), dependency relations, output lengths,
# class distributions, asymmetry. Tables (CSV/JSON) and figures under results/analysis/.
# Settings: config["analysis"] (documented in workflow/schemas/config.schema.yaml).
include: "analysis_common.smk"


rule spacy_parse:
    input:
        train="results/data/{dataset}/train.jsonl",
        eval="results/data/{dataset}/eval.jsonl",
    output:
        train="results/analysis/spacy/{dataset}/train.jsonl",
        eval="results/analysis/spacy/{dataset}/eval.jsonl",
    log:
        "logs/spacy_parse/{dataset}.log",
    benchmark:
        "benchmarks/spacy_parse/{dataset}.tsv"
    conda:
        "../../envs/transfer-atlas.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        train_sample=ANALYSIS["style"]["sample_size"],
        seed=ANALYSIS["seed"],
    script:
        "../scripts/spacy_parse.py"


rule style_similarity:
    input:
        expand("results/analysis/spacy/{dataset}/train.jsonl", dataset=list(DATASETS)),
    output:
        features="results/analysis/similarity/style_features.csv",
        similarity="results/analysis/similarity/style_similarity.csv",
        heatmap=report(
            "results/analysis/similarity/style_similarity.png",
            caption="../report/style_similarity.rst",
            category="Similarity",
            subcategory="all datasets",
            labels={"figure": "style similarity"},
        ),
    log:
        "logs/style_similarity/style_similarity.log",
    benchmark:
        "benchmarks/style_similarity/style_similarity.tsv"
    conda:
        "../../envs/transfer-atlas.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        datasets=list(DATASETS),
        standardize=ANALYSIS["style"]["standardize"],
    script:
        "../scripts/style_similarity.py"


rule embed_prompts:
    input:
        "results/data/{dataset}/train.jsonl",
    output:
        vectors="results/analysis/similarity/embeddings/{dataset}.npy",
        ids="results/analysis/similarity/embeddings/{dataset}.json",
    log:
        "logs/embed_prompts/{dataset}.log",
    benchmark:
        "benchmarks/embed_prompts/{dataset}.tsv"
    conda:
        "../../envs/transfer-atlas.yaml"
    threads: 2
    resources:
        mem_mb=3000,
        runtime=20,
    params:
        settings=rerun_settings(config, "analysis.semantic"),
        seed=ANALYSIS["seed"],
    script:
        "../scripts/embed_prompts.py"


rule semantic_similarity:
    input:
        expand(
            "results/analysis/similarity/embeddings/{dataset}.npy",
            dataset=list(DATASETS),
        ),
    output:
        similarity="results/analysis/similarity/semantic_similarity.csv",
        heatmap=report(
            "results/analysis/similarity/semantic_similarity.png",
            caption="../report/semantic_similarity.rst",
            category="Similarity",
            subcategory="all datasets",
            labels={"figure": "semantic similarity"},
        ),
    log:
        "logs/semantic_similarity/semantic_similarity.log",
    benchmark:
        "benchmarks/semantic_similarity/semantic_similarity.tsv"
    conda:
        "../../envs/transfer-atlas.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        datasets=list(DATASETS),
    script:
        "../scripts/semantic_similarity.py"


rule similarity_vs_transfer:
    input:
        style="results/analysis/similarity/style_similarity.csv",
        semantic="results/analysis/similarity/semantic_similarity.csv",
        delta="results/matrix/{model}/delta.csv",
    output:
        stats="results/analysis/{model}/similarity/mantel.csv",
        pairs="results/analysis/{model}/similarity/pairs.csv",
        scatter=report(
            "results/analysis/{model}/similarity/similarity_vs_transfer.png",
            caption="../report/similarity_vs_transfer.rst",
            category="Similarity",
            subcategory="{model}",
            labels={"model": "{model}", "figure": "similarity vs transfer (Mantel)"},
        ),
    log:
        "logs/similarity_vs_transfer/{model}.log",
    benchmark:
        "benchmarks/similarity_vs_transfer/{model}.tsv"
    conda:
        "../../envs/transfer-atlas.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        mantel=ANALYSIS["mantel"],
        seed=ANALYSIS["seed"],
        roots=DATASET_ROOTS,
    script:
        "../scripts/similarity_vs_transfer.py"


rule pca:
    input:
        delta="results/matrix/{model}/delta.csv",
        predictions=lambda wc: prediction_files(wc.model),
    output:
        **pca_outputs("{model}"),
        scree=report(
            "results/analysis/{model}/pca/scree.png",
            caption="../report/pca_scree.rst",
            category="Latent traits (PCA)",
            subcategory="{model}",
            labels={"model": "{model}", "figure": "1. scree plot"},
        ),
        loadings_heatmap=report(
            "results/analysis/{model}/pca/loadings.png",
            caption="../report/pca_loadings.rst",
            category="Latent traits (PCA)",
            subcategory="{model}",
            labels={"model": "{model}", "figure": "2. loadings"},
        ),
        biplot=report(
            "results/analysis/{model}/pca/biplot.png",
            caption="../report/pca_biplot.rst",
            category="Latent traits (PCA)",
            subcategory="{model}",
            labels={"model": "{model}", "figure": "4. biplot"},
        ),
        profiles=report(
            "results/analysis/{model}/pca/profiles.png",
            caption="../report/pca_profiles.rst",
            category="Latent traits (PCA)",
            subcategory="{model}",
            labels={"model": "{model}", "figure": "5. trait profiles"},
        ),
        stability=report(
            "results/analysis/{model}/pca/stability.png",
            caption="../report/pca_stability.rst",
            category="Latent traits (PCA)",
            subcategory="{model}",
            labels={"model": "{model}", "figure": "3. loading stability"},
        ),
    log:
        "logs/pca/{model}.log",
    benchmark:
        "benchmarks/pca/{model}.tsv"
    conda:
        "../../envs/transfer-atlas.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        pca=ANALYSIS["pca"],
        seed=ANALYSIS["seed"],
        rows=PCA_ROWS,
    script:
        "../scripts/pca.py"


rule dependency_analysis:
    input:
        parses=expand(
            "results/analysis/spacy/{target}/eval.jsonl", target=DEPENDENCY_TARGETS
        ),
        predictions=lambda wc: prediction_files(wc.model, DEPENDENCY_TARGETS),
    output:
        table="results/analysis/{model}/dependency/success_ratios.csv",
        figures=per_target_figures(
            "dependency/{target}.png",
            DEPENDENCY_TARGETS,
            "dependency",
            "Dependency relations",
            "success ratios",
        ),
    log:
        "logs/dependency_analysis/{model}.log",
    benchmark:
        "benchmarks/dependency_analysis/{model}.tsv"
    conda:
        "../../envs/transfer-atlas.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        targets=DEPENDENCY_TARGETS,
        dependency=ANALYSIS["dependency"],
        seed=ANALYSIS["seed"],
    script:
        "../scripts/dependency_analysis.py"


rule length_analysis:
    input:
        predictions=lambda wc: prediction_files(wc.model, GENERATION_TARGETS),
        sources=expand("results/data/{source}/train.jsonl", source=SOURCES),
        references=expand("results/data/{target}/eval.jsonl", target=GENERATION_TARGETS),
        delta="results/matrix/{model}/delta.csv",
    output:
        table="results/analysis/{model}/length/lengths.csv",
        correlation="results/analysis/{model}/length/correlation.csv",
        kde=report(
            "results/analysis/{model}/length/kde.png",
            caption="../report/length_kde.rst",
            category="Output length",
            subcategory="{model}",
            labels={"model": "{model}", "figure": "length distributions (KDE)"},
        ),
        scatter=report(
            "results/analysis/{model}/length/length_vs_delta.png",
            caption="../report/length_vs_delta.rst",
            category="Output length",
            subcategory="{model}",
            labels={"model": "{model}", "figure": "length distance vs transfer"},
        ),
        interpolation=report(
            "results/analysis/{model}/length/interpolation.png",
            caption="../report/length_interpolation.rst",
            category="Output length",
            subcategory="{model}",
            labels={"model": "{model}", "figure": "interpolation coefficients"},
        ),
        source_reference=report(
            "results/analysis/{model}/length/source_reference_vs_delta.png",
            caption="../report/length_source_reference.rst",
            category="Output length",
            subcategory="{model}",
            labels={"model": "{model}", "figure": "source vs target answer lengths"},
        ),
    log:
        "logs/length_analysis/{model}.log",
    benchmark:
        "benchmarks/length_analysis/{model}.tsv"
    conda:
        "../../envs/transfer-atlas.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        sources=SOURCES,
        targets=GENERATION_TARGETS,
        roots=DATASET_ROOTS,
    script:
        "../scripts/length_analysis.py"


rule class_analysis:
    input:
        scores=lambda wc: score_files(wc.model, targets=CLASSIFY_TARGETS),
        profiles=expand("results/data/{source}/profile.json", source=CLASSIFY_SOURCES),
        delta="results/matrix/{model}/delta.csv",
    output:
        confusion="results/analysis/{model}/classes/confusion.csv",
        distribution="results/analysis/{model}/classes/distribution.csv",
        shift="results/analysis/{model}/classes/shift.csv",
        confusion_figures=per_target_figures(
            "classes/{target}/confusion.png",
            CLASSIFY_TARGETS,
            "class_confusion",
            "Class distributions",
            "confusion matrices",
        ),
        distribution_figures=per_target_figures(
            "classes/{target}/distribution.png",
            CLASSIFY_TARGETS,
            "class_distribution",
            "Class distributions",
            "label distributions",
        ),
    log:
        "logs/class_analysis/{model}.log",
    benchmark:
        "benchmarks/class_analysis/{model}.tsv"
    conda:
        "../../envs/transfer-atlas.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        targets=CLASSIFY_TARGETS,
        sources=CLASSIFY_SOURCES,
    script:
        "../scripts/class_analysis.py"


rule class_generated:
    input:
        predictions=lambda wc: prediction_files(wc.model, GENERATED_TARGETS),
    output:
        confusion="results/analysis/{model}/classes/confusion_generated.csv",
        distribution="results/analysis/{model}/classes/distribution_generated.csv",
        confusion_figures=per_target_figures(
            "classes/{target}/confusion_generated.png",
            GENERATED_TARGETS,
            "class_confusion_generated",
            "Class distributions",
            "confusion matrices of generated labels",
        ),
        distribution_figures=per_target_figures(
            "classes/{target}/distribution_generated.png",
            GENERATED_TARGETS,
            "class_distribution_generated",
            "Class distributions",
            "generated-label distributions",
        ),
    log:
        "logs/class_generated/{model}.log",
    benchmark:
        "benchmarks/class_generated/{model}.tsv"
    conda:
        "../../envs/transfer-atlas.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        labels={t: list(card_of(t).labels) for t in GENERATED_TARGETS},
    script:
        "../scripts/class_generated.py"


rule class_input_lengths:
    input:
        expand("results/data/{dataset}/train.jsonl", dataset=CLASSIFY_DATASETS),
    output:
        table="results/analysis/classes/input_lengths.csv",
        figure=report(
            "results/analysis/classes/input_lengths.png",
            caption="../report/class_input_lengths.rst",
            category="Class distributions",
            subcategory="all datasets",
            labels={"figure": "label-wise prompt lengths"},
        ),
    log:
        "logs/class_input_lengths/class_input_lengths.log",
    benchmark:
        "benchmarks/class_input_lengths/class_input_lengths.tsv"
    conda:
        "../../envs/transfer-atlas.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        datasets=CLASSIFY_DATASETS,
    script:
        "../scripts/class_input_lengths.py"


rule asymmetry:
    input:
        "results/matrix/{model}/delta.csv",
    output:
        **asymmetry_outputs("{model}"),
        heatmap=report(
            "results/analysis/{model}/asymmetry/asymmetry.png",
            caption="../report/asymmetry.rst",
            category="Asymmetry",
            subcategory="{model}",
            labels={"model": "{model}", "figure": "antisymmetric part"},
        ),
        blocks="results/analysis/{model}/asymmetry/blocks.csv",
        blocks_figure=report(
            "results/analysis/{model}/asymmetry/blocks.png",
            caption="../report/asymmetry_blocks.rst",
            category="Asymmetry",
            subcategory="{model}",
            labels={"model": "{model}", "figure": "task-type blocks"},
        ),
    log:
        "logs/asymmetry/{model}.log",
    benchmark:
        "benchmarks/asymmetry/{model}.tsv"
    conda:
        "../../envs/transfer-atlas.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        roots=DATASET_ROOTS,
        types={d: task_type(d) for d in DATASETS},
    script:
        "../scripts/asymmetry.py"
