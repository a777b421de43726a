rule assemble_matrix:
    input:
        lambda wc: score_files(wc.model),
    output:
        **matrix_outputs("{model}"),
        heatmap=report(
            "results/matrix/{model}/delta_heatmap.png",
            caption="../report/delta_heatmap.rst",
            category="Transfer matrix",
        ),
    log:
        "logs/assemble_matrix/{model}.log",
    benchmark:
        "benchmarks/assemble_matrix/{model}.tsv"
    conda:
        "../../envs/transfer-atlas.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        sources=SOURCES,
        targets=TARGETS,
    script:
        "../scripts/assemble_matrix.py"
