"""The local web interface (`dirkit serve`): a second front end beside the CLI, calling the same ops."""
