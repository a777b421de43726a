# Transfer prediction (issue 17): predict Δ cells before training them, validated
# leave-one-source-out / -cell-out / -model-out, with intervals, and rank the `candidates`
# (datasets prepared and described but not trained) by predicted gain and by how much
# training them would teach. Model `external` = the table in config `external_results`.
# Code: src/transfer_atlas/analysis/predict/ (the script calls run() or run_external()).


rule predict_transfer:
    input:
        unpack(predict_input),
    output:
        validation=report(
            "results/analysis/{model}/predict/validation.csv",
            caption="../report/predict.rst",
            category="Transfer prediction",
            subcategory="{model}",
        ),
        predictions="results/analysis/{model}/predict/predictions.csv",
        next_sources="results/analysis/{model}/predict/next_sources.csv",
        figure=report(
            "results/analysis/{model}/predict/predicted_vs_observed.png",
            caption="../report/predict.rst",
            category="Transfer prediction",
            subcategory="{model}",
        ),
    log:
        "logs/predict_transfer/{model}.log",
    benchmark:
        "benchmarks/predict_transfer/{model}.tsv"
    conda:
        "../../envs/transfer-atlas.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        models=MODELS,
        described=SOURCES + PREDICT_CANDIDATES,
        datasets=predict_datasets(),
        settings=PREDICT | {"positive_threshold": TRANSFER_ROLES["positive_threshold"]},
        roles=transfer_roles_settings,
        seed=config["analysis"]["seed"],
    script:
        "../scripts/predict_transfer.py"
