# Scoring: one job per (model, adapter, target) cell (default), or with `evaluate: {job: row}`
# one job per (model, adapter) that loads the model once and writes every target's cell.
# Params: result settings only (the same for both rules). The target's task and prompt
# reach the job through its eval.jsonl (prepare_data's params), the card via the config.

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
            "../../envs/transfer-atlas.yaml"
        threads: config["resources"]["evaluate_threads"]
        resources:
            **model_rule_resources("evaluate"),
        params:
            settings=evaluate_settings,
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
            "../../envs/transfer-atlas.yaml"
        threads: config["resources"]["evaluate_threads"]
        resources:
            **model_rule_resources("evaluate"),
        params:
            settings=evaluate_settings,
        script:
            "../scripts/evaluate_row.py"
