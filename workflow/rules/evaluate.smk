# Scoring: one job per (model, adapter, target) cell (default), or with `evaluate: {job: row}`
# one job per (model, adapter) that loads the model once and writes every target's cell.

if config["evaluate"]["job"] == "cell":

    rule evaluate:
        input:
            model="results/models/{model}/model_info.json",
            eval="results/data/{target}/eval.jsonl",
            adapter=adapter_input,
            preflight=preflight_input,
        output:
            predictions="results/predictions/{model}/{adapter}/{target}.jsonl",
            score="results/scores/{model}/{adapter}/{target}.json",
        log:
            "logs/evaluate/{model}/{adapter}/{target}.log",
        benchmark:
            "benchmarks/evaluate/{model}/{adapter}/{target}.tsv"
        conda:
            "../envs/transfer-atlas.yaml"
        threads: config["resources"]["evaluate_threads"]
        resources:
            **model_rule_resources("evaluate"),
        params:
            evaluate=EVAL_SETTINGS,
            task=lambda wc: DATASETS[wc.target]["task"],
            card_overrides=lambda wc: ta_config.card_overrides(DATASETS[wc.target]),
            dtype=lambda wc: model_spec(wc)["dtype"],
        script:
            "../scripts/evaluate.py"


# evaluate.job: row -- one job per (model, adapter) scores every target with one load.
if config["evaluate"]["job"] == "row":

    rule evaluate_row:
        input:
            model="results/models/{model}/model_info.json",
            evals=expand("results/data/{target}/eval.jsonl", target=TARGETS),
            adapter=adapter_input,
            preflight=preflight_input,
        output:
            predictions=expand(
                "results/predictions/{{model}}/{{adapter}}/{target}.jsonl",
                target=TARGETS,
            ),
            scores=expand(
                "results/scores/{{model}}/{{adapter}}/{target}.json", target=TARGETS
            ),
        log:
            "logs/evaluate/{model}/{adapter}/_row.log",
        benchmark:
            "benchmarks/evaluate/{model}/{adapter}/_row.tsv"
        conda:
            "../envs/transfer-atlas.yaml"
        threads: config["resources"]["evaluate_threads"]
        resources:
            **model_rule_resources("evaluate") | {"runtime": row_runtime},
        params:
            evaluate=EVAL_SETTINGS,
            targets=TARGETS,
            tasks={t: DATASETS[t]["task"] for t in TARGETS},
            card_overrides={t: ta_config.card_overrides(DATASETS[t]) for t in TARGETS},
            dtype=lambda wc: model_spec(wc)["dtype"],
        script:
            "../scripts/evaluate_row.py"
