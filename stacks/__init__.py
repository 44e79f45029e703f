"""CDK constructs for the workbench. Imports `workbench`; `workbench` never imports this."""
