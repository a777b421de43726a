"""Transfer roles (the Donors and Recipients study): everything behind workflow/rules/transfer_roles.smk.

  pairs       the pairs table (model x source x target with regime and pair kind)
  external    import of an external release table into a pairs table
  regimes     transfer by regime (MT-ML / MT-CL / CT-ML / CT-CL)      <- rule regimes
  donors      donor and recipient scores, group heatmaps              <- rule donors
  all_models  every model side by side and their agreement            <- rule transfer_roles_all_models
  figures     the figures of the modules above

Each rule's script calls the `run()` of its module.
"""
