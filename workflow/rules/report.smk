# The key numbers of every analysis as Markdown (results/report/summary.md). The HTML
# report is Snakemake's: `snakemake --report results/report.html` collects every figure
# wrapped in report(...) with its caption (workflow/report/*.rst), grouped by category.


rule report:
    input:
        summary_inputs,
    output:
        report(
            "results/report/summary.md",
            caption="../report/summary.rst",
            category="Summary",
            labels={"figure": "key numbers (Markdown)"},
        ),
    log:
        "logs/report/summary.log",
    benchmark:
        "benchmarks/report/summary.tsv"
    conda:
        "../../envs/transfer-atlas.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        paths={model: summary_paths(model) for model in own_models()},
        collections={c: collection_summary_paths(c) for c in collections()},
        settings=ANALYSIS["report"],
        roots=DATASET_ROOTS,
    script:
        "../scripts/report_summary.py"
