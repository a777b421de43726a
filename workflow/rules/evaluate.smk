rule evaluate:
    input:
        model="results/models/{model}/model_info.json",
        eval="results/data/{target}/eval.jsonl",
        adapter=adapter_input,
    output:
        predictions="results/predictions/{model}/{adapter}/{target}.jsonl",
        score="results/scores/{model}/{adapter}/{target}.json",
    log:
        "logs/evaluate/{model}/{adapter}/{target}.log",
    benchmark:
        "benchmarks/evaluate/{model}/{adapter}/{target}.tsv"
    threads: config["resources"]["evaluate_threads"]
    resources:
        **model_rule_resources("evaluate"),
    params:
        evaluate=config["evaluate"],
        task=lambda wc: DATASETS[wc.target]["task"],
        card_overrides=lambda wc: ta_config.card_overrides(DATASETS[wc.target]),
        dtype=lambda wc: model_spec(wc)["dtype"],
    script:
        "../scripts/evaluate.py"
