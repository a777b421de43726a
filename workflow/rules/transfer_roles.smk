# Donors and recipients (arXiv 2511.13368): regimes MT-ML / MT-CL / CT-ML / CT-CL of every
# (source, target) pair by task and language, donor and recipient scores, and their
# agreement across base models. Model `external` = the table in config `external_results`.
# `all_models` is no model: its files come from the last rule.
# Rule across_models compares the models of one collection (ours = `all_models`, or the
# external table's = `external`; never pooled): language (MT-CL) and task (CT-ML) roles with
# the SE across models, consistency index, variance decomposition, hierarchy, on/off task.
# Code: src/transfer_atlas/analysis/transfer_roles/ (rule regimes -> regimes.py, donors ->
# donors.py, transfer_roles_all_models -> all_models.py, across_models -> across_models.py;
# each script calls that module's run()).


ruleorder: transfer_roles_all_models > regimes
ruleorder: transfer_roles_all_models > donors


rule regimes:
    input:
        regimes_input,
    output:
        pairs="results/analysis/{model}/transfer_roles/pairs.csv",
        regimes=report(
            "results/analysis/{model}/transfer_roles/regimes.csv",
            caption="../report/regimes.rst",
            category="Donors and recipients",
            subcategory="{model}",
        ),
        figure=report(
            "results/analysis/{model}/transfer_roles/regimes.png",
            caption="../report/regimes.rst",
            category="Donors and recipients",
            subcategory="{model}",
        ),
    log:
        "logs/regimes/{model}.log",
    benchmark:
        "benchmarks/regimes/{model}.tsv"
    conda:
        "../../envs/transfer-atlas.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        roles=dataset_roles(),
        settings=transfer_roles_settings,
        seed=config["analysis"]["seed"],
        meta=regime_meta,
    script:
        "../scripts/regimes.py"


rule donors:
    input:
        "results/analysis/{model}/transfer_roles/pairs.csv",
    output:
        **donors_tables("{model}"),
        language_heatmap_png=report(
            "results/analysis/{model}/transfer_roles/language_heatmap.png",
            caption="../report/donors_language_heatmap.rst",
            category="Donors and recipients",
            subcategory="{model}",
        ),
        task_heatmap_png=report(
            "results/analysis/{model}/transfer_roles/task_heatmap.png",
            caption="../report/donors_task_heatmap.rst",
            category="Donors and recipients",
            subcategory="{model}",
        ),
        scatter=report(
            "results/analysis/{model}/transfer_roles/donor_recipient_scatter.png",
            caption="../report/donors_scatter.rst",
            category="Donors and recipients",
            subcategory="{model}",
        ),
    log:
        "logs/donors/{model}.log",
    benchmark:
        "benchmarks/donors/{model}.tsv"
    conda:
        "../../envs/transfer-atlas.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        settings=transfer_roles_settings,
        seed=config["analysis"]["seed"],
    script:
        "../scripts/donors.py"


rule transfer_roles_all_models:
    input:
        expand(
            "results/analysis/{model}/transfer_roles/pairs.csv",
            model=own_models(),
        ),
    output:
        regimes="results/analysis/all_models/transfer_roles/regimes.csv",
        donors="results/analysis/all_models/transfer_roles/donors.csv",
        recipients="results/analysis/all_models/transfer_roles/recipients.csv",
        consistency="results/analysis/all_models/transfer_roles/role_consistency.csv",
        regimes_png=report(
            "results/analysis/all_models/transfer_roles/regimes.png",
            caption="../report/regimes.rst",
            category="Donors and recipients",
            subcategory="all models",
        ),
        consistency_png=report(
            "results/analysis/all_models/transfer_roles/role_consistency.png",
            caption="../report/donors_consistency.rst",
            category="Donors and recipients",
            subcategory="all models",
        ),
    log:
        "logs/transfer_roles_all_models/all.log",
    benchmark:
        "benchmarks/transfer_roles_all_models/all.tsv"
    conda:
        "../../envs/transfer-atlas.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        settings=transfer_roles_settings,
        seed=config["analysis"]["seed"],
    script:
        "../scripts/transfer_roles_all_models.py"


rule across_models:
    input:
        pairs=collection_pairs,
        languages=LANGUAGES_CSV,
    output:
        **{
            t: f"results/analysis/{{collection}}/transfer_roles/across_models/{t}.csv"
            for t in ACROSS_TABLES
        },
        roles_png=across_report("roles", "across_roles", "language and task roles"),
        language_heatmap_png=across_report(
            "language_heatmap",
            "across_language_heatmap",
            "language x language (MT-CL)",
        ),
        task_heatmap_png=across_report(
            "task_heatmap", "across_task_heatmap", "task x task (CT-ML)"
        ),
        consistency_png=across_report(
            "consistency", "across_consistency", "consistency index (Kendall τ-b)"
        ),
        variance_png=across_report(
            "variance", "across_variance", "variance decomposition"
        ),
        hierarchy_png=across_report("hierarchy", "across_hierarchy", "hierarchy"),
        on_off_task_png=across_report(
            "on_off_task", "across_on_off_task", "on-task vs off-task"
        ),
    log:
        "logs/across_models/{collection}.log",
    benchmark:
        "benchmarks/across_models/{collection}.tsv"
    conda:
        "../../envs/transfer-atlas.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        settings=transfer_roles_settings,
        seed=config["analysis"]["seed"],
    script:
        "../scripts/across_models.py"
