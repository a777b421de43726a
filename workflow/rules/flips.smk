# Looking inside a cell: the examples whose correctness each adapter flipped against the
# base model (gains and losses), counts per cell in the matrix folder and a browsable page.


rule flips:
    input:
        predictions=lambda wc: prediction_files(wc.model),
    output:
        counts="results/matrix/{model}/flips.csv",
        figure=report(
            "results/matrix/{model}/flips.png",
            caption="../report/flips_counts.rst",
            category="Inside the cells",
            subcategory="{model}",
            labels={"model": "{model}", "figure": "1. gains and losses per cell"},
        ),
        examples="results/analysis/{model}/flips/examples.csv",
        page=report(
            "results/analysis/{model}/flips/flips.html",
            caption="../report/flips_page.rst",
            category="Inside the cells",
            subcategory="{model}",
            labels={"model": "{model}", "figure": "2. flipped examples (cell picker)"},
        ),
    log:
        "logs/flips/{model}.log",
    benchmark:
        "benchmarks/flips/{model}.tsv"
    conda:
        "../../envs/transfer-atlas.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        flips=ANALYSIS["flips"],
    script:
        "../scripts/flips.py"
