rule prepare_data:
    output:
        train="results/data/{dataset}/train.jsonl",
        eval="results/data/{dataset}/eval.jsonl",
    log:
        "logs/prepare_data/{dataset}.log",
    benchmark:
        "benchmarks/prepare_data/{dataset}.tsv"
    conda:
        "../envs/transfer-atlas.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        spec=dataset_spec,
    script:
        "../scripts/prepare_data.py"


rule profile_data:
    input:
        train="results/data/{dataset}/train.jsonl",
        eval="results/data/{dataset}/eval.jsonl",
        models=expand("results/models/{model}/model_info.json", model=MODELS),
    output:
        "results/data/{dataset}/profile.json",
    log:
        "logs/profile_data/{dataset}.log",
    benchmark:
        "benchmarks/profile_data/{dataset}.tsv"
    conda:
        "../envs/transfer-atlas.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/profile_data.py"
