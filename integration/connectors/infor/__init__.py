"""Infor connector: ION API credentials and token, the M3 MI REST client, and the M3 business calls.

``ionapi`` (credentials, shared token), ``m3`` (call, parse, bulk, errors), ``orders``, ``customers``,
``items``, ``stock``. The field-length metadata ships in ``m3_metadata.json``.
"""

from integration.connectors.infor.errors import (
    BatchOrderRejected,
    FieldTooLong,
    InforAuthError,
    InforTransientError,
    M3Error,
    ServerReturnedNOK,
    WriteOutcomeUnknown,
)
from integration.connectors.infor.ionapi import IonApiCredentials, TokenProvider
from integration.connectors.infor.m3 import BulkResult, M3Client

__all__ = [
    "BatchOrderRejected",
    "BulkResult",
    "FieldTooLong",
    "InforAuthError",
    "InforTransientError",
    "IonApiCredentials",
    "M3Client",
    "M3Error",
    "ServerReturnedNOK",
    "TokenProvider",
    "WriteOutcomeUnknown",
]
