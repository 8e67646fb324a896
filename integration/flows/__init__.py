"""The flows: one module each (``orders``, ``order_status``...), listed in ``registry.FLOWS``."""
