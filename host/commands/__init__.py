"""The verbs of the crossbox command line: one module each, with main(args) -> exit status.

cli.py imports a verb's module only when that verb runs.
"""
