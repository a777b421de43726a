rule prepare_model:
    output:
        "results/models/{model}/model_info.json",
    log:
        "logs/prepare_model/{model}.log",
    benchmark:
        "benchmarks/prepare_model/{model}.tsv"
    conda:
        "../envs/transfer-atlas.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        spec=model_spec,
    script:
        "../scripts/prepare_model.py"
