"""Task kinds: one module per kind (run, shell, workflow, extract, model, check, http)."""
