"""psinfor's dev kit: the sandboxes, the process stack, the demo and the local services they need.

Never imported by the product (`integration`, `tasks`): an import-linter contract in `make lint` says so.
"""
