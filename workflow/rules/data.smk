# One job per split: the params are the settings that split depends on, so changing a
# target's n_eval rebuilds its eval split only (no training job).
rule prepare_data:
    output:
        "results/data/{dataset}/{split}.jsonl",
    log:
        "logs/prepare_data/{dataset}/{split}.log",
    benchmark:
        "benchmarks/prepare_data/{dataset}/{split}.tsv"
    conda:
        "../../envs/transfer-atlas.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        spec=lambda wc: data.split_spec(DATASETS[wc.dataset], wc.split),
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
        "../../envs/transfer-atlas.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/profile_data.py"
