"""psinfor: PrestaShop ⇄ Infor ERP integration library (knows nothing of Celery)."""

__version__ = "0.1.0"
