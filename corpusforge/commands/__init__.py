"""Thin subcommand modules: parse arguments, load the config, call one library function, print the result."""
