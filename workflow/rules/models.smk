rule prepare_model:
    output:
        "results/models/{model}/model_info.json",
    params:
        spec=model_spec,
    log:
        "logs/prepare_model/{model}.log",
    benchmark:
        "benchmarks/prepare_model/{model}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        "../scripts/prepare_model.py"
