"""The Celery layer: thin tasks that bind the flows' plain step functions to queues and a retry policy."""
