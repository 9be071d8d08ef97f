"""Training runs as a user sees them: settings and recipes, the run directory, training a
run (images or a table), evaluating it on the test split, comparing models, the report."""
