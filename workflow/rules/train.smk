rule train_lora:
    input:
        model="results/models/{model}/model_info.json",
        train="results/data/{source}/train.jsonl",
        preflight=preflight_input,
    output:
        directory("results/adapters/{model}/{source}/seed{seed}"),
    log:
        "logs/train_lora/{model}/{source}/seed{seed}.log",
    benchmark:
        "benchmarks/train_lora/{model}/{source}/seed{seed}.tsv"
    conda:
        "../../envs/transfer-atlas.yaml"
    threads: config["resources"]["train_threads"]
    resources:
        **model_rule_resources("train"),
    params:
        settings=train_settings,
        checkpoints="results/checkpoints/{model}/{source}/seed{seed}",
    script:
        "../scripts/train_lora.py"
