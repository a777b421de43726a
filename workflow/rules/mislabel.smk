# Clean vs mislabeled sources (the Latent Traits study's Amazon vs Amazon-mislabeled): for
# every source variant with `mislabel` and its clean counterpart, scores and harm per target.


rule mislabel:
    input:
        "results/matrix/{model}/matrix.csv",
    output:
        table="results/analysis/{model}/mislabel/clean_vs_mislabeled.csv",
        figure=report(
            "results/analysis/{model}/mislabel/clean_vs_mislabeled.png",
            caption="../report/mislabel.rst",
            category="Class distributions",
            subcategory="{model}",
            labels={"model": "{model}", "figure": "clean vs mislabeled sources"},
        ),
    log:
        "logs/mislabel/{model}.log",
    benchmark:
        "benchmarks/mislabel/{model}.tsv"
    conda:
        "../../envs/transfer-atlas.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        datasets={
            name: {k: spec.get(k) for k in ("parent", "mislabel")}
            for name, spec in DATASETS.items()
        },
        sources=SOURCES,
    script:
        "../scripts/mislabel.py"
